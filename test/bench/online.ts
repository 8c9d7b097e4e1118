// Online schema changes (issue 13) on a big table while a read loop and a write loop run
// through a pool the whole time: for each change, the API time to done (online path), the
// plain blocking DDL's time on an identical column of the same table, and the p99 / max
// latency of the concurrent reads and writes during each, next to their baseline.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import pg from 'pg';
import { startApp, type TestApp } from '../helpers/app.js';
import { percentile } from './lib.js';

const ROWS = Number(process.env.BENCH_ONLINE_ROWS ?? 2_000_000);
/** BENCH_ONLINE_ONLY: a comma-separated list of changes to run (words of their names, e.g. `text,link`); all by default. */
const ONLY = (process.env.BENCH_ONLINE_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean);

interface Lat {
  reads: number[];
  writes: number[];
  /** the ops slower than SLOW_MS: when they started (epoch ms), which loop, how long */
  slow: Array<{ at: number; kind: 'reads' | 'writes'; ms: number }>;
}
/** BENCH_ONLINE_SLOW_MS: print each concurrent op slower than this next to the step it overlapped (diagnosis; off by default). */
const SLOW_MS = Number(process.env.BENCH_ONLINE_SLOW_MS ?? 0);
/** BENCH_ONLINE_SETTLE_MS: traffic alone for this long between the blocking DDL and the online change, printed (BENCH_ONLINE_CHECKPOINT=1: a CHECKPOINT in it). */
const SETTLE_MS = Number(process.env.BENCH_ONLINE_SETTLE_MS ?? 0);

/** Reads (a row by id) and writes (an update of another column) back to back until stopped. */
function traffic(pool: pg.Pool) {
  const lat: Lat = { reads: [], writes: [], slow: [] };
  let stop = false;
  const loop = async (kind: 'reads' | 'writes') => {
    while (!stop) {
      const id = 1 + Math.floor(Math.random() * ROWS);
      const at = Date.now();
      const t0 = performance.now();
      if (kind === 'reads') await pool.query('SELECT * FROM data.big WHERE id = $1', [id]);
      else await pool.query('UPDATE data.big SET touched = touched + 1 WHERE id = $1', [id]);
      const ms = performance.now() - t0;
      lat[kind].push(ms);
      if (SLOW_MS && ms >= SLOW_MS) lat.slow.push({ at, kind, ms });
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const running = Promise.all([loop('reads'), loop('writes')]);
  return {
    async end(): Promise<Lat> {
      stop = true;
      await running;
      return lat;
    },
  };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p99: percentile(s, 99), max: s.at(-1) ?? 0, n: s.length };
};
const f = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

async function waitJob(app: TestApp, id: number): Promise<any> {
  for (;;) {
    const { body } = await app.request('GET', `/jobs/${id}`);
    if (body.status === 'done') return body;
    if (body.status === 'failed') throw new Error(`job ${id} failed: ${JSON.stringify(body.error)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Each slow op next to the audit rows (the steps: \`at\` is when each step's transaction began) around it. */
async function printSlow(pool: pg.Pool, tableId: number, slow: Lat['slow'], began: number): Promise<void> {
  const from = new Date(Math.min(began, ...slow.map((s) => s.at)) - 60_000);
  const { rows } = await pool.query<{ at: Date; operation: string }>(`SELECT at, operation FROM tablewright.audit WHERE table_id = $1 AND at >= $2 ORDER BY at`, [tableId, from]);
  const mine = rows.filter((r) => r.at.getTime() >= began);
  process.stdout.write(`    steps (audit time, from the request): ${mine.map((r) => `${r.operation.replace(/^online_[a-z_]+:/, '')} ${f(r.at.getTime() - began)}`).join(', ')}\n`);
  for (const s of slow) {
    const before = rows.filter((r) => r.at.getTime() <= s.at).at(-1);
    const after = rows.find((r) => r.at.getTime() > s.at);
    const rel = (r?: { at: Date; operation: string }) => (r ? `${r.operation} (${r.at.getTime() - s.at} ms)` : '-');
    process.stdout.write(`    slow ${s.kind} ${f(s.ms)} at ${new Date(s.at).toISOString().slice(11, 23)}, ${f(s.at - began)} into the change: after ${rel(before)}, before ${rel(after)}\n`);
  }
}

/** The table's row updates so far, and how many were HOT (the statistics lag by up to a second). */
async function updates(pool: pg.Pool): Promise<{ n: number; hot: number; pages: number }> {
  await new Promise((r) => setTimeout(r, 1000));
  const { rows } = await pool.query(`SELECT n_tup_upd::int8 AS n, n_tup_hot_upd::int8 AS hot, pg_relation_size(relid) / 8192 AS pages FROM pg_stat_user_tables WHERE relid = 'data.big'::regclass`);
  return { n: Number(rows[0].n), hot: Number(rows[0].hot), pages: Number(rows[0].pages) };
}

/** A CHECKPOINT (superuser or pg_checkpoint), else nothing: not timed. */
async function checkpoint(pool: pg.Pool): Promise<void> {
  await pool.query('CHECKPOINT').catch(() => undefined);
}

export async function benchOnline(url: string): Promise<void> {
  const workers: Record<string, string> = process.env.ONLINE_BACKFILL_WORKERS ? { ONLINE_BACKFILL_WORKERS: process.env.ONLINE_BACKFILL_WORKERS } : {};
  const app = await startApp(url, { JOB_POLL_MS: '50', DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off', STATEMENT_TIMEOUT_MS: '0', ...workers }, 'bench');
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  try {
    const target = (await app.request('POST', '/tables', { json: { name: 'Target', fields: [{ name: 'Label', type: 'text' }] } })).body;
    await pool.query(`INSERT INTO data.target (label) SELECT 't' || g FROM generate_series(1, 1000) g`);
    const t = (
      await app.request('POST', '/tables', {
        json: {
          name: 'Big',
          fields: [
            { name: 'U', type: 'text', column: 'u' },
            { name: 'Ix', type: 'text', column: 'ix' },
            { name: 'Nn', type: 'text', column: 'nn' },
            { name: 'Num', type: 'number', column: 'num' },
            { name: 'Txt', type: 'text', column: 'txt' },
            { name: 'Lnk', type: 'number', column: 'lnk' },
            { name: 'Touched', type: 'number', column: 'touched' },
          ],
        },
      })
    ).body;
    const fid = (col: string) => t.fields.find((x: { column: string }) => x.column === col).id as number;
    // The blocking DDL runs on an identical plain column (b_*) of the same table: of the type
    // the field's column has (a whole number is bigint), converted as the one-transaction
    // path converts it.
    await pool.query(`ALTER TABLE data.big ADD COLUMN b_u text, ADD COLUMN b_ix text, ADD COLUMN b_nn text, ADD COLUMN b_num bigint, ADD COLUMN b_txt text, ADD COLUMN b_lnk bigint`);
    const t0 = performance.now();
    // Filled as an import is (reason import): the row history does not record the fill.
    const filler = await pool.connect();
    await filler.query(`BEGIN; SELECT set_config('tablewright.reason', 'import', true)`);
    await filler.query(
      `INSERT INTO data.big (u, ix, nn, num, txt, lnk, touched, b_u, b_ix, b_nn, b_num, b_txt, b_lnk)
       SELECT 'u' || g, 'k' || (g % 1000), 'n', g, CASE WHEN g % 1000 = 0 THEN 'x' || g ELSE g::text END, g % 1000 + 1, 0,
              'u' || g, 'k' || (g % 1000), 'n', g, CASE WHEN g % 1000 = 0 THEN 'x' || g ELSE g::text END, g % 1000 + 1
         FROM generate_series(1, ${ROWS}) g`,
    );
    await filler.query('COMMIT');
    filler.release();
    await pool.query('VACUUM ANALYZE data.big');
    const { rows: size } = await pool.query(`SELECT pg_size_pretty(pg_total_relation_size('data.big')) AS s`);
    process.stdout.write(`\nOnline schema changes on ${ROWS.toLocaleString('en')} rows (${size[0].s}, filled in ${f(performance.now() - t0)}); a read loop and a write loop through a pool of 4 all along; a CHECKPOINT before each measured change; backfill sessions: ${app.ctx.config.onlineBackfillWorkers}\n`);

    const base = traffic(pool);
    await new Promise((r) => setTimeout(r, 3000));
    const b = await base.end();
    const br = stats(b.reads);
    const bw = stats(b.writes);
    process.stdout.write(`baseline (3 s, nothing running): reads p99 ${f(br.p99)} max ${f(br.max)} (${br.n}); writes p99 ${f(bw.p99)} max ${f(bw.max)} (${bw.n})\n\n`);

    const changes = [
      { what: 'add UNIQUE', col: 'u', body: { unique: true }, ddl: `ALTER TABLE data.big ADD CONSTRAINT b_uq UNIQUE (b_u)` },
      { what: 'add index', col: 'ix', body: { indexed: true }, ddl: `CREATE INDEX b_ix_idx ON data.big (b_ix)` },
      { what: 'set NOT NULL', col: 'nn', body: { not_null: true }, ddl: `ALTER TABLE data.big ALTER COLUMN b_nn SET NOT NULL` },
      { what: 'number -> text', col: 'num', body: { type: 'text' }, ddl: `ALTER TABLE data.big ALTER COLUMN b_num TYPE text USING b_num::text` },
      { what: 'text -> number (0.1% lossy)', col: 'txt', body: { type: 'number', confirm_loss: 1 }, ddl: `ALTER TABLE data.big ALTER COLUMN b_txt TYPE bigint USING tablewright.try_number(b_txt, 0)` },
      {
        what: 'number -> link (filled)',
        col: 'lnk',
        body: { type: 'link', options: { table_id: target.id } },
        // A whole number is a bigint already, as a link: a DBA adds the foreign key and its
        // index (a link field is indexed: both paths build it), no rewrite.
        ddl: `ALTER TABLE data.big ADD CONSTRAINT b_fk FOREIGN KEY (b_lnk) REFERENCES data.target (id) ON DELETE SET NULL; CREATE INDEX b_lnk_idx ON data.big (b_lnk)`,
      },
      // last: a member of an index over several fields cannot change type
      { what: 'index over 2 fields', col: 'ix', multi: ['ix', 'u'], body: {}, ddl: `CREATE INDEX b_multi_idx ON data.big (b_ix, b_u)` },
    ];
    const header = ['change', 'API to done (online)', 'blocking DDL', 'online: reads p99 / max', 'online: writes p99 / max', 'blocking: reads p99 / max', 'blocking: writes p99 / max'];
    const lines: string[][] = [];
    for (const c of changes) {
      if (ONLY.length && !ONLY.some((w) => c.what.includes(w))) continue;
      // Each measured change starts from a checkpoint: the writeback of the one before (a
      // table rewritten: 300 MB of dirty pages) does not land on it. Without this, the
      // online changes measured reads and writes stalled 170-300 ms at once by the blocking
      // DDL's writeback (the event loop was not: 28 ms at most); after a CHECKPOINT, 27-34 ms.
      await checkpoint(pool);
      // the plain DDL, as one blocking statement
      const tb = traffic(pool);
      const d0 = performance.now();
      try {
        await pool.query(c.ddl);
      } catch (err) {
        process.stdout.write(`  (${c.what}: the plain DDL failed: ${(err as Error).message})\n`);
      }
      const ddlMs = performance.now() - d0;
      const lb = await tb.end();
      if (SETTLE_MS) {
        // the traffic right after the blocking DDL, nothing else running: what its writeback costs others
        const ts = performance.now();
        const tw = traffic(pool);
        if (process.env.BENCH_ONLINE_CHECKPOINT) await pool.query('CHECKPOINT');
        await new Promise((r) => setTimeout(r, Math.max(0, SETTLE_MS - (performance.now() - ts))));
        const ls = await tw.end();
        const [sr, sw] = [stats(ls.reads), stats(ls.writes)];
        process.stdout.write(`    after the blocking DDL (${f(performance.now() - ts)}${process.env.BENCH_ONLINE_CHECKPOINT ? ', CHECKPOINT' : ''}): reads p99 ${f(sr.p99)} max ${f(sr.max)}; writes p99 ${f(sw.p99)} max ${f(sw.max)}\n`);
      }
      // the online path through the API
      await checkpoint(pool);
      const upd0 = await updates(pool);
      const to = traffic(pool);
      // the app runs in this process: a stall of its event loop delays the traffic's timings too
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const o0 = performance.now();
      const began = Date.now();
      try {
        const multi = (c as { multi?: string[] }).multi;
        const res = multi
          ? await app.request('POST', `/tables/${t.id}/indexes`, { json: { fields: multi.map(fid), online: 1 } })
          : await app.request('PATCH', `/tables/${t.id}/fields/${fid(c.col)}`, { json: { ...c.body, online: 1 } });
        if (res.status !== 202) throw new Error(`${c.what}: ${res.status} ${res.text}`);
        await waitJob(app, res.body.id);
      } catch (err) {
        await to.end();
        throw err;
      }
      const onlineMs = performance.now() - o0;
      const lo = await to.end();
      loop.disable();
      if (SLOW_MS) {
        await printSlow(pool, t.id, lo.slow, began);
        process.stdout.write(`    event loop delay (the app and this bench share it): p99 ${f(loop.percentile(99) / 1e6)} max ${f(loop.max / 1e6)}\n`);
        const upd1 = await updates(pool);
        const [n, hot] = [upd1.n - upd0.n, upd1.hot - upd0.hot];
        process.stdout.write(`    row updates ${n} (${n ? Math.round((100 * hot) / n) : 0}% HOT), the table now ${upd1.pages} pages\n`);
      }
      const [or, ow, xr, xw] = [stats(lo.reads), stats(lo.writes), stats(lb.reads), stats(lb.writes)];
      lines.push([c.what, f(onlineMs), f(ddlMs), `${f(or.p99)} / ${f(or.max)}`, `${f(ow.p99)} / ${f(ow.max)}`, `${f(xr.p99)} / ${f(xr.max)}`, `${f(xw.p99)} / ${f(xw.max)}`]);
      process.stdout.write(`  ${lines.at(-1)!.join(' | ')}\n`);
    }
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
    process.stdout.write(`\n${row(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${lines.map(row).join('\n')}\n`);
    process.stdout.write(`memory: rss ${Math.round(process.memoryUsage().rss / 1024 / 1024)} MB at the end\n`);
  } finally {
    await pool.end();
    await app.stop();
  }
}
