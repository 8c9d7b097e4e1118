// The row safety net over HTTP (CONTRACT.md): the row trash and restore, a row's history
// and revert, a table's recent changes, and the console's Undo. Everything is read from
// PostgreSQL on each request (never cached): every instance shows the same at once.
// Registered before routes/rows.ts, whose /tables/:id/rows/:rid would take "trash".
import type { Request, Response } from 'express';
import { allows } from '../../auth/roles.js';
import type { AppContext } from '../../context.js';
import { fmt } from '../../console/format.js';
import { badRequest } from '../../errors.js';
import { parsePage, recentChanges, rowHistory, entryJson, type Entry } from '../../history/entries.js';
import { revertRow, undoAction, undoRequest } from '../../history/revert.js';
import { listRowTrash, restoreIds, restoreRows } from '../../history/row_trash.js';
import { writeContext } from '../../history/stamp.js';
import type { Model } from '../../model/compile.js';
import { asArray, idParam } from '../../schema/input.js';
import { answerKind, reply } from '../negotiate.js';
import { answerRowPage, relationOid, wantsPage } from '../row_page.js';
import { route } from '../route.js';
import { gridLocals } from './grid_page.js';
import { rowsChanged, useModel } from './rows.js';
import { body } from './schema_deps.js';

const rowId = (req: Request) => idParam(req.params.rid, 'rid');

const canWrite = (req: Request, model: Model) => allows(req.caller?.role, 'editor') && !model.table.read_only;

function entryId(b: Record<string, unknown>): number {
  const raw = b.entry;
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw > 0) return raw;
  if (typeof raw === 'string' && /^\d{1,18}$/.test(raw.trim())) return Number(raw.trim());
  throw badRequest('entry: the id of a history entry of this row', 'entry');
}

async function trashLocals(ctx: AppContext, req: Request, model: Model, extra: Record<string, unknown> = {}) {
  const listing = await listRowTrash(ctx.pool, model, req.query as Record<string, unknown>);
  const base = `/tables/${model.tableId}/rows/trash`;
  return {
    title: `Deleted rows of ${model.table.name}`,
    section: 'tables',
    fmt,
    table: model.table,
    listing,
    pageHref: (p: number) => `${base}?page=${p}${listing.size !== 50 ? `&size=${listing.size}` : ''}`,
    editable: canWrite(req, model),
    ...extra,
  };
}

async function answerTrash(ctx: AppContext, req: Request, res: Response, model: Model, json: unknown, notice?: string) {
  const locals = await trashLocals(ctx, req, model, { notice });
  await reply(req, res, { json, page: 'row_trash', fragment: 'row_trash', redirect: `/tables/${model.tableId}/rows/trash`, locals });
}

async function changesLocals(ctx: AppContext, req: Request, model: Model) {
  const q = req.query as Record<string, unknown>;
  const page = parsePage({ before: q.before, limit: q.limit ?? '20' });
  const out = await recentChanges(ctx.pool, model.tableId, page);
  const base = `/tables/${model.tableId}/changes`;
  return { title: `Changes to ${model.table.name}`, section: 'tables', fmt, table: model.table, entries: out.entries, olderHref: out.next ? `${base}?before=${out.next}&limit=${page.limit}` : null };
}

const json = (e: Entry[]) => e.map(entryJson);

export const rowHistoryRoutes = [
  route('get', '/tables/:id/rows/trash', 'viewer', 'the row trash: deleted rows, newest first (page, size): {rows:[{id, deleted_at, deleted_by, values}]}', async (ctx, req, res) => {
    const locals = await useModel(ctx, req, (model) => trashLocals(ctx, req, model));
    const { rows, count, count_exact, page, size, next } = locals.listing;
    await reply(req, res, {
      json: { rows: rows.map(({ shown: _shown, ...r }) => r), count, count_exact, page, size, next },
      page: 'row_trash',
      fragment: 'row_trash',
      locals,
    });
  }),

  route('post', '/tables/:id/rows/restore', 'editor', 'restore rows from the row trash: {"ids": [...]}, all or none', async (ctx, req, res) => {
    const raw = Array.isArray(req.body) ? req.body : body(req).ids;
    const ids = restoreIds(asArray(raw) ?? raw);
    await useModel(ctx, req, async (model) => {
      const out = await restoreRows(ctx.pool, ctx.config.dataSchema, model, ids, writeContext(req));
      req.log.info({ tableId: model.tableId, rows: ids.slice(0, 100), count: ids.length, links: out.links_restored, actor: writeContext(req).actor }, 'rows restored from the row trash');
      rowsChanged(ctx, req, 'create', ids);
      await answerTrash(ctx, req, res, model, out, `Restored row${ids.length > 1 ? 's' : ''} ${ids.slice(0, 20).join(', ')}${out.links_restored ? ` (and ${out.links_restored} link${out.links_restored > 1 ? 's' : ''} to ${ids.length > 1 ? 'them' : 'it'})` : ''}.`);
    });
  }),

  route('post', '/tables/:id/rows/undo', 'editor', "undo one's own action on rows: request (its X-Request-Id), rows; refused when someone changed them since", async (ctx, req, res) => {
    const ask = undoRequest(body(req));
    await useModel(ctx, req, async (model) => {
      const out = await undoAction(ctx.pool, ctx.config.dataSchema, model, ask, writeContext(req));
      req.log.info({ tableId: model.tableId, undone: ask.request, rows: out.rows.slice(0, 100), entries: out.undone, actor: writeContext(req).actor }, 'row action undone');
      rowsChanged(ctx, req, 'update', out.rows);
      const grid = answerKind(req) === 'fragment' ? await gridLocals(ctx, req, { notice: out.summary }) : undefined;
      await reply(req, res, { json: out, fragment: 'grid', locals: { grid }, redirect: `/tables/${model.tableId}` });
    });
  }),

  route('get', '/tables/:id/changes', 'viewer', "a table's latest row changes, newest first (before, limit): {entries, next}", async (ctx, req, res) => {
    const locals = await useModel(ctx, req, (model) => changesLocals(ctx, req, model));
    await reply(req, res, { json: { entries: json(locals.entries), next: locals.olderHref ? String(locals.entries.at(-1)!.id) : null }, page: 'changes', fragment: 'recent_changes', locals });
  }),

  route('get', '/tables/:id/rows/:rid/history', 'viewer', "a row's history, newest first (before, limit): {entries:[{id, at, actor, op, changes:{column:{old, new}}}], next}", async (ctx, req, res) => {
    const id = rowId(req);
    if (wantsPage(req)) return void res.redirect(303, `/tables/${idParam(req.params.id)}/rows/${id}`);
    const out = await useModel(ctx, req, async (model) => rowHistory(ctx.pool, model.tableId, id, parsePage(req.query as Record<string, unknown>), await relationOid(ctx, model)));
    res.json({ entries: json(out.entries), next: out.next });
  }),

  route('post', '/tables/:id/rows/:rid/restore', 'editor', 'restore a row from the row trash: the row, with its id', async (ctx, req, res) => {
    const id = rowId(req);
    await useModel(ctx, req, async (model) => {
      const out = await restoreRows(ctx.pool, ctx.config.dataSchema, model, [id], writeContext(req));
      req.log.info({ tableId: model.tableId, rows: [id], links: out.links_restored, actor: writeContext(req).actor }, 'rows restored from the row trash');
      rowsChanged(ctx, req, 'create', [id]);
      const notice = `Row ${id} restored${out.links_restored ? `, with ${out.links_restored} link${out.links_restored > 1 ? 's' : ''} to it` : ''}${out.skipped[id] ? `; gone with their fields: ${out.skipped[id]!.join(', ')}` : ''}.`;
      if (req.get('HX-Target') === 'row-detail' || wantsPage(req)) return answerRowPage(ctx, req, res, model, id, { json: out.rows[0], notice });
      await answerTrash(ctx, req, res, model, out.rows[0], notice);
    });
  }),

  route('post', '/tables/:id/rows/:rid/revert', 'editor', 'put a row back as it was before a history entry (entry): the row (or {id, deleted: true})', async (ctx, req, res) => {
    const id = rowId(req);
    const entry = entryId(body(req));
    await useModel(ctx, req, async (model) => {
      const out = await revertRow(ctx.pool, ctx.config.dataSchema, model, id, entry, writeContext(req));
      req.log.info({ tableId: model.tableId, row: id, entry, deleted: out.row === null, actor: writeContext(req).actor }, 'row reverted');
      rowsChanged(ctx, req, out.row ? 'update' : 'delete', [id]);
      const notice = out.row ? `Row ${id} is back as it was before change ${entry}.` : `Row ${id} did not exist before change ${entry}: it is in the row trash now.`;
      await answerRowPage(ctx, req, res, model, id, { json: out.row ?? { id, deleted: true }, notice: out.skipped.length ? `${notice} Gone with their fields: ${out.skipped.join(', ')}.` : notice });
    });
  }),
];
