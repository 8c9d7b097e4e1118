// A pass over a table's pages that changes a few rows (op_link_in_place: the values that
// do not survive a change, moved aside; on rollback, moved back): one UPDATE a range of
// pages, each its own implicit transaction, so it holds row locks on the rows it changes
// only, and only for that statement. The copy (backfill.ts) rewrites every row and needs
// its waves and parts; a sweep reads every row and writes a few, so one statement a range
// and one session. The range grows or shrinks so that a statement takes about
// BACKFILL_BATCH_MS (the longest a write to one of its rows waits).
//
// Which rows: every row that existed when the sweep began is on a page below the
// relation's size read then, unless the table is rewritten meanwhile (VACUUM FULL,
// CLUSTER: a new relation file, which each statement reads): then the sweep goes through
// the new file from its first page. A row written since is the caller's (its trigger).
import type pg from 'pg';
import { literal } from '../../db/ident.js';
import { queryAfter } from '../../db/bounded_query.js';
import { BACKFILL_BATCH_MS, nextSpan } from './backfill.js';
import { CancelledError, type OnlineRun } from './steps.js';

const FIRST_PAGES = 128;
const RETRIES = 10;
const RETRIED = new Set(['55P03', '40P01']);

interface SweepRow {
  n: number;
  cancel_requested: boolean;
  filenode: string;
}

export interface SweepOptions {
  /** record the position on the change's row (backfill_page, backfill_file), resume from it, and stop on a cancel */
  record?: boolean;
  /** what the job page shows meanwhile */
  phase: string;
  /** the table's rows (the loss report's count): progress is shown as rows, in proportion to the pages gone through */
  total?: number;
}

/**
 * `UPDATE relation t SET <set> WHERE <where>` over every page of the table, range by
 * range; answers how many rows it changed. `set` and `where` name the table t and are
 * built by the caller from quoted identifiers and the conversion's SQL (no values).
 */
export async function sweep(run: OnlineRun, set: string, where: string, opts: SweepOptions): Promise<number> {
  const rel = literal(run.relation);
  const lockMs = Math.max(1, Math.floor(run.deps.config.lockTimeoutMs));
  const settings = [
    `SELECT set_config('statement_timeout', '0', true), set_config('lock_timeout', '${lockMs}ms', true), set_config('timezone', 'UTC', true), set_config('tablewright.reason', 'schema', true)`,
  ];
  const update = /* sql */ `UPDATE ${run.relation} t SET ${set}
      WHERE t.ctid >= format('(%s,0)', $1::bigint)::tid AND t.ctid < format('(%s,0)', $2::bigint)::tid AND (${where}) RETURNING 1`;
  const statement = opts.record
    ? /* sql */ `WITH u AS (${update})
       UPDATE tablewright.online_changes c SET backfill_page = greatest(c.backfill_page, $2::bigint)
        WHERE c.id = $3
       RETURNING (SELECT count(*)::int FROM u) AS n, c.cancel_requested, pg_relation_filenode(${rel}::regclass)::text AS filenode`
    : /* sql */ `WITH u AS (${update}) SELECT (SELECT count(*)::int FROM u) AS n, false AS cancel_requested, pg_relation_filenode(${rel}::regclass)::text AS filenode`;
  const client = await run.deps.pool.connect();
  let broken: Error | undefined;
  try {
    const position = async () => {
      const { rows } = await client.query<{ filenode: string; pages: string; file: string }>(
        `SELECT pg_relation_filenode(${rel}::regclass)::text AS filenode, (pg_relation_size(${rel}::regclass) / current_setting('block_size')::int)::text AS pages,
                (SELECT system_identifier::text FROM pg_control_system()) || '/' || pg_relation_filenode(${rel}::regclass)::text AS file`,
      );
      return { filenode: rows[0]!.filenode, pages: BigInt(rows[0]!.pages), file: rows[0]!.file };
    };
    let at = await position();
    let page = 0n;
    if (opts.record) {
      const { rows } = await client.query<{ page: string | null; file: string | null }>(`SELECT backfill_page AS page, backfill_file AS file FROM tablewright.online_changes WHERE id = $1`, [run.change.id]);
      if (rows[0]?.page != null && rows[0].file === at.file) page = BigInt(rows[0].page);
      else await client.query(`UPDATE tablewright.online_changes SET backfill_page = 0, backfill_file = $2 WHERE id = $1`, [run.change.id, at.file]);
    }
    let changed = 0;
    // a fixed range (payload batch_pages, as the copy takes it) for tests that stop it at a known page
    const asked = Number(run.change.payload?.batch_pages);
    const fixed = Number.isInteger(asked) && asked >= 1 && asked <= 4096 ? asked : 0;
    let span = fixed || FIRST_PAGES;
    let reported = 0;
    for (;;) {
      if (page >= at.pages) return changed;
      const upto = page + BigInt(span) < at.pages ? page + BigInt(span) : at.pages;
      const params = opts.record ? [String(page), String(upto), run.change.id] : [String(page), String(upto)];
      const t0 = performance.now();
      let res: pg.QueryResult<SweepRow> | undefined;
      for (let attempt = 1; !res; attempt++) {
        try {
          res = (await queryAfter(client, settings, statement, params)) as pg.QueryResult<SweepRow>;
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === undefined) broken = err as Error;
          if (!code || !RETRIED.has(code) || attempt > RETRIES) throw err;
          run.deps.log.info({ onlineChange: run.change.id, code, attempt, page: String(page) }, 'sweep statement waited too long for a row lock (or lost a deadlock): trying it again');
          await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt)));
        }
      }
      const r = res.rows[0]!;
      changed += r.n;
      if (r.cancel_requested) throw new CancelledError();
      if (r.filenode !== at.filenode) {
        // rewritten meanwhile: its rows are at other pages; again from the new file's first page
        run.deps.log.info({ onlineChange: run.change.id, from: at.filenode, to: r.filenode }, 'the table was rewritten during a sweep: going through it again from its first page');
        at = await position();
        page = 0n;
        if (opts.record) await client.query(`UPDATE tablewright.online_changes SET backfill_page = 0, backfill_file = $2 WHERE id = $1`, [run.change.id, at.file]);
        continue;
      }
      page = upto;
      if (!fixed) span = nextSpan(span, performance.now() - t0, BACKFILL_BATCH_MS);
      if (Date.now() - reported >= 500 || page >= at.pages) {
        reported = Date.now();
        const total = opts.total ?? Number(run.change.total ?? 0);
        await run.progress({ phase: opts.phase, done: at.pages ? Math.round((total * Number(page)) / Number(at.pages)) : total, total });
      }
    }
  } finally {
    client.release(broken);
  }
}
