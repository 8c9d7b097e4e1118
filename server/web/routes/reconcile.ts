// The drift report and its actions (server/introspect). Admin only: it shows and changes
// the schema.
import type { Request, Response } from 'express';
import type { AppContext } from '../../context.js';
import { applyAction, checkAction } from '../../introspect/actions.js';
import { REBUILD_TABLE } from '../../jobs/handlers.js';
import { enqueueJob } from '../../jobs/queue.js';
import { flag } from '../../schema/input.js';
import { estimatedRows } from '../../schema/metadata.js';
import type { DriftReport } from '../../introspect/drift.js';
import { summarise } from '../../introspect/monitor.js';
import { reconcile } from '../../introspect/reconcile.js';
import { reply } from '../negotiate.js';
import { route } from '../route.js';
import { answerQueued } from './jobs.js';
import { actorOf, body, editorDeps } from './schema_deps.js';
import { trashPanel } from './trash.js';

export const reconcileDeps = (ctx: AppContext) => ({ ...editorDeps(ctx), config: ctx.config });

export function reportJson(r: DriftReport) {
  return { clean: r.clean, checked_at: r.checked_at, counts: r.counts, items: r.items, ignored: r.ignored, catalog: r.catalog, in_flight: r.in_flight ?? [], ms: { snapshot: Math.round(r.ms.snapshot), compare: Math.round(r.ms.compare) } };
}

async function driftPanel(ctx: AppContext, req: Request, res: Response, status: number, json: unknown, report: DriftReport, notice?: string) {
  await reply(req, res, { status, json, page: 'drift', fragment: 'drift_panel', redirect: '/reconcile', locals: { title: 'Drift', report, notice, drift: summarise(report) } });
}

export const reconcileRoutes = [
  route('get', '/reconcile', 'admin', 'the drift report: where the catalog and the metadata disagree, with the actions that resolve each item', async (ctx, req, res) => {
    const report = await reconcile(reconcileDeps(ctx));
    ctx.drift?.accept(report);
    await driftPanel(ctx, req, res, 200, reportJson(report), report);
  }),

  route(
    'post',
    '/reconcile/actions',
    'admin',
    'resolve a drift item: item, action (recreate|forget|adopt|adopt_link|ignore|unignore|purge|accept|revert|restore|rebuild), table_name?, column?, name?, reverse_name?, add_unique?, confirm?, confirm_loss?, note?; a rebuild of a table past JOB_THRESHOLD_ROWS (or async=1) runs as a job (202)',
    async (ctx, req, res) => {
      const b = body(req);
      if (b.action === 'rebuild') {
        // A rebuild copies every row: on a big table, long work for a job.
        const { item } = await checkAction(reconcileDeps(ctx), { item: b.item, action: b.action });
        const tableId = item.table!.id!;
        const rows = await estimatedRows(ctx.pool, tableId);
        if (flag(b.async ?? req.query.async, 'async') ?? rows > ctx.config.jobThresholdRows) {
          await answerQueued(ctx, req, res, await enqueueJob(ctx.pool, { kind: REBUILD_TABLE, tableId, payload: { tableId }, actor: actorOf(req).name, total: rows }));
          return;
        }
      }
      const out = await applyAction(reconcileDeps(ctx), actorOf(req), {
        item: b.item, action: b.action, table_name: b.table_name, column: b.column, name: b.name, reverse_name: b.reverse_name, add_unique: b.add_unique, confirm: b.confirm, confirm_loss: b.confirm_loss, note: b.note,
      });
      const report = await reconcile(reconcileDeps(ctx));
      ctx.drift?.accept(report);
      const json = { item: out.item.id, kind: out.item.kind, action: out.action, result: out.result, drift: { clean: report.clean, items: report.items.length, counts: report.counts } };
      const notice = `${out.action} applied to ${out.item.kind.replace(/_/g, ' ')}.`;
      if (b.return_to === 'trash') return trashPanel(ctx, req, res, 200, json, notice);
      await driftPanel(ctx, req, res, 200, json, report, notice);
    },
  ),
];
