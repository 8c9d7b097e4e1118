// The row page (/tables/:id/rows/:rid in a browser): the row's fields, or that it is in the
// row trash, and its history newest first with a revert button per entry. Scripts asking
// the same URL get the row as JSON (routes/rows.ts).
import type { Request, Response } from 'express';
import { allows } from '../auth/roles.js';
import type { AppContext } from '../context.js';
import { fmt } from '../console/format.js';
import { AppError, notFound } from '../errors.js';
import { parsePage, rowHistory } from '../history/entries.js';
import type { Model } from '../model/compile.js';
import { getRow, type Row } from '../model/rows.js';
import { cellView } from './grid_view.js';
import { answerKind, reply } from './negotiate.js';

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
    editable: allows(req.caller?.role, 'editor') && !model.table.read_only,
    ...extra,
  };
}

/** The row page, whole or (htmx) its detail section; JSON answers `json` (the row by default). */
export async function answerRowPage(ctx: AppContext, req: Request, res: Response, model: Model, id: number, opts: { status?: number; json?: unknown; notice?: string } = {}) {
  const locals = await rowPageLocals(ctx, req, model, id, { notice: opts.notice });
  await reply(req, res, { status: opts.status, json: opts.json ?? locals.row, page: 'row', fragment: 'row_detail', redirect: `/tables/${model.tableId}/rows/${id}`, locals });
}
