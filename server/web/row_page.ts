// The row page (/tables/:id/rows/:rid in a browser): the row's fields, or that it is in the
// row trash, and its history newest first with a revert button per entry. Scripts asking
// the same URL get the row as JSON (routes/rows.ts).
import type { Request, Response } from 'express';
import { allows } from '../auth/roles.js';
import type { AppContext } from '../context.js';
import { fmt } from '../console/format.js';
import { AppError, notFound } from '../errors.js';
import { parsePage, rowHistory } from '../history/entries.js';
import type { Model, ModelField } from '../model/compile.js';
import { getRow, type Row } from '../model/rows.js';
import { cellView, editorView, type EditorView, type LinkPicker } from './grid_view.js';
import { answerKind, reply } from './negotiate.js';
import { linkPicker, linkValueFromLabel } from './link_picker.js';
import { getRow as readRow, updateRow } from '../model/rows.js';
import { writeContext } from '../history/stamp.js';
import { withFlash } from './flash.js';
import { renderView } from './render.js';

/** A browser asking for a page; scripts (curl sends Accept: * / *) get JSON. */
export const wantsPage = (req: Request) => answerKind(req) === 'page' && (req.get('Accept') ?? '').includes('text/html');

/** The newest trash entry of a row: when and by whom it was deleted (undefined: not in the trash). */
async function trashedAs(ctx: AppContext, model: Model, id: number) {
  const { rows } = await ctx.pool.query<{ deleted_at: Date; deleted_by: string }>(
    `SELECT deleted_at, deleted_by FROM tablewright.row_trash WHERE table_id = $1 AND row_id = $2 ORDER BY id DESC LIMIT 1`,
    [model.tableId, id],
  );
  return rows[0];
}

export async function relationOid(ctx: AppContext, model: Model): Promise<number | null> {
  const { rows } = await ctx.pool.query<{ oid: number | null }>(`SELECT to_regclass($1)::oid::int8 AS oid`, [model.relation]);
  return rows[0]?.oid == null ? null : Number(rows[0].oid);
}

async function rowPageLocals(ctx: AppContext, req: Request, model: Model, id: number, extra: Record<string, unknown> = {}) {
  const row: Row | null = await getRow(ctx.pool, model, id).catch((err: unknown) => {
    if (err instanceof AppError && err.status === 404) return null;
    throw err;
  });
  const [trashed, history] = await Promise.all([
    row ? Promise.resolve(undefined) : trashedAs(ctx, model, id),
    relationOid(ctx, model).then((oid) => rowHistory(ctx.pool, model.tableId, id, parsePage(req.query as Record<string, unknown>), oid)),
  ]);
  if (!row && !trashed && history.entries.length === 0) throw notFound(`row ${id} of table "${model.table.name}"`);
  const base = `/tables/${model.tableId}/rows/${id}`;
  const editable = allows(req.caller?.role, 'editor') && !model.table.read_only && model.rowId;
  // The form: every field with an input for its type (read-only ones as text), holding
  // what was sent when a save was refused.
  const sent = extra.formValues as Record<string, unknown> | undefined;
  const inputs = row && editable
    ? await Promise.all(
        model.fields.map(async (f) => {
          const editor: EditorView = rowEditor(f, row[f.column], f.link ? await linkPicker(ctx, f) : undefined);
          if (sent && f.column in sent) {
            const v = formValue(sent[f.column]);
            if (editor.input === 'checkbox') editor.checked = v === 'true';
            else editor.value = typeof v === 'string' ? v : '';
          }
          return { column: f.column, name: f.meta.name, label: f.type.label, readOnly: f.meta.read_only, view: cellView(f, row[f.column]), editor };
        }),
      )
    : [];
  return {
    title: `Row ${id} of ${model.table.name}`,
    section: 'tables',
    fmt,
    table: model.table,
    rowId: id,
    row,
    cells: row ? model.fields.map((f) => ({ name: f.meta.name, column: f.column, view: cellView(f, row[f.column]) })) : [],
    trashed,
    entries: history.entries,
    olderHref: history.next ? `${base}?before=${history.next}` : null,
    newestHref: req.query.before ? base : null,
    editable,
    inputs,
    ...extra,
  };
}

/**
 * The row form's input for a field. A yes/no field that may be empty is three-state (empty,
 * yes, no): a checkbox has two states, so saving the form would turn an empty value into
 * false. A required one keeps its checkbox.
 */
export function rowEditor(f: ModelField, value: unknown, picker?: LinkPicker): EditorView {
  if (f.meta.type === 'boolean' && !f.meta.not_null) {
    return {
      input: 'select',
      value: value === true ? 'true' : value === false ? 'false' : '',
      choices: [{ value: '', label: '(empty)' }, { value: 'true', label: 'yes' }, { value: 'false', label: 'no' }],
    };
  }
  return editorView(f, value, picker);
}

/** A form value: the last of repeated inputs (a hidden "false" before a checkbox). */
/**
 * A <select multiple> (a multiple select) is sent after a hidden input holding a lone
 * comma, so the form says "this list, maybe empty" without JS: its values are the chosen
 * options' ids, read back as comma-separated (a comma is no label's and no id's).
 */
export const MULTIPLE_MARK = ',';

export const formValue = (v: unknown): unknown => (Array.isArray(v) ? (v[0] === MULTIPLE_MARK ? v.slice(1).map(String).join(',') : v[v.length - 1]) : v === MULTIPLE_MARK ? '' : v);

/**
 * What a row form changes: the fields it sent whose value differs from the row's (as the
 * editor showed it), so that saving a form untouched writes nothing, and a value shown
 * rounded (a datetime to the second) is not rewritten.
 */
export function formChanges(model: Model, row: Row, sent: Record<string, unknown>): Record<string, unknown> {
  const changes: Record<string, unknown> = {};
  for (const f of model.fields) {
    if (f.meta.read_only || !(f.column in sent)) continue;
    const v = formValue(sent[f.column]);
    const shown = rowEditor(f, row[f.column]);
    if (shown.input === 'checkbox') {
      const checked = v === 'true';
      if (checked !== (shown.checked === true)) changes[f.column] = checked ? 'true' : 'false';
      continue;
    }
    let text = typeof v === 'string' ? v : '';
    // A browser sends a textarea's line breaks as CRLF whatever was typed: compared and
    // saved as LF, so that saving a long text untouched does not rewrite its line ends.
    if (shown.input === 'textarea') {
      text = text.replace(/\r\n/g, '\n');
      if (text === shown.value.replace(/\r\n/g, '\n')) continue;
    }
    if (text !== shown.value) changes[f.column] = text;
  }
  return changes;
}

/** The row page, whole or (htmx) its detail section; JSON answers `json` (the row by default). */
export async function answerRowPage(ctx: AppContext, req: Request, res: Response, model: Model, id: number, opts: { status?: number; json?: unknown; notice?: string; formError?: { message: string; field?: string }; formValues?: Record<string, unknown> } = {}) {
  const locals = await rowPageLocals(ctx, req, model, id, { notice: opts.notice, formError: opts.formError, formValues: opts.formValues });
  await reply(req, res, { status: opts.status, json: opts.json ?? locals.row, page: 'row', fragment: 'row_detail', redirect: `/tables/${model.tableId}/rows/${id}`, locals });
}

/**
 * The row form posted without JavaScript (POST with _method=PATCH): saves what changed and
 * answers 303 to the row page with a notice; a refused value shows the page again (status
 * 422 or 409) with the message beside its field and what was typed. Answers whether it saved.
 */
export async function saveRowForm(ctx: AppContext, req: Request, res: Response, model: Model, id: number, sent: Record<string, unknown>): Promise<boolean> {
  const row = await readRow(ctx.pool, model, id);
  const changes = formChanges(model, row, sent);
  const back = `/tables/${model.tableId}/rows/${id}`;
  if (Object.keys(changes).length === 0) {
    res.redirect(303, withFlash(back, 'row_unchanged', id));
    return false;
  }
  try {
    // A link field takes its row's label as well as its id (link_picker.ts).
    for (const f of model.fields) if (f.column in changes) changes[f.column] = await linkValueFromLabel(ctx, f, changes[f.column], f.column);
    await updateRow(ctx.pool, model, id, changes, writeContext(req));
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500 || err.status === 404) throw err;
    const locals = await rowPageLocals(ctx, req, model, id, { formError: { message: err.message, field: err.field }, formValues: sent });
    res.vary('Accept').vary('HX-Request');
    res.status(err.status).type('html').send(await renderView('pages/row', { ...res.locals, ...locals }, { layout: true }));
    return false;
  }
  res.redirect(303, withFlash(back, 'row_saved', id));
  return true;
}
