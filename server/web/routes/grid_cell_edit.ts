// One cell of the console grid at a time: the cell as shown, its editor (an input for the
// field's type), and saving it (PATCH with value=...), which answers the cell again or the
// editor with the message beside it. The grid page itself (query, rows, add/delete) is
// grid_page.ts.
import type { Request } from 'express';
import type { AppContext } from '../../context.js';
import { AppError, notFound } from '../../errors.js';
import type { Model, ModelField } from '../../model/compile.js';
import { getRow, updateRow, writeTarget, type Row } from '../../model/rows.js';
import { idParam } from '../../schema/input.js';
import { writeContext } from '../../history/stamp.js';
import { cellView, editorView } from '../grid_view.js';
import { linkPicker, linkValueFromLabel } from '../link_picker.js';
import { answerKind, reply } from '../negotiate.js';
import { route } from '../route.js';
import { canEdit, fieldInfo, formValue, rowId, undoOffer } from './grid_page.js';
import { rowsChanged, useModel } from './rows.js';
import { body } from './schema_deps.js';

const browserPage = (req: Request) => answerKind(req) === 'page';

function cellField(model: Model, column: unknown): ModelField {
  const f = typeof column === 'string' ? model.byColumn.get(column) : undefined;
  if (!f) throw notFound(`field "${String(column).slice(0, 60)}" of table "${model.table.name}"`);
  return f;
}

function cellLocals(req: Request, model: Model, f: ModelField, row: Row) {
  return {
    tableId: model.tableId,
    rowId: row.id as number,
    field: fieldInfo(f),
    view: cellView(f, row[f.column]),
    editable: canEdit(req) && !model.table.read_only && !f.meta.read_only,
  };
}

async function editorLocals(ctx: AppContext, model: Model, f: ModelField, row: Row, sent?: { value: string; checked?: boolean; error: string }) {
  const editor = editorView(f, row[f.column], await linkPicker(ctx, f));
  if (sent) Object.assign(editor, { value: editor.input === 'checkbox' ? 'true' : sent.value, checked: sent.checked });
  return { tableId: model.tableId, rowId: row.id as number, field: fieldInfo(f), editor, error: sent?.error ?? null };
}



export const gridCellRoutes = [
  route('get', '/tables/:id/rows/:rid/cells/:column', 'viewer', 'one cell of the grid, as shown', async (ctx, req, res) => {
    const locals = await useModel(ctx, req, async (model) => {
      const f = cellField(model, req.params.column);
      return cellLocals(req, model, f, await getRow(ctx.pool, model, rowId(req)));
    });
    if (browserPage(req)) return void res.redirect(303, `/tables/${locals.tableId}`);
    await reply(req, res, { json: { value: locals.view }, fragment: 'grid_cell', locals });
  }),

  route('get', '/tables/:id/rows/:rid/cells/:column/edit', 'editor', "one cell's editor (an input for its type)", async (ctx, req, res) => {
    const locals = await useModel(ctx, req, async (model) => {
      writeTarget(model); // no editor for a table that takes no writes
      const f = cellField(model, req.params.column);
      return editorLocals(ctx, model, f, await getRow(ctx.pool, model, rowId(req)));
    });
    await reply(req, res, { json: { editor: locals.editor }, fragment: 'grid_cell_edit', page: 'cell_edit', locals: { ...locals, title: `Edit ${locals.field.name}` } });
  }),

  route('patch', '/tables/:id/rows/:rid/cells/:column', 'editor', "save one cell (value=...); answers the cell, or its editor with the message (422)", async (ctx, req, res) => {
    const b = body(req);
    const raw = formValue(b.value);
    const id = rowId(req);
    const done = await useModel(ctx, req, async (model) => {
      const f = cellField(model, req.params.column);
      // A checkbox sends nothing when cleared: a boolean cell without "value" is false.
      const value = f.meta.type === 'boolean' && raw === undefined ? 'false' : raw ?? '';
      try {
        // A link cell takes the linked row's label as well as its id (link_picker.ts).
        const row = await updateRow(ctx.pool, model, id, { [f.column]: await linkValueFromLabel(ctx, f, value, 'value') }, writeContext(req));
        return { ok: true as const, row, locals: { ...cellLocals(req, model, f, row), undo: undoOffer(req, [id], `${f.meta.name} of row ${id} saved.`) } };
      } catch (err) {
        if (!(err instanceof AppError) || err.status === 404 || err.status >= 500 || err.code === 'unknown_field' || err.code === 'read_only') throw err;
        const row = await getRow(ctx.pool, model, id);
        const sent = { value: typeof value === 'string' ? value : JSON.stringify(value), checked: value === 'true', error: err.message };
        return { ok: false as const, err, locals: await editorLocals(ctx, model, f, row, sent) };
      }
    });
    if (done.ok) {
      rowsChanged(ctx, req, 'update', [id]);
      // The cell, and (out of band, into the flash area) the notice with its Undo.
      await reply(req, res, { json: done.row, fragment: 'grid_cell_saved', redirect: `/tables/${idParam(req.params.id)}`, locals: done.locals });
      return;
    }
    await reply(req, res, {
      status: done.err.status,
      json: done.err.toJSON(),
      fragment: 'grid_cell_edit',
      page: 'cell_edit',
      locals: { ...done.locals, title: `Edit ${done.locals.field.name}` },
    });
  }),
];
