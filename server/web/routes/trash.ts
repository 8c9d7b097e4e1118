// The trash (server/trash): listing with ages and sizes, restore, purge with a
// confirmation naming what is dropped, and the retention cleanup on demand. Admin only.
import type { Request, Response } from 'express';
import type { AppContext } from '../../context.js';
import { restoreField } from '../../schema/fields.js';
import { flag, idParam } from '../../schema/input.js';
import { restoreTable } from '../../schema/tables.js';
import { runCleanup } from '../../trash/cleanup.js';
import { TRASH_CLEANUP } from '../../jobs/handlers.js';
import { enqueueJob } from '../../jobs/queue.js';
import { answerQueued } from './jobs.js';
import { listTrash, purgeField, purgeTable } from '../../trash/trash.js';
import { reply } from '../negotiate.js';
import { route } from '../route.js';
import { actorOf, body, editorDeps } from './schema_deps.js';

const trashDeps = (ctx: AppContext) => ({ ...editorDeps(ctx), config: ctx.config });

export async function trashPanel(ctx: AppContext, req: Request, res: Response, status: number, json: unknown, notice?: string, extra: Record<string, unknown> = {}) {
  const listing = await listTrash(trashDeps(ctx));
  await reply(req, res, { status, json, page: 'trash', fragment: 'trash_panel', redirect: '/trash', locals: { title: 'Trash', listing, notice, cleanup: null, ...extra } });
}

export const trashRoutes = [
  route('get', '/trash', 'admin', 'trashed tables and fields and untracked objects, with age, row count and size on disk', async (ctx, req, res) => {
    const listing = await listTrash(trashDeps(ctx));
    await reply(req, res, { json: listing, page: 'trash', fragment: 'trash_panel', locals: { title: 'Trash', listing, cleanup: null } });
  }),

  route('post', '/trash/cleanup', 'admin', 'purge what is older than TRASH_RETENTION: dry_run=1 lists it only', async (ctx, req, res) => {
    const b = body(req);
    const dryRun = flag(b.dry_run ?? req.query.dry_run, 'dry_run') ?? false;
    if (!dryRun && (flag(b.async ?? req.query.async, 'async') ?? false)) {
      // A big purge as a job: progress (objects done of total) at /jobs/:id.
      await answerQueued(ctx, req, res, await enqueueJob(ctx.pool, { kind: TRASH_CLEANUP, payload: {}, actor: actorOf(req).name }));
      return;
    }
    const result = await runCleanup(trashDeps(ctx), { dryRun, actor: actorOf(req) });
    const n = result.purged.length;
    const notice = dryRun
      ? `Dry run: ${n} object${n === 1 ? '' : 's'} would be purged.`
      : `Cleanup: ${n} object${n === 1 ? '' : 's'} purged${result.skipped.length ? `, ${result.skipped.length} skipped` : ''}.`;
    await trashPanel(ctx, req, res, 200, result, notice, { cleanup: result });
  }),

  route('post', '/trash/tables/:id/purge', 'admin', 'drop a trashed table for good: confirm = its schema.name (the answer to a request without it says which)', async (ctx, req, res) => {
    const id = idParam(req.params.id);
    const out = await purgeTable(trashDeps(ctx), actorOf(req), id, { confirm: body(req).confirm });
    await trashPanel(ctx, req, res, 200, out, `Dropped ${out.purged}.`);
  }),

  route('post', '/trash/fields/:fid/purge', 'admin', 'drop a trashed field\'s column for good: confirm = its schema.table.column', async (ctx, req, res) => {
    const fid = idParam(req.params.fid, 'fid');
    const out = await purgeField(trashDeps(ctx), actorOf(req), fid, { confirm: body(req).confirm });
    await trashPanel(ctx, req, res, 200, out, `Dropped ${out.purged}.`);
  }),

  route('post', '/trash/tables/:id/restore', 'admin', 'restore a trashed table (as POST /tables/:id/restore), answering with the trash', async (ctx, req, res) => {
    const id = idParam(req.params.id);
    const b = body(req);
    const out = await restoreTable(editorDeps(ctx), actorOf(req), id, { name: b.name, table_name: b.table_name });
    await trashPanel(ctx, req, res, 200, out, 'Table restored.');
  }),

  route('post', '/trash/fields/:fid/restore', 'admin', 'restore a trashed field (as POST /tables/:id/fields/:fid/restore), answering with the trash', async (ctx, req, res) => {
    const fid = idParam(req.params.fid, 'fid');
    const { rows } = await ctx.pool.query<{ table_id: number }>(`SELECT table_id FROM tablewright.fields WHERE id = $1`, [fid]);
    const tableId = rows[0]?.table_id ?? 0;
    const b = body(req);
    const out = await restoreField(editorDeps(ctx), actorOf(req), tableId, fid, { name: b.name, column: b.column });
    await trashPanel(ctx, req, res, 200, out, out.warnings.length ? `Field restored; ${out.warnings.join('; ')}.` : 'Field restored.');
  }),
];
