// The batched copy every shadow-column operation shares: rows in id order, one batch per
// transaction (row locks on that batch only), the last id copied recorded in the same
// commit, so a resumed change starts after the last batch that committed. Memory is one
// batch's ids, whatever the table's size. Row history does not record it (reason schema).
import { withoutStatementTimeout } from '../../db/pool.js';
import { withTransaction } from '../../db/tx.js';
import { advance, getOnlineChange } from './state.js';
import { CancelledError, type OnlineRun } from './steps.js';

/** Small enough that a write waiting for a row of the batch waits tens of milliseconds. */
export const BACKFILL_BATCH_ROWS = 2000;

export async function backfill(run: OnlineRun, shadow: string, convertedSql: string, total: number): Promise<void> {
  let change = await getOnlineChange(run.deps.pool, run.change.id);
  let last = change.last_id ?? 0;
  let done = change.last_id === null ? 0 : change.done;
  const batch = Number(run.change.payload?.batch_rows) || BACKFILL_BATCH_ROWS;
  await run.progress({ phase: 'copying rows into the new column (the table keeps serving)', done, total });
  for (;;) {
    const copied = await withTransaction(run.deps.pool, async (tx) => {
      await withoutStatementTimeout(tx);
      await tx.query(`SELECT set_config('tablewright.reason', 'schema', true), set_config('timezone', 'UTC', true), set_config('lock_timeout', $1, true)`, [
        `${run.deps.config.lockTimeoutMs}ms`,
      ]);
      const { rows } = await tx.query<{ n: number; last: string | null }>(
        `WITH b AS (SELECT id FROM ${run.relation} WHERE id > $1 ORDER BY id LIMIT $2),
              u AS (UPDATE ${run.relation} t SET ${shadow} = ${convertedSql} FROM b WHERE t.id = b.id RETURNING t.id)
         SELECT count(*)::int AS n, max(id)::text AS last FROM u`,
        [last, batch],
      );
      const n = rows[0]!.n;
      if (n > 0) await advance(tx, run.change.id, { step: 'backfill', last_id: Number(rows[0]!.last), done: done + n });
      return { n, last: rows[0]!.last === null ? last : Number(rows[0]!.last) };
    });
    if (copied.n === 0) break;
    last = copied.last;
    done += copied.n;
    await run.progress({ done, total: Math.max(total, done) });
    change = await getOnlineChange(run.deps.pool, run.change.id);
    if (change.cancel_requested) throw new CancelledError();
  }
}
