// Indexes and UNIQUE constraints over several fields (server/schema/table_indexes.ts):
// /tables/:id/indexes (unique or not) and /tables/:id/constraints (the unique ones).
import type { Request, Response } from 'express';
import type { AppContext } from '../../context.js';
import { asArray, flag, idParam } from '../../schema/input.js';
import { listFields } from '../../schema/metadata.js';
import { ONLINE_CHANGE } from '../../schema/online/run.js';
import { chooseOnline } from '../../schema/plan.js';
import { enqueueJob } from '../../jobs/queue.js';
import { estimatedRows } from '../../schema/metadata.js';
import { acceptTableIndexJob, createTableIndex, dropTableIndex, listTableIndexes, planTableIndex, tableIndexJson } from '../../schema/table_indexes.js';
import { answerQueued } from './jobs.js';
import { reply } from '../negotiate.js';
import { route } from '../route.js';
import { actorOf, body, editorDeps } from './schema_deps.js';

async function listed(ctx: AppContext, tableId: number, unique?: boolean) {
  const fields = [...(await listFields(ctx.pool, tableId)), ...(await listFields(ctx.pool, tableId, { trashed: true }))];
  return (await listTableIndexes(ctx.pool, tableId)).filter((i) => unique === undefined || i.is_unique === unique).map((i) => tableIndexJson(i, fields));
}

function create(constraints: boolean) {
  return async (ctx: AppContext, req: Request, res: Response) => {
    const id = idParam(req.params.id);
    const b = body(req);
    const online = flag(b.online ?? req.query.online, 'online');
    const spec = { fields: asArray(b.fields) ?? (typeof b.fields === 'string' && req.is('application/x-www-form-urlencoded') ? [b.fields] : b.fields), unique: constraints ? true : (flag(b.unique, 'unique') ?? false), name: b.name, online };
    const deps = editorDeps(ctx);
    if (flag(b.dry_run ?? req.query.dry_run, 'dry_run')) {
      // plan_only=1 (the console's plan beside Add index, asked as the form changes): the
      // plan alone, without the duplicates scan (it reads the whole table)
      const planOnly = flag(b.plan_only ?? req.query.plan_only, 'plan_only') ?? false;
      const { name, plan, duplicates } = await planTableIndex(deps, id, spec, { duplicates: !planOnly });
      await reply(req, res, { json: { dry_run: true, name, unique: spec.unique, plan, ...(duplicates ? { duplicates } : {}) }, fragment: 'change_plan', locals: { plan } });
      return;
    }
    // Past the job threshold (or online=1): a resumable job, 202 with its page.
    const rows = await estimatedRows(ctx.pool, id);
    if (online === true || (online === undefined && chooseOnline(rows, ctx.config.jobThresholdRows, undefined).online)) {
      const { job } = await acceptTableIndexJob(deps, actorOf(req), id, spec, rows, (tx, onlineChangeId) =>
        enqueueJob(tx, { kind: ONLINE_CHANGE, tableId: id, payload: { kind: 'table_index', onlineChangeId }, actor: actorOf(req).name, total: rows }),
      );
      await answerQueued(ctx, req, res, job);
      return;
    }
    const { index, version } = await createTableIndex(deps, actorOf(req), id, spec);
    const json = { ...tableIndexJson(index, await listFields(ctx.pool, id)), version };
    res.location(`/tables/${id}/${constraints ? 'constraints' : 'indexes'}/${index.id}`);
    await reply(req, res, { status: 201, json, redirect: `/tables/${id}?tab=fields` });
  };
}

function drop(constraints: boolean) {
  return async (ctx: AppContext, req: Request, res: Response) => {
    const id = idParam(req.params.id);
    const { index, version } = await dropTableIndex(editorDeps(ctx), actorOf(req), id, idParam(req.params.iid, 'iid'), constraints ? { unique: true } : {});
    await reply(req, res, { json: { ...tableIndexJson(index, await listFields(ctx.pool, id)), version, dropped: true }, redirect: `/tables/${id}?tab=fields` });
  };
}

export const tableIndexRoutes = [
  route('get', '/tables/:id/indexes', 'viewer', 'indexes over several fields (unique or not), fields by id in order', async (ctx, req, res) => {
    await reply(req, res, { json: { indexes: await listed(ctx, idParam(req.params.id)) } });
  }),
  route('post', '/tables/:id/indexes', 'admin', 'an index over several fields: fields [ids], unique?, name?, dry_run? (plan_only=1: the plan without the duplicates scan), online=1|0 (built online; past the job threshold or online=1 a resumable job, 202; online=0 one blocking transaction; a unique one reports duplicates first)', create(false)),
  route('delete', '/tables/:id/indexes/:iid', 'admin', 'drop an index over several fields (its constraint too, when unique)', drop(false)),
  route('get', '/tables/:id/constraints', 'viewer', 'UNIQUE constraints over several fields', async (ctx, req, res) => {
    await reply(req, res, { json: { constraints: await listed(ctx, idParam(req.params.id), true) } });
  }),
  route('post', '/tables/:id/constraints', 'admin', 'a UNIQUE constraint over several fields: fields [ids], name?, dry_run? (plan_only=1: the plan without the duplicates scan), online=1|0 (duplicates reported first; built online, as a job past the job threshold)', create(true)),
  route('delete', '/tables/:id/constraints/:iid', 'admin', 'drop a UNIQUE constraint over several fields', drop(true)),
];
