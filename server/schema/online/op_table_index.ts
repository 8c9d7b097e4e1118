// Online index or UNIQUE constraint over several fields (server/schema/table_indexes.ts),
// as a resumable job: what the one-field op_create_index does, for a list of fields.
//
//   start     DROP INDEX CONCURRENTLY the invalid leftover of a build a killed instance
//             left, if any; CREATE [UNIQUE] INDEX CONCURRENTLY over the members' columns
//             (SHARE UPDATE EXCLUSIVE: reads and writes go on), its progress read from
//             pg_stat_progress_create_index; a duplicate written meanwhile ends it with the
//             has_duplicates report, nothing kept
//   complete  brief (lock_timeout, retries): a unique one becomes its constraint (ADD
//             CONSTRAINT ... UNIQUE USING INDEX); the table_indexes row, version + 1,
//             audit, NOTIFY in one commit; refused if a member went to the trash meanwhile
//   rollback  DROP INDEX CONCURRENTLY IF EXISTS, unless the row describing it committed
//
// The change's row keeps the index's name, its members by id and unique (payload), and
// its first member as field_id (audit rows name it). Members are read by id at each start,
// so a resumed build follows a rename.
import { ident, qualified } from '../../db/ident.js';
import { conflict } from '../../errors.js';
import { listFields } from '../metadata.js';
import { countDuplicates, duplicatesError, insertTableIndexRow } from '../table_indexes.js';
import { finishOnlineChange } from './state.js';
import { briefStep, buildIndex, indexState, outsideStep, type OnlineOp, type OnlineRun } from './steps.js';

export interface TableIndexPayload {
  name: string;
  field_ids: number[];
  unique: boolean;
}

const payloadOf = (run: OnlineRun) => run.change.payload as TableIndexPayload;

/** The members, live, in the index's order; 409 when one went to the trash (or away) meanwhile. */
async function members(run: OnlineRun) {
  const live = new Map((await listFields(run.deps.pool, run.table.id)).map((f) => [f.id, f]));
  return payloadOf(run).field_ids.map((id) => {
    const f = live.get(id);
    if (!f) throw conflict('field_trashed', `fields: field ${id} of the index went to the trash meanwhile`, 'fields');
    return f;
  });
}

/**
 * pg_stat_progress_create_index, polled while a build runs: the phase, and blocks (the
 * table scan) or tuples (the sort, the validation) done of total. One online change per
 * table at a time, so the table's row is ours.
 */
async function reportProgress(run: OnlineRun): Promise<void> {
  const { rows } = await run.deps.pool.query<{ phase: string; done: string; total: string }>(
    /* sql */ `SELECT phase,
            CASE WHEN blocks_total > 0 THEN blocks_done WHEN tuples_total > 0 THEN tuples_done ELSE lockers_done END AS done,
            CASE WHEN blocks_total > 0 THEN blocks_total WHEN tuples_total > 0 THEN tuples_total ELSE lockers_total END AS total
       FROM pg_stat_progress_create_index WHERE relid = $1`,
    [run.table.table_oid],
  );
  const r = rows[0];
  if (r) await run.progress({ phase: `building the index: ${r.phase} (the table keeps serving)`, done: Number(r.done), total: Number(r.total) });
}

async function withProgress<T>(run: OnlineRun, work: Promise<T>, everyMs = 500): Promise<T> {
  let stop = false;
  const poll = (async () => {
    while (!stop) {
      await new Promise((r) => setTimeout(r, everyMs));
      if (!stop) await reportProgress(run).catch((err: Error) => run.deps.log.debug({ err }, 'index build progress unreadable'));
    }
  })();
  try {
    return await work;
  } finally {
    stop = true;
    await poll;
  }
}

export const tableIndex: OnlineOp = {
  // the objects are named on the change's row when it is accepted (the index's name)
  objects: () => ({}),
  // planTableIndex plans it (table_indexes.ts)
  plan: () => [],

  async start(run) {
    const p = payloadOf(run);
    const fields = await members(run);
    const columns = fields.map((f) => String(ident(f.column_name))).join(', ');
    await run.progress({ phase: `building the ${p.unique ? 'unique ' : ''}index (the table keeps serving)`, done: 0 });
    try {
      // catalog first at each attempt (steps.ts buildIndex): a valid index is done, an invalid leftover goes first
      await buildIndex(run, p.name, `CREATE ${p.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${ident(p.name)} ON ${run.relation} (${columns})`, (build) => withProgress(run, build));
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw duplicatesError(fields, await countDuplicates(run.deps.pool, run.relation, fields));
      throw err;
    }
  },

  async complete(run) {
    const p = payloadOf(run);
    return briefStep(run, 'attach', async (c) => {
      const fields = await members(run);
      if (p.unique) await c.ddl(`ALTER TABLE ${run.relation} ADD CONSTRAINT ${ident(p.name)} UNIQUE USING INDEX ${ident(p.name)}`);
      const index = await insertTableIndexRow(c.tx, run.table.id, p.name, fields.map((f) => f.id), p.unique, run.actor.name);
      await finishOnlineChange(c.tx, run.change.id, 'done');
      return index;
    });
  },

  async rollback(run) {
    const p = payloadOf(run);
    const { rows } = await run.deps.pool.query(`SELECT 1 FROM tablewright.table_indexes WHERE table_id = $1 AND name = $2`, [run.table.id, p.name]);
    if (rows.length) return;
    if ((await indexState(run, p.name)) !== 'absent') await outsideStep(run, 'rollback', `DROP INDEX CONCURRENTLY IF EXISTS ${qualified(run.deps.config.dataSchema, p.name)}`);
  },
};
