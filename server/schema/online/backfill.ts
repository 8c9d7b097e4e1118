// The batched copy every shadow-column operation shares: rows in id ranges, one statement per
// batch that copies the range and records the last id copied (one implicit transaction: row
// locks on that range only), so a resumed change starts after the last batch that
// committed. Memory is constant, whatever the table's size. Row history does not record it
// (reason schema).
//
// Where the time went (issue 13: the backfill was ~10x the blocking ALTER): each 2,000-row
// batch was a transaction of six round trips (settings, the range's last id, the UPDATE, the
// change's row, COMMIT) plus a progress write and a cancel read, so on a busy machine the
// round trips, not the UPDATE, were most of it. Now: one client for the whole copy with its
// settings set once; the ranges are by id up to the largest id when the copy starts (a row
// inserted later has its shadow written by the sync trigger), so no read for a range's
// bound; one statement per batch (the UPDATE in a CTE, the change's row updated from it,
// which also answers whether an admin cancelled); progress written at most every
// PROGRESS_EVERY_MS; and the range grows or shrinks so that a batch takes about
// BACKFILL_BATCH_MS (the longest a concurrent write to a row of the batch waits).
import type pg from 'pg';
import { getOnlineChange } from './state.js';
import { CancelledError, type OnlineRun } from './steps.js';

/** The time one batch aims at: its rows stay locked that long, so a write to one waits at most about this. */
export const BACKFILL_BATCH_MS = 50;
/** The first batch's id range (later ones follow the time each took). */
export const BACKFILL_FIRST_IDS = 2000;
const MIN_IDS = 200;
const MAX_IDS = 200_000;
const PROGRESS_EVERY_MS = 500;

/** The next id range: scaled by how far the last batch was from the aim, by at most 2x either way. */
export function nextSpan(span: number, rows: number, ms: number, targetMs = BACKFILL_BATCH_MS): number {
  // A range with few rows (ids deleted) took little time: it doubles, as it should.
  const factor = Math.min(2, Math.max(0.5, targetMs / Math.max(ms, 1)));
  return Math.round(Math.min(MAX_IDS, Math.max(MIN_IDS, span * (rows === 0 ? 2 : factor))));
}

export async function backfill(run: OnlineRun, shadow: string, convertedSql: string, total: number): Promise<void> {
  const change = await getOnlineChange(run.deps.pool, run.change.id);
  let last = change.last_id ?? 0;
  let done = change.last_id === null ? 0 : change.done;
  // A fixed range (payload batch_rows) for tests that stop the copy at a known batch.
  const fixed = Number(run.change.payload?.batch_rows) || 0;
  let span = fixed || BACKFILL_FIRST_IDS;
  await run.progress({ phase: 'copying rows into the new column (the table keeps serving)', done, total });
  const client: pg.PoolClient = await run.deps.pool.connect();
  let broken: Error | undefined;
  try {
    // Session settings, put back before the client goes back to the pool.
    await client.query(
      `SELECT set_config('statement_timeout', '0', false), set_config('lock_timeout', $1, false), set_config('timezone', 'UTC', false), set_config('tablewright.reason', 'schema', false)`,
      [`${run.deps.config.lockTimeoutMs}ms`],
    );
    const { rows: top } = await client.query<{ max: string | null }>(`SELECT max(id)::text AS max FROM ${run.relation}`);
    const maxId = Number(top[0]!.max ?? 0);
    let reported = Date.now();
    while (last < maxId) {
      const upto = Math.min(maxId, last + span);
      const t0 = performance.now();
      const { rows } = await client.query<{ n: number; cancel_requested: boolean }>(
        /* sql */ `WITH u AS (UPDATE ${run.relation} t SET ${shadow} = ${convertedSql} WHERE t.id > $1 AND t.id <= $2 RETURNING 1),
              n AS (SELECT count(*)::int AS n FROM u)
         UPDATE tablewright.online_changes c SET step = 'backfill', last_id = $2, done = $4 + n.n FROM n WHERE c.id = $3 RETURNING n.n, c.cancel_requested`,
        [last, upto, run.change.id, done],
      );
      const ms = performance.now() - t0;
      const n = rows[0]?.n ?? 0;
      last = upto;
      done += n;
      if (!fixed) span = nextSpan(span, n, ms);
      if (rows[0]?.cancel_requested) throw new CancelledError();
      if (Date.now() - reported >= PROGRESS_EVERY_MS || last >= maxId) {
        reported = Date.now();
        await run.progress({ done, total: Math.max(total, done) });
      }
    }
  } catch (err) {
    if ((err as { code?: string }).code === undefined && !(err instanceof CancelledError)) broken = err as Error;
    throw err;
  } finally {
    await client.query('RESET statement_timeout; RESET lock_timeout; RESET timezone; RESET tablewright.reason').catch((e: Error) => (broken = e));
    client.release(broken);
  }
}
