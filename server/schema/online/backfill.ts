// The batched copy every shadow-column operation shares: the table's pages in ranges (a
// range's size adapting to the time it takes), each range copied in a few statements
// (waves, below), the last of which records where the copy is (each an implicit
// transaction: row locks on its rows only), so a resumed change starts after the last
// range that committed whole. Memory is constant, whatever the table's size. Row history
// does not record it (reason schema).
//
// By pages, not by ids (issue 13, measured at 2,000,000 rows, 27,600 pages, nothing else
// running): a range of ids looked each row up in the primary key, once per wave, 7.2 us a
// row in all; a range of pages is read by a TID range scan (no index at all), 3.8-4.0 us a
// row. Which rows the copy must visit: every row that existed when the sync trigger was
// made (a row written since has its new value from the trigger), and those are all on the
// pages below the relation's size read after the trigger was committed. A row only moves to
// another page when it is updated (then the trigger wrote its new value), or when the whole
// table is rewritten (VACUUM FULL, CLUSTER, ALTER ... TYPE by a DBA, TRUNCATE): a new
// relation file, which each range's last statement reads, and the copy starts again at
// page 0 of the new file. The copy skips a row whose new column already holds a value
// (copied, or written by the trigger: only the trigger and the copy write it, and both
// write the converted value of the row as it is), so going through a page again costs a
// read, and a row the first wave moved to a page further on is not written twice (nor
// counted twice, but for a row whose value converts to empty, lost with confirm_loss: it
// stays empty, and is written again if it moved to pages still to go). The test reads the new column,
// the row's last, so each wave's scan takes every row of its pages apart up to its end:
// without it the copy was about 5% quicker (12.0/11.8 s against 12.3/12.8 s, psql, below),
// but wrote those rows again (4,000 of 2,000,000) and counted them twice.
//
// Where the time went before (ranges of ids): each 2,000-row batch was a transaction of six
// round trips, so on a busy machine the round trips, not the UPDATE, were most of it. Now:
// one client for the whole copy with its settings set once; the range's last statement is
// the UPDATE in a CTE, the change's row updated from it, which also answers whether an
// admin cancelled and which relation file the table is in; progress written at most every
// PROGRESS_EVERY_MS; the range grows or shrinks so that the slowest of its parts' waves
// takes about BACKFILL_BATCH_MS in all (its statements' times added up); and each statement covers as many pages
// as the one before says take BACKFILL_BATCH_MS (nextChunk: a part goes in several when
// the table got slow, as after a checkpoint), since a concurrent write to one of its rows
// waits as long as the statement.
//
// Waves: the table's pages are full, so a row's new version goes to another page (not a
// HOT update) and takes a new entry in every index of the table: a single UPDATE of every
// row took 46-70 s at 2,000,000 rows against 7-12 s for the blocking ALTER ... TYPE. So
// each range is copied in waves, one statement each, a wave the rows whose
// id & (BACKFILL_MODULUS - 1) is one of its residues (BACKFILL_WAVES): the first wave's
// rows (2 of 16) move to other pages, which frees their room once that statement commits;
// the next wave's statement prunes each page as it reads it and its new versions fit on
// their own page: HOT updates, no index entry; and so on. The rows that move cost most of
// the copy (a profile with 29% of the updates not HOT: 67% of the time in inserting their
// index entries, five indexes), so fewer of them is faster despite more waves, each
// reading the range's pages again: on 2,000,000 rows with five indexes, one session,
// number -> text (psql, the same statements; the blocking ALTER 7.2 s):
//   2 of 8 then 6 waves of 1 (before): 15.1-15.6 s, 70% HOT, 928 MB of WAL
//   2 of 16 then 14 of 1 (now): 12.3-12.8 s, 85% HOT, 733 MB
// and without the test for copied rows (above): 1 of 8 then 7 of 1: 12.9-13.9 s, 78% HOT;
// 2 of 16 then 14 of 1: 11.8-12.4 s; 1 of 16 then 15 of 1: 12.4-12.6 s; 3 of 32 then 29
// of 1: 13.8-13.9 s, 87% HOT
// (the page's rows grow by the new value, so some rows must leave it whatever the waves).
// A transaction older than the previous wave (it keeps the old versions alive) only makes
// the next wave non-HOT again: slower, never wrong.
import type pg from 'pg';
import { literal } from '../../db/ident.js';
import { queryAfter } from '../../db/bounded_query.js';
import { cleanupHolder, heldPhase } from './cleanup_holder.js';
import { getOnlineChange } from './state.js';
import { CancelledError, type OnlineRun } from './steps.js';

/** The time one batch aims at: its rows stay locked that long, so a write to one waits at most about this. */
export const BACKFILL_BATCH_MS = 50;
/** backend_flush_after for the copy's statements, in 8 kB pages (below): 256 kB, as checkpoint_flush_after. */
const BACKFILL_FLUSH_AFTER = 32;
/** The first range's size in pages (later ones follow the time each took). */
export const BACKFILL_FIRST_PAGES = 16;
const MIN_PAGES = 1;
const MAX_PAGES = 4096;
/** The most pages one statement of a range's first wave covers (its rows move: below). */
export const FIRST_WAVE_MAX_PAGES = 64;
const PROGRESS_EVERY_MS = 500;
/** How often the copy looks for a writing transaction left open in the cluster (cleanup_holder.ts). */
const HOLDER_CHECK_MS = 5000;
/** A range's waves (above): residues of id & (BACKFILL_MODULUS - 1); the first one's rows move, the others' mostly stay on their page. */
export const BACKFILL_MODULUS = 16;
export const BACKFILL_WAVES: number[][] = [[0, 1], ...Array.from({ length: BACKFILL_MODULUS - 2 }, (_, i) => [i + 2])];

/**
 * How many parts a range's waves go over in turn (below): a statement of another session
 * that began before a wave committed must end before the next wave reaches those pages, or
 * that wave finds no room (othersSentBefore waits for such a statement). The whole bench
 * (2,000,000 rows, five indexes; number -> text, text -> number, number -> link; HOT share
 * and time, one run each, same machine and day, blocking DDL 7.5-10.9 s, 10.5-13.6 s and
 * 9.0-13.2 s):
 *   two parts, no waiting: 79/63/49%; 20.4/28.5/42.7 s, 23.8/31.2/45.5 s, 22.1/31.9/42.5 s
 *   two parts, waiting: 86/73/61%; 15.7/33.2/50.4 s, 17.9/31.9/54.8 s
 *   four parts, waiting: 85/73/61%; 15.0/23.6/30.9 s, 13.4/27.4/38.3 s
 * (With two parts the wait often came: the other session's first wave, the slowest, was
 * still running.) Writes over 100 ms came in every configuration, in bursts (checkpoints).
 */
export const BACKFILL_PARTS = 4;

/** [from, upto) in at most `n` parts of (nearly) equal pages, none empty. */
export function splitRange(from: bigint, upto: bigint, n: number): Array<[bigint, bigint]> {
  const pages = upto - from;
  const k = pages < BigInt(n) ? Number(pages) || 1 : n;
  const out: Array<[bigint, bigint]> = [];
  for (let i = 0; i < k; i++) out.push([from + (pages * BigInt(i)) / BigInt(k), from + (pages * BigInt(i + 1)) / BigInt(k)]);
  return out;
}

/** The next range's size in pages: scaled by how far the last one was from the aim, by at most 2x either way. */
export function nextSpan(span: number, ms: number, targetMs = BACKFILL_BATCH_MS): number {
  const factor = Math.min(2, Math.max(0.5, targetMs / Math.max(ms, 1)));
  return Math.round(Math.min(MAX_PAGES, Math.max(MIN_PAGES, span * factor)));
}

/**
 * The pages the next statement of a wave covers (a part of a range goes in as many
 * statements as this asks): scaled by how far the last one was from the aim, at most 2x up,
 * and down as far as it was over, at once. A checkpoint makes every page's first change
 * after it write the whole page to the WAL (the table's pages and, for each row that moves,
 * a leaf of every index): measured on the bench, a first wave over 668 pages went from under
 * 50 ms to 227-643 ms, statement after statement, while the range's size (nextSpan, once a
 * range) halved once per range; a write to one of those rows waited as long. Now the first
 * slow statement is followed by one sized to the aim.
 */
export function nextChunk(pages: number, ms: number, max: number, targetMs = BACKFILL_BATCH_MS): number {
  const factor = Math.min(2, targetMs / Math.max(ms, 1));
  return Math.max(MIN_PAGES, Math.min(max, Math.floor(pages * factor)));
}

/**
 * Where a statement starting at page `a` of a part ending at `hi` ends: what is left of the
 * part in equal statements of at most `size` pages, so no last one of a few pages (a hostile
 * review: with the first wave in statements of 64 pages, a part of 68 ended with one of 4,
 * a round trip and a commit all the same, its time no guide to the next).
 */
export function statementEnd(a: bigint, hi: bigint, size: number): bigint {
  const left = Number(hi - a);
  return a + BigInt(Math.ceil(left / Math.ceil(left / Math.max(1, size))));
}

interface Position {
  page: bigint;
  pages: bigint;
  filenode: string;
  /** the cluster's system identifier and the relation file: which file backfill_page counts pages of */
  file: string;
}

export interface BackfillOptions {
  /** the field's column (quoted), when an empty value converts to an empty one: its empty rows are left alone */
  emptyStaysEmpty?: string;
}

/** A copy statement that waited past lock_timeout or was chosen as a deadlock's victim is tried again, this many times. */
const RETRIES = 10;
const RETRIED = new Set(['55P03', '40P01']);

/** Where the copy is, shared by its workers. */
interface Copy {
  /** the first page no worker has taken yet */
  next: bigint;
  pages: bigint;
  filenode: string;
  /** every page below it is copied (what a resumed copy starts from) */
  watermark: bigint;
  /** ranges copied above the watermark: start -> end */
  copied: Map<bigint, bigint>;
  done: number;
  stop?: 'lost' | 'cancel' | 'rewritten' | 'failed';
  lost: string[];
  reported: number;
  /** each session's statement in flight: when it was sent, and its end */
  running: Map<number, { sent: number; ended: Promise<void> }>;
  /** when the first session last looked for a writing transaction left open, and the one it named */
  holderChecked: number;
  holder?: number;
}

/** Runs `statement` recorded as this session's statement in flight (othersSentBefore). */
async function inFlight<T>(running: Copy['running'], me: number, statement: () => Promise<T>): Promise<T> {
  let end = () => {};
  running.set(me, { sent: performance.now(), ended: new Promise<void>((r) => (end = r)) });
  try {
    return await statement();
  } finally {
    running.delete(me);
    end();
  }
}

/** The longest a session waits for another's statement (othersSentBefore): one waiting for a row a user holds is left to it. */
export const BACKFILL_WAIT_MAX_MS = 2 * BACKFILL_BATCH_MS;

/**
 * Waits until no other session of the copy has a statement in flight that was sent before
 * `since` (when this session's last wave over the same pages had committed), or `maxMs`
 * went by. Such a statement's snapshot keeps that wave's old row versions alive, so the
 * next wave over those pages could not prune them: no room, its updates not HOT (each a new
 * entry in every index of the table). No lock is held while waiting (each statement is its
 * own transaction), and only statements in flight are waited for: the sessions cannot wait
 * for each other. Bounded: a statement waiting for a row a user's transaction holds (up to
 * lock_timeout, then again) would otherwise hold the other session up as long; past the
 * bound the next wave runs anyway, slower (not HOT), never wrong.
 */
export async function othersSentBefore(running: Copy['running'], me: number, since: number, maxMs = BACKFILL_WAIT_MAX_MS): Promise<void> {
  const older = [...running].filter(([session, s]) => session !== me && s.sent < since).map(([, s]) => s.ended);
  if (!older.length) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([Promise.all(older), new Promise<void>((r) => (timer = setTimeout(r, maxMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Copies every row's converted value into the shadow. With `lostSql` (the loss predicate
 * on the row's column; no confirm_loss) each statement also answers the ids of rows whose
 * value did not convert, and the copy stops at the first: it answers up to 5 of them
 * (the change is then refused). Such a row was written after the loss report, before the
 * sync trigger (which refuses them) existed.
 *
 * ONLINE_BACKFILL_WORKERS sessions copy at once, each taking the next range of pages (2,000,000
 * rows with a read and a write loop running: one session 5.1 us a row, two 3.8). What a
 * resumed copy starts from is the page below which every range is copied (the watermark),
 * recorded by the last statement of a range with it; a range copied above it is copied
 * again after a crash (its rows skipped).
 */
export async function backfill(run: OnlineRun, shadow: string, convertedSql: string, total: number, lostSql?: string, opts: BackfillOptions = {}): Promise<string[]> {
  const change = await getOnlineChange(run.deps.pool, run.change.id);
  // A fixed range (payload batch_pages) for tests that stop the copy at a known batch.
  // (a test knob: anything but a whole number of pages within the bounds is ignored)
  const asked = Number(run.change.payload?.batch_pages);
  const fixed = Number.isInteger(asked) && asked >= MIN_PAGES && asked <= MAX_PAGES ? asked : 0;
  // a session of the pool left for everything else (progress, the job's heartbeat)
  const poolMax = (run.deps.pool as pg.Pool).options?.max ?? 10;
  const workers = Math.max(1, Math.min(run.deps.config.onlineBackfillWorkers ?? 1, poolMax - 1));
  const clients: Array<{ client: pg.PoolClient; broken?: Error }> = [];
  const rel = literal(run.relation);
  // a row whose new value is empty though its value would be lost (AND stops at the first
  // false: the predicate runs for the rows that converted to empty only)
  const emptied = lostSql ? `(t.${shadow} IS NULL AND (${lostSql})) AS lost` : 'false AS lost';
  const counted = `SELECT count(*)::int AS n, (array_agg(id::text ORDER BY id) FILTER (WHERE lost))[1:5] AS lost FROM u`;
  // the pages [$1, $2), rows not copied yet, of the wave's residues
  // (an empty value that converts to empty needs no copy: without the condition such a row
  // was written again at every visit, each time a new row version)
  const nonEmpty = opts.emptyStaysEmpty ? ` AND t.${opts.emptyStaysEmpty} IS NOT NULL` : '';
  const range = /* sql */ `t.ctid >= format('(%s,0)', $1::bigint)::tid AND t.ctid < format('(%s,0)', $2::bigint)::tid AND t.${shadow} IS NULL${nonEmpty} AND (t.id & ${BACKFILL_MODULUS - 1}) = ANY ($3::int8[])`;
  const update = `UPDATE ${run.relation} t SET ${shadow} = ${convertedSql} WHERE ${range}`;
  // The last wave records the watermark on the change's row, in the same statement, and
  // reads the relation's file (after this statement's lock: no rewrite meanwhile).
  const recordSql = /* sql */ `WITH u AS (${update} RETURNING t.id, ${emptied}),
          n AS (${counted})
     UPDATE tablewright.online_changes c SET step = 'backfill',
            -- a range with a lost value is not recorded: a resumed copy finds it again
            backfill_page = CASE WHEN n.lost IS NULL THEN greatest(c.backfill_page, $5::bigint) ELSE c.backfill_page END,
            done = CASE WHEN n.lost IS NULL THEN c.done + $6::bigint + n.n ELSE c.done END
       FROM n WHERE c.id = $4
   RETURNING n.n, n.lost, c.cancel_requested, pg_relation_filenode(${rel}::regclass)::text AS filenode`;

  // Each statement's settings, transaction-local, sent before the same Sync as the
  // statement (one implicit transaction, one round trip: db/bounded_query.ts), so they hold
  // for it alone, also behind a transaction-pooling PgBouncer, where session settings would
  // follow the server connection to other clients (a session SET of synchronous_commit
  // there made other clients' commits asynchronous; of tablewright.reason, their writes
  // unrecorded in the row history).
  // synchronous_commit off: a wave's COMMIT returns without waiting for its WAL to reach
  // the disk (one flush per wave was one wait per statement; the WAL writer flushes within
  // wal_writer_delay). Safe because PostgreSQL replays the WAL in order, so a server crash
  // loses a suffix of commits, never one in the middle: the watermark is written on
  // tablewright.online_changes in the same transaction as a range's last wave, and only
  // once every range below it has committed, so a crash keeps it only with every wave
  // below it. A resumed change starts from the watermark and goes through the ranges
  // above it again (the conversion depends on the row only; a row written since has its
  // shadow value from the sync trigger in that write's own, synchronous, commit, whose
  // flush also covers every wave before it). Anything later that depends on the copy
  // (the step 'backfilled', the swap) commits synchronously on other sessions, and its
  // flush covers these commits too. Only the copy's own statements commit asynchronously.
  // backend_flush_after: the pages the copy dirties go to the disk as it writes them,
  // instead of piling up in the kernel's cache (here up to 10% of 23 GB before it writes
  // them back on its own) until the next checkpoint's fsync flushes them all at once, and
  // every other client's commit waits for its WAL flush behind that fsync. A copy writes
  // its table over again (WAL at about 50 MB/s here, so with max_wal_size 1 GB a checkpoint
  // every 10 s); without it the bench's concurrent writes stalled up to 212 to 314 ms in
  // checkpoints' sync phases (3 runs); with it, at most 56 ms in the three type changes
  // alone (2 runs) and 93 to 130 ms in the whole bench (3 runs), single writes still in
  // sync phases (the setting PostgreSQL's own checkpointer uses, 256 kB; no effect on
  // platforms without writeback control).
  const lockMs = Math.max(1, Math.floor(run.deps.config.lockTimeoutMs));
  const settings = [
    `SELECT set_config('statement_timeout', '0', true), set_config('lock_timeout', '${lockMs}ms', true), set_config('timezone', 'UTC', true), set_config('tablewright.reason', 'schema', true), set_config('synchronous_commit', 'off', true), set_config('backend_flush_after', '${BACKFILL_FLUSH_AFTER}', true)`,
  ];

  /** One session's copy: the next range of pages, until there is none or the copy stops. */
  const worker = async (client: pg.PoolClient, copy: Copy, me: number): Promise<void> => {
    // Each statement is a transaction of its own: one that waited past lock_timeout (a
    // user's transaction holding a row) or lost a deadlock changed nothing, and is sent
    // again after a pause, rather than rolling back a change hours into its copy.
    const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R> | null> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await inFlight(copy.running, me, () => queryAfter(client, settings, sql, params) as Promise<pg.QueryResult<R>>);
        } catch (err) {
          const code = (err as { code?: string }).code;
          // another session stopped the copy (a cancel, a lost value, a rewrite): this
          // statement changed nothing, and the copy ends as that session said
          if (code && RETRIED.has(code) && copy.stop) return null;
          if (!code || !RETRIED.has(code) || attempt > RETRIES) throw err;
          run.deps.log.info({ onlineChange: run.change.id, code, attempt, page: params[0] }, 'backfill statement waited too long for a row lock (or lost a deadlock): trying it again');
          await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt)));
          // stopped by another session during the pause: not sent again
          if (copy.stop) return null;
        }
      }
    };
    let span = fixed || BACKFILL_FIRST_PAGES;
    // the pages of one statement, by kind of wave (nextChunk): a part's whole until a statement says otherwise
    const chunk: [number | undefined, number | undefined] = [FIRST_WAVE_MAX_PAGES, undefined];
    // The most pages a statement of each kind covers. The first wave's rows move, and the
    // first change of a page after a checkpoint writes the whole page to the WAL: on the
    // bench its statements went from 0.03-0.1 ms a page to 0.55-0.9 right after one, so the
    // first statement after it, sized by the one before (384-524 pages), took 235-397 ms, a
    // write to one of its rows as long. With 64 pages at most: 113-135 ms; with 32, 131 ms
    // (the whole server stalled then, reads too: below 64 pages the size stopped mattering).
    // The later waves' rows stay on their page, already written whole by the first wave.
    const most: [number, number] = [FIRST_WAVE_MAX_PAGES, MAX_PAGES];
    while (!copy.stop && copy.next < copy.pages) {
      const from = copy.next;
      const upto = from + BigInt(span) < copy.pages ? from + BigInt(span) : copy.pages;
      copy.next = upto;
      // Each wave over the range's parts in turn (BACKFILL_PARTS): between two waves over the
      // same pages, BACKFILL_PARTS - 1 other statements of this session. The statements of
      // the other sessions (and readers) that began before a wave committed keep its old
      // versions alive until they end, and the next wave over those pages cannot prune
      // them: it finds no room, and its updates are not HOT. On the bench's table with two
      // sessions and traffic: 50% of the updates HOT in one part, 64% in two; and waiting
      // for the other session's older statement (othersSentBefore) before a wave, 85%.
      const parts = splitRange(from, upto, BACKFILL_PARTS);
      const statements = BACKFILL_WAVES.flatMap((residues) => parts.map(() => ({ residues })));
      let n = 0;
      // the longest a wave took over one part (its statements' times added up): what the range's size follows
      let slowest = 0;
      // when each part's last wave committed (its answer came back)
      const committed = parts.map(() => 0);
      for (const [i, { residues }] of statements.entries()) {
        const p = i % parts.length;
        if (committed[p]) await othersSentBefore(copy.running, me, committed[p]!);
        // the first wave's rows move to other pages (slow), the others' mostly stay (HOT)
        const kind = i < parts.length ? 0 : 1;
        const [lo, hi] = parts[p]!;
        const partPages = Number(hi - lo);
        // the part in statements of chunk[kind] pages (nextChunk), the whole part with a fixed range
        let partMs = 0;
        for (let a = lo; a < hi; ) {
          // Another session stopped the copy (a cancel, a lost value, a rewrite, a failure):
          // the rest of this range is not sent (its statements would be up to 59, the
          // cancel that much later; after a rewrite, pages of the old file). The range is not
          // recorded; its rows copied so far count.
          if (copy.stop) return void (copy.done += n);
          const b = fixed ? hi : statementEnd(a, hi, chunk[kind] ?? partPages);
          const bounds = [String(a), String(b)];
          const last = i === statements.length - 1 && b === hi;
          const t0 = performance.now();
          if (!last && !lostSql) {
            const r = await query(update, [...bounds, residues]);
            if (!r) return void (copy.done += n);
            n += r.rowCount ?? 0;
          } else if (!last) {
            const r = await query<{ n: number; lost: string[] | null }>(`WITH u AS (${update} RETURNING t.id, ${emptied}) ${counted}`, [...bounds, residues]);
            if (!r) return void (copy.done += n);
            const { rows } = r;
            n += rows[0]?.n ?? 0;
            // stop before the range is recorded: a resumed copy goes through this range again
            if (rows[0]?.lost?.length) return void Object.assign(copy, { stop: 'lost', lost: rows[0].lost });
          } else {
            // the watermark once this range is copied: past it and the ranges copied after it
            let mark = copy.watermark;
            if (from <= mark) for (mark = upto; copy.copied.has(mark); ) mark = copy.copied.get(mark)!;
            const r = await query<{ n: number; lost: string[] | null; cancel_requested: boolean; filenode: string }>(recordSql, [...bounds, residues, run.change.id, String(mark), n]);
            if (!r) return void (copy.done += n);
            const { rows } = r;
            n += rows[0]?.n ?? 0;
            if (rows[0]?.lost?.length) return void Object.assign(copy, { stop: 'lost', lost: rows[0].lost });
            if (rows[0]?.cancel_requested) copy.stop ??= 'cancel';
            // The table was rewritten meanwhile: its rows are at other pages.
            if (rows[0] && rows[0].filenode !== copy.filenode) copy.stop ??= 'rewritten';
          }
          const ms = performance.now() - t0;
          const pages = Number(b - a);
          // a statement that held its rows far past the aim: a write to one of them waited that long
          if (ms > 2 * BACKFILL_BATCH_MS) run.deps.log.debug({ onlineChange: run.change.id, statement: i, ms: Math.round(ms), pages, span, page: bounds[0] }, 'backfill statement over twice its aim');
          // Each statement holds its rows' locks while it runs: its time is the write stall.
          // A part's last statement may be shorter than the size in use: a quick one does not
          // shrink the next, and a slow one shrinks the size in use, not its own (one of 2
          // pages over 50 ms, a commit that waited, would otherwise make the next of 1 page).
          if (!fixed) chunk[kind] = ms <= BACKFILL_BATCH_MS ? Math.max(chunk[kind] ?? 0, nextChunk(pages, ms, most[kind])) : nextChunk(Math.max(pages, chunk[kind] ?? 0), ms, most[kind]);
          partMs += ms;
          a = b;
        }
        committed[p] = performance.now();
        slowest = Math.max(slowest, partMs);
      }
      copy.done += n;
      copy.copied.set(from, upto);
      while (copy.copied.has(copy.watermark)) copy.watermark = copy.copied.get(copy.watermark)!;
      if (!fixed) span = nextSpan(span, slowest);
      if (me === 0 && Date.now() - copy.holderChecked >= HOLDER_CHECK_MS) await lookForHolder(client, copy);
      if (Date.now() - copy.reported >= PROGRESS_EVERY_MS) {
        copy.reported = Date.now();
        await run.progress({ done: copy.done, total: Math.max(total, copy.done) });
      }
    }
  };

  const began = new Date();
  const copyPhase = 'copying rows into the new column (the table keeps serving)';
  /** A writing transaction left open in the cluster: named once in the log, and in the phase while it stays open. */
  const lookForHolder = async (client: pg.PoolClient, copy: Copy): Promise<void> => {
    copy.holderChecked = Date.now();
    const h = await cleanupHolder(client, began);
    if (h?.pid === copy.holder) return;
    copy.holder = h?.pid;
    if (h) run.deps.log.warn({ onlineChange: run.change.id, pid: h.pid, database: h.database, since: h.since }, 'a writing transaction left open in the cluster keeps the copy from pruning old row versions: every copied row moves (slower, the table larger); end it to speed the copy up');
    await run.progress({ phase: h ? heldPhase(copyPhase, h) : copyPhase });
  };

  try {
    for (let i = 0; i < workers; i++) {
      const client = await run.deps.pool.connect();
      clients.push({ client });
    }
    // The relation's file and size now; its size read after the sync trigger committed
    // covers every row that existed before it.
    const where = async (): Promise<Position> => {
      const { rows } = await clients[0]!.client.query<{ filenode: string; pages: string; cluster: string }>(
        `SELECT pg_relation_filenode(${rel}::regclass)::text AS filenode, (pg_relation_size(${rel}::regclass) / current_setting('block_size')::int)::text AS pages,
                (SELECT system_identifier::text FROM pg_control_system()) AS cluster`,
      );
      const r = rows[0]!;
      // a restore into another cluster may give the table the same file number
      return { page: 0n, pages: BigInt(r.pages), filenode: r.filenode, file: `${r.cluster}/${r.filenode}` };
    };
    let at = await where();
    // resumed in the same file: after the last range recorded; else from page 0
    if (change.backfill_page != null && change.backfill_file === at.file) at.page = BigInt(change.backfill_page);
    let done = at.page > 0n ? Number(change.done) : 0;
    for (;;) {
      await clients[0]!.client.query(`UPDATE tablewright.online_changes SET backfill_page = $2, backfill_file = $3, done = $4 WHERE id = $1`, [run.change.id, String(at.page), at.file, done]);
      await run.progress({ phase: copyPhase, done, total });
      const copy: Copy = { next: at.page, pages: at.pages, filenode: at.filenode, watermark: at.page, copied: new Map(), done, lost: [], reported: Date.now(), running: new Map(), holderChecked: 0 };
      const ends = await Promise.allSettled(
        clients.map((c, i) =>
          worker(c.client, copy, i).catch((err: Error) => {
            copy.stop = 'failed';
            if ((err as { code?: string }).code === undefined) c.broken = err;
            throw err;
          }),
        ),
      );
      const failed = ends.find((e): e is PromiseRejectedResult => e.status === 'rejected');
      if (failed) throw failed.reason;
      if (copy.stop === 'lost') return copy.lost.slice(0, 5);
      if (copy.stop === 'cancel') throw new CancelledError();
      if (copy.stop !== 'rewritten') {
        await run.progress({ done: copy.done, total: Math.max(total, copy.done) });
        return [];
      }
      // From page 0 of the new file (rows copied already are skipped).
      const before = at.filenode;
      at = await where();
      done = copy.done;
      run.deps.log.info({ onlineChange: run.change.id, from: before, to: at.filenode }, 'the table was rewritten during the copy: going through it again from its first page');
    }
  } finally {
    for (const c of clients) c.client.release(c.broken);
  }
}
