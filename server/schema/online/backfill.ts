// The batched copy every shadow-column operation shares: rows in ranges of ids (the next N
// rows by id, N adapting to the time a range takes; ids kept as exact digits), each range
// copied in a few statements (waves, below), the last of which records the range's last id
// (each an implicit transaction: row locks on its rows only), so a resumed change starts
// after the last range that committed whole. Memory is constant, whatever the table's size. Row history does not record it
// (reason schema).
//
// Where the time went (issue 13: the backfill was ~10x the blocking ALTER): each 2,000-row
// batch was a transaction of six round trips (settings, the range's last id, the UPDATE, the
// change's row, COMMIT) plus a progress write and a cancel read, so on a busy machine the
// round trips, not the UPDATE, were most of it. Now: one client for the whole copy with its
// settings set once; the ranges are by id up to the largest id when the copy starts (a row
// inserted later has its shadow written by the sync trigger), so no read for a range's
// bound; the range's last statement is the UPDATE in a CTE, the change's row updated from
// it, which also answers whether an admin cancelled; progress written at most every
// PROGRESS_EVERY_MS; and the range grows or shrinks so that its slowest statement takes
// about BACKFILL_BATCH_MS (the longest a concurrent write to one of its rows waits).
//
// Waves (issue 13, measured at 2,000,000 rows): the UPDATE itself, not the conversion, was
// most of the time. The table's pages are full, so each row's new version went to another
// page (not a HOT update) and took a new entry in every index of the table, the unique ones
// checking the old entry's row too: a single UPDATE setting a constant took 55-70 s against
// 8-12 s for the blocking ALTER ... TYPE (which writes the table once and sorts each index
// once); with only the primary key 17 s. So each id range is copied in waves, one
// statement each, a wave the rows whose id % BACKFILL_MODULUS is one of its residues
// (BACKFILL_WAVES): the first wave's rows (2 of 16) move to other pages (new index entries),
// which frees their room on their pages once that statement commits; the next wave's
// statement prunes each page as it reads it (PostgreSQL does on a full page) and its new
// versions fit on their own page: HOT updates, no index entry at all; and so on, each wave
// using the room the one before freed (a new version is a little larger than the old one:
// the first wave frees twice the room of the others, so that later waves still fit). A
// wave's rows are looked up by their ids (= ANY of the ids of its residues in the range),
// not by reading the whole range and filtering, so 15 waves read each row once. On 200,000
// rows of the bench's table: 8.7 s in one statement; 8 equal waves by a filter 5.3 s (80%
// HOT); these 15 waves 4.1 s (85% HOT). A transaction
// older than the previous wave (it keeps the old versions alive) only makes the next wave
// non-HOT again: slower, never wrong. Every wave is one implicit transaction; the range's
// last id is recorded with the last wave, so a resumed change copies a half-done range
// again (the same values).
import type pg from 'pg';
import { getOnlineChange } from './state.js';
import { CancelledError, type OnlineRun } from './steps.js';

/** The time one batch aims at: its rows stay locked that long, so a write to one waits at most about this. */
export const BACKFILL_BATCH_MS = 50;
/** The first batch's id range (later ones follow the time each took). */
export const BACKFILL_FIRST_ROWS = 2000;
const MIN_ROWS = 200;
const MAX_ROWS = 200_000;
const PROGRESS_EVERY_MS = 500;
/** A range's waves (above): residues of id % BACKFILL_MODULUS; the first one's rows move, the others' mostly stay on their page. */
export const BACKFILL_MODULUS = 16;
export const BACKFILL_WAVES: number[][] = [[0, 1], ...Array.from({ length: BACKFILL_MODULUS - 2 }, (_, i) => [i + 2])];

/** The next id range: scaled by how far the last batch was from the aim, by at most 2x either way. */
export function nextSpan(span: number, rows: number, ms: number, targetMs = BACKFILL_BATCH_MS): number {
  // A range with few rows (ids deleted) took little time: it doubles, as it should.
  const factor = Math.min(2, Math.max(0.5, targetMs / Math.max(ms, 1)));
  return Math.round(Math.min(MAX_ROWS, Math.max(MIN_ROWS, span * (rows === 0 ? 2 : factor))));
}

/**
 * Copies every row's converted value into the shadow. With `lostSql` (the loss predicate
 * on the row's column; no confirm_loss) each statement also answers the ids of rows whose
 * value did not convert, and the copy stops at the first: it answers up to 5 of them
 * (the change is then refused). Such a row was written after the loss report, before the
 * sync trigger (which refuses them) existed.
 */
export async function backfill(run: OnlineRun, shadow: string, convertedSql: string, total: number, lostSql?: string): Promise<string[]> {
  const change = await getOnlineChange(run.deps.pool, run.change.id);
  // ids as exact digits (BigInt): an adopted table's ids may be past 2^53
  const { rows: at } = await run.deps.pool.query<{ last_id: string | null }>(`SELECT last_id::text FROM tablewright.online_changes WHERE id = $1`, [run.change.id]);
  const resumedAt = at[0]?.last_id ?? null;
  let done = resumedAt === null ? 0 : change.done;
  // A fixed range (payload batch_rows) for tests that stop the copy at a known batch.
  // (a test knob: anything but a whole number of rows within the bounds is ignored)
  const asked = Number(run.change.payload?.batch_rows);
  const fixed = Number.isInteger(asked) && asked >= 1 && asked <= MAX_ROWS ? asked : 0;
  let span = fixed || BACKFILL_FIRST_ROWS;
  await run.progress({ phase: 'copying rows into the new column (the table keeps serving)', done, total });
  const client: pg.PoolClient = await run.deps.pool.connect();
  let broken: Error | undefined;
  try {
    // Session settings, put back before the client goes back to the pool.
    // synchronous_commit off: a wave's COMMIT returns without waiting for its WAL to reach
    // the disk (one flush per wave was one wait per statement; the WAL writer flushes within
    // wal_writer_delay). Safe because PostgreSQL replays the WAL in order, so a server crash
    // loses a suffix of commits, never one in the middle: the range's last id is written on
    // tablewright.online_changes in the same transaction as the range's last wave, so a
    // crash keeps both or neither, and every wave committed before it comes back with it.
    // A resumed change starts after the last recorded range and copies a half-done range
    // again, with the same values (the conversion depends on the row only; a row written
    // since has its shadow value from the sync trigger in that write's own, synchronous,
    // commit, whose flush also covers every wave before it). Anything later that depends on
    // the copy (the step 'backfilled', the swap) commits synchronously on other sessions,
    // and its flush covers these commits too. Only this session's commits are asynchronous:
    // the settings are RESET below, before the client goes back to the pool.
    await client.query(
      `SELECT set_config('statement_timeout', '0', false), set_config('lock_timeout', $1, false), set_config('timezone', 'UTC', false), set_config('tablewright.reason', 'schema', false), set_config('synchronous_commit', 'off', false)`,
      [`${run.deps.config.lockTimeoutMs}ms`],
    );
    // from the smallest id: a DBA's row may have id 0 or below
    const { rows: top } = await client.query<{ min: string | null; max: string | null }>(`SELECT min(id)::text AS min, max(id)::text AS max FROM ${run.relation}`);
    if (top[0]?.max == null) return [];
    const maxId = BigInt(top[0].max);
    let last = resumedAt === null ? BigInt(top[0].min!) - 1n : BigInt(resumedAt);
    let reported = Date.now();
    const m = BACKFILL_MODULUS;
    // a row whose new value is empty though its value would be lost (AND stops at the first
    // false: the predicate runs for the rows that converted to empty only)
    const emptied = lostSql ? `(t.${shadow} IS NULL AND (${lostSql})) AS lost` : 'false AS lost';
    const counted = `SELECT count(*)::int AS n, (array_agg(id::text ORDER BY id) FILTER (WHERE lost))[1:5] AS lost FROM u`;
    // Dense ids (the usual): a wave's ids are generated, residue by residue, from the
    // multiple of m at or below $1 (for a negative $1 too, where / rounds up), and looked
    // up in the primary key. Ids far apart (an adopted table's, a sequence restarted at
    // 10^12): generating them would be the width of the range, so the range's ids are read
    // from the primary key instead.
    const dense = /* sql */ `t.id > $1 AND t.id <= $2 AND t.id = ANY (ARRAY(SELECT g FROM unnest($3::int[]) AS r, generate_series($1::bigint - ($1::bigint % ${m} + ${m}) % ${m} + r, $2::bigint, ${m}) AS g WHERE g > $1))`;
    const sparse = /* sql */ `t.id > $1 AND t.id <= $2 AND t.id = ANY (ARRAY(SELECT s.id FROM ${run.relation} s WHERE s.id > $1 AND s.id <= $2 AND (s.id % ${m} + ${m}) % ${m} = ANY ($3::int[])))`;
    // ranges of `span` ids while ids are dense; once a range held under a quarter of that
    // many rows, of `span` rows (read from the primary key, a few ms a range)
    let sparseIds = false;
    while (last < maxId) {
      let upto = last + BigInt(span);
      if (sparseIds) {
        const { rows: next } = await client.query<{ upto: string | null }>(`SELECT id::text AS upto FROM ${run.relation} WHERE id > $1 ORDER BY id OFFSET $2 LIMIT 1`, [String(last), span - 1]);
        upto = next[0]?.upto == null ? maxId : BigInt(next[0].upto);
      }
      if (upto > maxId) upto = maxId;
      const range = upto - last <= BigInt(4 * span) ? dense : sparse;
      const bounds = [String(last), String(upto)];
      let n = 0;
      let slowest = 0;
      let cancel = false;
      const lost: string[] = [];
      for (let wave = 0; wave < BACKFILL_WAVES.length; wave++) {
        const t0 = performance.now();
        if (wave < BACKFILL_WAVES.length - 1 && !lostSql) {
          const r = await client.query(`UPDATE ${run.relation} t SET ${shadow} = ${convertedSql} WHERE ${range}`, [...bounds, BACKFILL_WAVES[wave]]);
          n += r.rowCount ?? 0;
        } else if (wave < BACKFILL_WAVES.length - 1) {
          const { rows } = await client.query<{ n: number; lost: string[] | null }>(
            /* sql */ `WITH u AS (UPDATE ${run.relation} t SET ${shadow} = ${convertedSql} WHERE ${range} RETURNING t.id, ${emptied}) ${counted}`,
            [...bounds, BACKFILL_WAVES[wave]],
          );
          n += rows[0]?.n ?? 0;
          // stop before the range is recorded: a resumed copy goes through this range again
          if (rows[0]?.lost?.length) return rows[0].lost.slice(0, 5);
        } else {
          // the last wave records the range on the change's row, in the same statement
          const { rows } = await client.query<{ n: number; lost: string[] | null; cancel_requested: boolean }>(
            /* sql */ `WITH u AS (UPDATE ${run.relation} t SET ${shadow} = ${convertedSql} WHERE ${range} RETURNING t.id, ${emptied}),
                  n AS (${counted})
             UPDATE tablewright.online_changes c SET step = 'backfill',
                    -- a range with a lost value is not recorded: a resumed copy finds it again
                    last_id = CASE WHEN n.lost IS NULL THEN $2::bigint ELSE c.last_id END,
                    done = CASE WHEN n.lost IS NULL THEN $5::bigint + n.n ELSE c.done END
               FROM n WHERE c.id = $4 RETURNING n.n, n.lost, c.cancel_requested`,
            [...bounds, BACKFILL_WAVES[wave], run.change.id, done + n],
          );
          n += rows[0]?.n ?? 0;
          lost.push(...(rows[0]?.lost ?? []));
          cancel = rows[0]?.cancel_requested ?? false;
        }
        const ms = performance.now() - t0;
        // a statement that held its rows far past the aim: a write to one of them waited that long
        if (ms > 2 * BACKFILL_BATCH_MS) run.deps.log.debug({ onlineChange: run.change.id, wave, ms: Math.round(ms), span, from: String(last) }, 'backfill statement over twice its aim');
        slowest = Math.max(slowest, ms);
      }
      // dense again once a range of rows is about as wide in ids as it has rows
      sparseIds = sparseIds ? upto - last > BigInt(4 * span) : n < span / 4;
      last = upto;
      done += n;
      // Each statement holds its rows' locks while it runs: the slowest one is the write stall.
      if (!fixed) span = nextSpan(span, n, slowest);
      if (lost.length) return lost.slice(0, 5);
      if (cancel) throw new CancelledError();
      if (Date.now() - reported >= PROGRESS_EVERY_MS || last >= maxId) {
        reported = Date.now();
        await run.progress({ done, total: Math.max(total, done) });
      }
    }
    return [];
  } catch (err) {
    if ((err as { code?: string }).code === undefined && !(err instanceof CancelledError)) broken = err as Error;
    throw err;
  } finally {
    await client.query('RESET statement_timeout; RESET lock_timeout; RESET timezone; RESET tablewright.reason; RESET synchronous_commit').catch((e: Error) => (broken = e));
    client.release(broken);
  }
}

