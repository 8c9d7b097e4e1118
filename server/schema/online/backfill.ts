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
      // The batch's last id first, then an UPDATE over that id range: an index range scan.
      // (An UPDATE joined to the batch's ids was planned as a hash join over a seq scan of
      // the whole table, once per batch: quadratic in the table's size.)
      const { rows: bound } = await tx.query<{ upto: string | null }>(`SELECT max(id)::text AS upto FROM (SELECT id FROM ${run.relation} WHERE id > $1 ORDER BY id LIMIT $2) b`, [last, batch]);
      const upto = bound[0]!.upto;
      if (upto === null) return { n: 0, last, more: false };
      const updated = await tx.query(`UPDATE ${run.relation} t SET ${shadow} = ${convertedSql} WHERE t.id > $1 AND t.id <= $2`, [last, upto]);
      const n = updated.rowCount ?? 0;
      await advance(tx, run.change.id, { step: 'backfill', last_id: Number(upto), done: done + n });
      return { n, last: Number(upto), more: true };
    });
    if (!copied.more) break;
    last = copied.last;
    done += copied.n;
    await run.progress({ done, total: Math.max(total, done) });
    change = await getOnlineChange(run.deps.pool, run.change.id);
    if (change.cancel_requested) throw new CancelledError();
  }
}
