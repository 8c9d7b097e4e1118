// Issue 15's figures: the row API next to the floor under it, measured side by side in one
// run: the same SQL sent directly over a pg pool, a bare node:http + pg server
// (bare_server.ts: no framework, no validation), and Tablewright with every feature on
// (bearer token, validation, logging at info, metrics). Each gets its own fresh 50-field
// table (20 text, 15 numbers with 2 decimals, 5 booleans, 10 dates). Workloads, each
// repeated 3 times in turn across the three targets, medians reported: create one row per
// request (10,000 requests), then list a page of 100 sorted by a number and filtered by
// `contains` (2,000 requests); concurrency 8. The servers run in their own processes.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import autocannon from 'autocannon';
import type pg from 'pg';
import { loadConfig } from '../../server/config.js';
import { createPool } from '../../server/db/pool.js';
import { createToken } from '../../server/auth/tokens.js';
import { compileModel, ROW_ALIAS } from '../../server/model/compile.js';
import { createTable } from '../../server/schema/tables.js';
import { projectRoot } from '../../server/paths.js';
import { testLog } from '../helpers/db.js';
import { cliPath } from '../helpers/process.js';
import { percentile } from './lib.js';

const CONCURRENCY = 8;
const INSERTS = Number(process.env.BENCH_HTTP_INSERTS ?? 10_000);
const LISTS = Number(process.env.BENCH_HTTP_LISTS ?? 2_000);
const REPEATS = Number(process.env.BENCH_HTTP_REPEATS ?? 3);
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];

type Target = 'sql' | 'bare' | 'tablewright';
interface Run {
  perSecond: number;
  p99: number;
}

const fieldSpecs = [
  ...Array.from({ length: 20 }, (_, i) => ({ name: `Text ${i}`, type: 'text' })),
  ...Array.from({ length: 15 }, (_, i) => ({ name: `Number ${i}`, type: 'number', options: { decimals: 2 } })),
  ...Array.from({ length: 5 }, (_, i) => ({ name: `Flag ${i}`, type: 'boolean' })),
  ...Array.from({ length: 10 }, (_, i) => ({ name: `Day ${i}`, type: 'date' })),
];

/** Row i of the workload, keyed by column (types in the order of fieldSpecs). */
function rowValues(columns: string[], i: number): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  columns.forEach((c, k) => {
    if (k < 20) row[c] = `${WORDS[(i + k) % WORDS.length]} row ${i} text ${k}`;
    else if (k < 35) row[c] = (((i * 7919 + k * 104729) % 1_000_000) / 100).toFixed(2);
    else if (k < 40) row[c] = (i + k) % 2 === 0;
    else row[c] = `20${String(10 + ((i + k) % 15)).padStart(2, '0')}-0${1 + ((i + k) % 9)}-${String(1 + ((i + k) % 28)).padStart(2, '0')}`;
  });
  return row;
}

function startProcess(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, args, { cwd: projectRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      if (out === null) return;
      out += chunk.toString();
      const line = out.split('\n').find((l) => ready.test(l));
      if (line) {
        out = null as unknown as string;
        resolve({ child, line });
      }
    };
    // Logs keep flowing to a pipe, as in production; they are read and dropped.
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready: ${out}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** CPU time (user + system) a process has used so far, in ms; undefined off Linux. */
async function cpuMs(pid: number | undefined): Promise<number | undefined> {
  try {
    const fields = (await fs.readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return undefined;
  }
}

async function cannon(opts: autocannon.Options, amount: number): Promise<Run> {
  // autocannon notices the last answer only at its next sample (sampleInt, 1 s by
  // default): its duration was whole seconds, so a 13-second run read as 769/s whether it
  // took 12.1 s or 13.0 s (up to 8% either way). Sampled every 50 ms, that error is < 0.5%.
  const r = await autocannon({ connections: CONCURRENCY, amount, sampleInt: 50, ...opts });
  if (r.non2xx || r.errors) throw new Error(`${opts.url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return { perSecond: r.requests.total / (r.duration || 1), p99: r.latency.p99 };
}

async function concurrent(pool: pg.Pool, total: number, fn: (i: number) => Promise<unknown>): Promise<Run> {
  const times: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        await fn(i);
        times.push(performance.now() - s);
      }
    }),
  );
  times.sort((a, b) => a - b);
  return { perSecond: total / ((performance.now() - t0) / 1000), p99: percentile(times, 99) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchHttp(url: string): Promise<void> {
  const config = loadConfig({ DATABASE_URL: url, LOCK_TIMEOUT_MS: '60000' });
  const pool = createPool({ connectionString: url, max: 10, connectTimeoutMs: 5000 }, testLog);
  const deps = { pool, log: testLog, config };
  const procs: ChildProcess[] = [];
  try {
    const tables = {} as Record<Target, { id: number; columns: string[]; insert: string; list: string }>;
    for (const target of ['sql', 'bare', 'tablewright'] as Target[]) {
      const t = await createTable(deps, { name: 'bench' }, { name: `Http ${target}`, fields: fieldSpecs });
      const model = await compileModel(pool, config.dataSchema, t.id);
      const columns = model.fields.map((f) => f.column);
      // The SQL Tablewright sends for these two requests (server/model/rows.ts).
      const insert = `WITH ${ROW_ALIAS} AS (INSERT INTO ${model.relation} (${model.fields.map((f) => f.quoted).join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *) SELECT ${model.selectList} FROM ${ROW_ALIAS} ${model.joins}`;
      const [text0, num0] = [model.fields[0]!, model.fields[20]!];
      const list = `SELECT ${model.selectList}, (${num0.ref})::text AS "__k0", (${ROW_ALIAS}.id)::text AS "__k1" FROM ${model.from} WHERE ${text0.ref} ILIKE $1 ORDER BY ${num0.ref} ASC, ${ROW_ALIAS}.id ASC LIMIT 101`;
      tables[target] = { id: t.id, columns, insert, list };
    }
    const token = (await createToken(pool, { name: 'bench-http', role: 'admin' }, 'bench')).token;

    // BENCH_CPU_PROF=dir: both servers write a CPU profile there when they stop (bare/ and tablewright/).
    const prof = (who: string) => (process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', path.join(process.env.BENCH_CPU_PROF, who)] : []);
    const bare = await startProcess([...prof('bare'), '--import', 'tsx', path.join(projectRoot, 'test/bench/bare_server.ts')], { DATABASE_URL: url, PG_POOL_MAX: '10', BARE_SQL: JSON.stringify(tables.bare) }, /^listening \d+/);
    procs.push(bare.child);
    const bareUrl = `http://127.0.0.1:${/listening (\d+)/.exec(bare.line)![1]}`;
    const tw = await startProcess([...prof('tablewright'), '--import', 'tsx', cliPath, 'serve'], { DATABASE_URL: url, PORT: '0', LOG_LEVEL: 'info', LOG_FORMAT: 'json', PG_POOL_MAX: '10', NODE_ENV: 'production' }, /Tablewright console: http/);
    procs.push(tw.child);
    const twUrl = /Tablewright console: (http:\/\/[^"\s]+)/.exec(tw.line)![1]!.replace(/\/$/, '');
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json', 'Content-Type': 'application/json' };

    const runs: Record<string, Run[]> = {};
    const record = (key: string, r: Run) => (runs[key] ??= []).push(r);
    // The servers' own CPU per request (user + system, from /proc): what each costs the
    // machine that PostgreSQL and the load generator share, whatever the throughput.
    // And the transactions the database committed per request (each one a commit record
    // to flush): a server that writes more than its row pays for it in PostgreSQL's time.
    const cpu: Record<string, number> = {};
    const commits: Record<string, number> = {};
    const committed = async () => {
      await new Promise((r) => setTimeout(r, 1100)); // backends report their counts at most once a second
      const { rows } = await pool.query<{ n: string }>(`SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()`);
      return Number(rows[0]!.n);
    };
    const measured = async <T>(key: string, child: ChildProcess, amount: number, run: () => Promise<T>): Promise<T> => {
      const commitsBefore = await committed();
      const before = await cpuMs(child.pid);
      const r = await run();
      const after = await cpuMs(child.pid);
      const commitsAfter = await committed();
      if (before !== undefined && after !== undefined) cpu[key] = (cpu[key] ?? 0) + (after - before) / amount;
      commits[key] = (commits[key] ?? 0) + (commitsAfter - commitsBefore - 1) / amount; // less the count's own
      return r;
    };
    const postBodies = (target: Target) => {
      let i = 0;
      return [{ setupRequest: (req: any) => ({ ...req, body: JSON.stringify(rowValues(tables[target].columns, i++)) }) }];
    };
    for (let rep = 0; rep < REPEATS; rep++) {
      record('insert sql', await concurrent(pool, INSERTS, (i) => pool.query(tables.sql.insert, Object.values(rowValues(tables.sql.columns, i)))));
      record('insert bare', await measured('insert bare', bare.child, INSERTS * REPEATS, () => cannon({ url: `${bareUrl}/rows`, method: 'POST', headers: { 'Content-Type': 'application/json' }, requests: postBodies('bare') }, INSERTS)));
      record('insert tablewright', await measured('insert tablewright', tw.child, INSERTS * REPEATS, () => cannon({ url: `${twUrl}/tables/${tables.tablewright.id}/rows`, method: 'POST', headers, requests: postBodies('tablewright') }, INSERTS)));
    }
    for (const t of Object.values(tables)) await pool.query(`VACUUM ANALYZE ${(await compileModel(pool, config.dataSchema, t.id)).relation}`);
    const twList = `${twUrl}/tables/${tables.tablewright.id}/rows?size=100&sort=${tables.tablewright.columns[20]}&filter[${tables.tablewright.columns[0]}][contains]=alpha`;
    for (let rep = 0; rep < REPEATS; rep++) {
      record('list sql', await concurrent(pool, LISTS, () => pool.query(tables.sql.list, ['%alpha%'])));
      record('list bare', await measured('list bare', bare.child, LISTS * REPEATS, () => cannon({ url: `${bareUrl}/rows?contains=alpha`, headers: { Accept: 'application/json' } }, LISTS)));
      record('list tablewright', await measured('list tablewright', tw.child, LISTS * REPEATS, () => cannon({ url: twList, headers }, LISTS)));
    }
    const rss = Number(/VmRSS:\s+(\d+)/.exec(await fs.readFile(`/proc/${tw.child.pid}/status`, 'utf8'))![1]) / 1024;

    const fmt = (n: number) => Math.round(n).toLocaleString('en');
    const cell = (key: string, unit: string) => `${fmt(median(runs[key]!.map((r) => r.perSecond)))} ${unit} (p99 ${median(runs[key]!.map((r) => r.p99)).toFixed(1)} ms)`;
    const lines = [
      ['workload', 'raw SQL over a pg pool', 'bare node:http + pg', 'Tablewright', 'Tablewright / bare'],
      ...(
        [
          ['create one row per request', 'insert', 'rows/s'],
          ['list a page of 100, sorted by a number, filtered by contains', 'list', 'req/s'],
        ] as const
      ).map(([label, key, unit]) => [
        label,
        cell(`${key} sql`, unit),
        cell(`${key} bare`, unit),
        cell(`${key} tablewright`, unit),
        `${(median(runs[`${key} bare`]!.map((r) => r.perSecond)) / median(runs[`${key} tablewright`]!.map((r) => r.perSecond))).toFixed(2)}x slower, p99 ${(median(runs[`${key} tablewright`]!.map((r) => r.p99)) / median(runs[`${key} bare`]!.map((r) => r.p99))).toFixed(2)}x`,
      ]),
    ];
    const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
    process.stdout.write(`\nRow API vs the floor (concurrency ${CONCURRENCY}, ${INSERTS} inserts and ${LISTS} lists per run, median of ${REPEATS} runs; loopback)\n`);
    for (const [i, l] of lines.entries()) {
      process.stdout.write(`${l.map((c, k) => c.padEnd(widths[k]!)).join(' | ')}\n`);
      if (i === 0) process.stdout.write(`${widths.map((w) => '-'.repeat(w)).join('-|-')}\n`);
    }
    process.stdout.write(`per-run rows/s or req/s: ${Object.entries(runs).map(([k, rs]) => `${k} ${rs.map((r) => fmt(r.perSecond)).join('/')}`).join('; ')}\n`);
    if (Object.keys(cpu).length) process.stdout.write(`server CPU per request (user + system): ${Object.entries(cpu).map(([k, ms]) => `${k} ${ms.toFixed(2)} ms`).join('; ')}\n`);
    process.stdout.write(`database commits per request: ${Object.entries(commits).map(([k, n]) => `${k} ${n.toFixed(2)}`).join('; ')}\n`);
    process.stdout.write(`Tablewright RSS after the list workload: ${rss.toFixed(0)} MB\n`);
  } finally {
    for (const p of procs) await stop(p);
    await pool.end();
  }
}
