// Rows of a user table (CONTRACT.md). Reads need viewer, writes editor. Each handler
// gets the table's compiled model from the cache and calls one row operation.
import type { Request } from 'express';
import type { AppContext } from '../../context.js';
import { withTransaction } from '../../db/tx.js';
import { AppError } from '../../errors.js';
import { ModelCache, withModel } from '../../model/cache.js';
import { listChoices } from '../../model/choices.js';
import type { Model } from '../../model/compile.js';
import { createRowJson, createRows, deleteRow, deleteRows, getRow, listRows, listRowsJson, updateRow, updateRows, type ListRequest } from '../../model/rows.js';
import { idParam } from '../../schema/input.js';
import { choiceOption } from '../grid_view.js';
import { answerKind, reply } from '../negotiate.js';
import { route } from '../route.js';
import { announceRows, type RowsAnnouncement } from '../../live/announce.js';
import { actorName } from '../../auth/caller.js';
import { body } from './schema_deps.js';
import { answerRowPage, saveRowForm, wantsPage } from '../row_page.js';
import { withFlash } from '../flash.js';
import { writeContext } from '../../history/stamp.js';
import { shapeRow, throughView, viewFor } from './views.js';
import { isSheetBody, writeSheet } from '../../model/rows_sheet.js';

export function modelsOf(ctx: AppContext): ModelCache {
  if (!ctx.models) throw new AppError(503, 'not_ready', 'the model cache is not ready yet');
  return ctx.models;
}

export const useModel = <T>(ctx: AppContext, req: Request, fn: (model: Model) => Promise<T>): Promise<T> =>
  withModel(modelsOf(ctx), idParam(req.params.id), fn);

/** The list parameters as the query string carries them. */
export function listRequest(req: Request): ListRequest {
  const q = req.query as Record<string, unknown>;
  return { filter: q.filter, search: q.search, sort: q.sort, size: q.size, page: q.page, after: q.after, count: q.count };
}

const rowId = (req: Request) => idParam(req.params.rid, 'rid');

/** After a committed write: consoles watching this table (on any instance) refresh. */
export function rowsChanged(ctx: AppContext, req: Request, op: RowsAnnouncement['op'], rowIds?: number[]): void {
  announceRows(ctx.pool, () => req.log ?? ctx.log, { tableId: idParam(req.params.id), op, rowIds, actor: actorName(req.caller), instance: ctx.instanceId, requestId: req.id === undefined ? undefined : String(req.id) });
}

export const rowRoutes = [
  route('get', '/tables/:id/rows', 'viewer', 'list rows: size, page or after, sort=col,-col, filter[col][op]=v, search, count, view (a saved view; the other parameters narrow it)', async (ctx, req, res) => {
    const result = await useModel(ctx, req, async (model) => {
      const v = await viewFor(ctx, req, model);
      if (!v) return listRowsJson(ctx.pool, model, listRequest(req));
      const listed = await listRows(ctx.pool, model, throughView(listRequest(req), v.resolved));
      return { ...listed, rows: listed.rows.map((r) => shapeRow(r, model, v.resolved)), view: { id: v.view.id, name: v.view.name, problems: v.resolved.problems } };
    });
    res.json(result);
  }),

  route('post', '/tables/:id/rows', 'editor', 'create a row ({column: value}), or rows (a JSON list, at most 1000, all or nothing)', async (ctx, req, res) => {
    const b = req.body as unknown;
    if (Array.isArray(b) || (b && typeof b === 'object' && Array.isArray((b as { rows?: unknown }).rows))) {
      const rows = await useModel(ctx, req, (model) => withTransaction(ctx.pool, (tx) => createRows(tx, model, b, writeContext(req))));
      rowsChanged(ctx, req, 'create', rows.map((r) => r.id as number));
      res.status(201).json({ rows });
      return;
    }
    const row = await useModel(ctx, req, (model) => createRowJson(ctx.pool, model, body(req), writeContext(req)));
    rowsChanged(ctx, req, 'create', [row.id as number]);
    res.location(`/tables/${req.params.id}/rows/${row.id}`);
    await reply(req, res, { status: 201, json: row.json, redirect: `/tables/${req.params.id}` });
  }),

  route('patch', '/tables/:id/rows', 'editor', 'update rows: a JSON list of {id, column: value}, at most 1000, all or nothing; or {rows: [...], create: [...]} to add rows in the same transaction (a pasted range)', async (ctx, req, res) => {
    if (isSheetBody(req.body)) {
      const done = await useModel(ctx, req, (model) => withTransaction(ctx.pool, (tx) => writeSheet(tx, model, req.body, writeContext(req))));
      if (done.rows.length) rowsChanged(ctx, req, 'update', done.rows.map((r) => r.id as number));
      if (done.created.length) rowsChanged(ctx, req, 'create', done.created.map((r) => r.id as number));
      res.json(done);
      return;
    }
    const rows = await useModel(ctx, req, (model) => withTransaction(ctx.pool, (tx) => updateRows(tx, model, req.body, writeContext(req))));
    rowsChanged(ctx, req, 'update', rows.map((r) => r.id as number));
    res.json({ rows });
  }),

  route('delete', '/tables/:id/rows', 'editor', 'delete rows: {"ids": [...]}, at most 1000, all or nothing; they go to the row trash', async (ctx, req, res) => {
    const ids = await useModel(ctx, req, (model) => withTransaction(ctx.pool, (tx) => deleteRows(tx, model, req.body, writeContext(req))));
    rowsChanged(ctx, req, 'delete', ids);
    res.json({ deleted: ids.length, ids });
  }),

  // Before /tables/:id/rows/:rid, which would take "choices" for a row id.
  route('get', '/tables/:id/rows/choices', 'viewer', 'rows as choices for a link picker: q (label contains, or an id), size 1..50', async (ctx, req, res) => {
    const q = req.query as Record<string, unknown>;
    const choices = await useModel(ctx, req, (model) => listChoices(ctx.pool, model, { q: q.q, size: q.size }));
    // htmx swaps the <option>s into the picker's <datalist>; everyone else gets JSON.
    await reply(req, res, { json: { choices }, fragment: 'grid_choices', locals: { options: choices.map(choiceOption) } });
  }),

  route('get', '/tables/:id/rows/:rid', 'viewer', 'one row (in a browser: the row page, with its history)', async (ctx, req, res) => {
    if (wantsPage(req)) return void (await useModel(ctx, req, (model) => answerRowPage(ctx, req, res, model, rowId(req))));
    res.json(await useModel(ctx, req, (model) => getRow(ctx.pool, model, rowId(req))));
  }),

  route('patch', '/tables/:id/rows/:rid', 'editor', 'update a row: only the columns sent change (a form from the row page: those that differ)', async (ctx, req, res) => {
    if (answerKind(req) === 'page' && req.is('application/x-www-form-urlencoded')) {
      const saved = await useModel(ctx, req, (model) => saveRowForm(ctx, req, res, model, rowId(req), body(req)));
      if (saved) rowsChanged(ctx, req, 'update', [rowId(req)]);
      return;
    }
    const row = await useModel(ctx, req, (model) => updateRow(ctx.pool, model, rowId(req), body(req), writeContext(req)));
    rowsChanged(ctx, req, 'update', [rowId(req)]);
    await reply(req, res, { json: row, redirect: `/tables/${req.params.id}` });
  }),

  route('delete', '/tables/:id/rows/:rid', 'editor', 'delete a row (204): it goes to the row trash', async (ctx, req, res) => {
    await useModel(ctx, req, (model) => deleteRow(ctx.pool, model, rowId(req), writeContext(req)));
    rowsChanged(ctx, req, 'delete', [rowId(req)]);
    await reply(req, res, { status: 204, json: null, redirect: withFlash(`/tables/${req.params.id}`, 'row_deleted', rowId(req)) });
  }),
];
