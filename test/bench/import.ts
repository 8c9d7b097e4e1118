// Issue 17: one generated CSV file (BENCH_IMPORT_ROWS rows, 1,000,000 by default, 12
// columns: text, numbers with decimals, dates, datetimes, booleans, a categorical column,
// quoted commas and line breaks) imported side by side in one run, over HTTP as a client
// would (the body streamed from the file, async=0 so that no job is queued):
//   - create-from-file: POST /tables/import (types inferred from the sample, the table
//     created and every row loaded by the COPY engine, one transaction)
//   - append: POST /tables/:id/rows/import into a table with the same 12 fields
//   - psql's \copy of the same file into an equivalent plain table (the floor)
//   - dry_run=1 of the same file: the time from the upload's start to the answer (the
//     server reads a sample, not the file; the client stops sending once answered)
//   - BENCH_IMPORT_OLD=1: also the row-by-row path before issue 17 (INSERTs of 500 rows)
// each with rows/s, the ratio to the floor, and the peak RSS of this process (the
// instance runs in it) during the import.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { withoutStatementTimeout } from '../../server/db/pool.js';
import { withTransaction } from '../../server/db/tx.js';
import { importWithHistory } from '../../server/history/import.js';
import { compileModel } from '../../server/model/compile.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { printTable, type Figure } from './lib.js';

const ROWS = Number(process.env.BENCH_IMPORT_ROWS ?? 1_000_000);
const PSQL = ['/usr/bin/psql', ...['18', '17', '16', '15'].map((v) => `/usr/lib/postgresql/${v}/bin/psql`)].find((p) => existsSync(p));

const FIELDS = [
  { name: 'Name', type: 'text' },
  { name: 'Qty', type: 'number' },
  { name: 'Price', type: 'number', options: { decimals: 2 } },
  { name: 'Lat', type: 'number', options: { decimals: 8 } },
  { name: 'Ratio', type: 'number', options: { any_precision: true } },
  { name: 'Active', type: 'boolean' },
  { name: 'Day', type: 'date' },
  { name: 'Seen', type: 'datetime' },
  { name: 'Kind', type: 'single_select', options: { choices: ['alpha', 'beta', 'gamma', 'delta'] } },
  { name: 'Email', type: 'email' },
  { name: 'Note', type: 'long_text' },
  { name: 'Code', type: 'text' },
];
const FLOOR_SQL = `(name text, qty bigint, price numeric(30,2), lat numeric(30,8), ratio numeric, active boolean, day date, seen timestamptz, kind text, email text, note text, code text)`;
const KINDS = ['alpha', 'beta', 'gamma', 'delta'];

async function writeFile(file: string): Promise<void> {
  const out = createWriteStream(file);
  out.write('name,qty,price,lat,ratio,active,day,seen,kind,email,note,code\n');
  let buf = '';
  for (let i = 1; i <= ROWS; i++) {
    const note = i % 10 === 0 ? `"a note, with a comma\nand a line break, ""quoted"" ${i}"` : `plain note ${i}`;
    buf += `item ${i},${i * 3},${(i % 100000) / 100},${(45 + (i % 1000) / 1e8).toFixed(8)},${1 / ((i % 60) + 1)},${i % 2 ? 'true' : 'false'},2024-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')},2024-03-01T12:${String(i % 60).padStart(2, '0')}:00Z,${KINDS[i % 4]},user${i}@example.com,${note},C-${i.toString(36)}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

/** Runs fn, sampling this process's RSS every 50 ms: [ms, peak RSS in MB]. */
async function timed(fn: () => Promise<unknown>): Promise<{ ms: number; rssMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return { ms: performance.now() - t0, rssMb: Math.round(Math.max(peak, process.memoryUsage().rss) / 1024 / 1024) };
}

/**
 * POSTs the file as a text/csv body: by curl (a process of its own, as psql is for the
 * floor, so that the instance's figures are the instance's) when there is one, else
 * streamed from this process.
 */
function postFile(app: TestApp, path: string, file: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(path, app.url).toString();
  const parse = (status: number, text: string) => {
    try {
      return { status, body: JSON.parse(text) as Record<string, unknown> };
    } catch {
      throw new Error(`${path} answered ${status} with no JSON: ${text.slice(0, 200)}`);
    }
  };
  if (existsSync('/usr/bin/curl')) {
    return new Promise((resolve, reject) => {
      const p = spawn('/usr/bin/curl', ['-sS', '-X', 'POST', '-H', `Authorization: Bearer ${app.adminToken}`, '-H', 'Accept: application/json', '-H', 'Content-Type: text/csv', '-T', file, '-w', '\n%{http_code}', url], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('exit', (code) => {
        if (code !== 0) return reject(new Error(`curl: ${err}`));
        const at = out.lastIndexOf('\n');
        try {
          resolve(parse(Number(out.slice(at + 1)), out.slice(0, at)));
        } catch (e) {
          reject(e as Error);
        }
      });
    });
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { Authorization: `Bearer ${app.adminToken}`, Accept: 'application/json', 'Content-Type': 'text/csv' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          resolve(parse(res.statusCode ?? 0, text));
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
}

/**
 * POST /tables/import?dry_run=1 with the file streamed as the body: the time from the first
 * byte sent to the whole answer, as a client that stops sending once answered sees it.
 */
function dryRun(app: TestApp, file: string): Promise<{ ms: number; fields: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const body = createReadStream(file);
    const req = http.request(new URL('/tables/import?dry_run=1&name=Dry', app.url), { method: 'POST', headers: { Authorization: `Bearer ${app.adminToken}`, Accept: 'application/json', 'Content-Type': 'text/csv' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        const ms = performance.now() - t0;
        body.unpipe(req);
        body.destroy();
        req.destroy();
        try {
          const json = JSON.parse(text) as { fields?: unknown[] };
          if (res.statusCode !== 200 || !Array.isArray(json.fields)) throw new Error(`dry run answered ${res.statusCode}: ${text.slice(0, 300)}`);
          resolve({ ms, fields: json.fields.length });
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('error', (err) => {
      if (!req.destroyed) reject(err);
    });
    body.pipe(req);
  });
}

export async function benchImport(url: string): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tw-bench-import-'));
  const app = await startApp(url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off', PG_CONNECT_TIMEOUT_MS: '30000', HTTP_REQUEST_TIMEOUT_MS: '3600000', IMPORT_MAX_BYTES: String(4 * 1024 * 1024 * 1024), STATEMENT_TIMEOUT_MS: '0' }, 'bench');
  const figures: Figure[] = [];
  try {
    // BENCH_IMPORT_FILE: a file this bench made before (kept between runs), else a new one
    const file = process.env.BENCH_IMPORT_FILE ?? path.join(dir, 'import.csv');
    if (!process.env.BENCH_IMPORT_FILE) await writeFile(file);
    const mb = (await stat(file)).size / 1024 / 1024;
    const pool = app.ctx.pool;
    const table = async (name: string) => {
      const res = await app.request('POST', '/tables', { json: { name, fields: FIELDS } });
      if (res.status !== 201) throw new Error(`create table: ${res.text}`);
      return res.body.id as number;
    };
    const rate = (t: { ms: number }) => Math.round(ROWS / (t.ms / 1000));
    const row = (name: string, t: { ms: number; rssMb: number }, extra: Record<string, string> = {}) =>
      figures.push({ name, unit: 'import', samples: 1, medianMs: t.ms, p99Ms: t.ms, extra: { 'rows/s': rate(t).toLocaleString('en'), 'peak RSS MB': String(t.rssMb), ...extra } });

    // The floor first: the other two are compared with it.
    await pool.query(`CREATE TABLE data.copy_floor ${FLOOR_SQL}`);
    let floor: { ms: number; rssMb: number } | undefined;
    if (PSQL) {
      floor = await timed(
        () =>
          new Promise<void>((resolve, reject) => {
            const p = spawn(PSQL, [url, '-v', 'ON_ERROR_STOP=1', '-c', `\\copy data.copy_floor FROM '${file}' WITH (FORMAT csv, HEADER true)`], { stdio: ['ignore', 'ignore', 'pipe'] });
            let err = '';
            p.stderr.on('data', (d) => (err += d));
            p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql: ${err}`))));
          }),
      );
      row(`psql \\copy of the file into a plain equivalent table (the floor), ${ROWS.toLocaleString('en')} rows, ${mb.toFixed(0)} MB`, floor);
    } else {
      process.stdout.write('psql not found: the \\copy floor is skipped\n');
    }
    const vsFloor = (t: { ms: number }) => ({ 'of floor': floor ? `${((floor.ms / t.ms) * 100).toFixed(0)}%` : '-' });

    const dry = await dryRun(app, file);
    figures.push({ name: `dry_run=1 of the file: upload to answer (${dry.fields} fields inferred from the sample)`, unit: 'request', samples: 1, medianMs: dry.ms, p99Ms: dry.ms, extra: {} });

    const created = await timed(async () => {
      const res = await postFile(app, '/tables/import?name=Created%20from%20file&async=0', file);
      if (res.status !== 201 || res.body.imported !== ROWS) throw new Error(`create from file answered ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
    });
    row('create-from-file: POST /tables/import (infer, create, COPY)', created, vsFloor(created));

    const appendId = await table('Append');
    const appended = await timed(async () => {
      const res = await postFile(app, `/tables/${appendId}/rows/import?async=0`, file);
      if (res.status !== 200 || res.body.imported !== ROWS) throw new Error(`append answered ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
    });
    row('append: POST /tables/:id/rows/import (COPY engine)', appended, vsFloor(appended));

    if (process.env.BENCH_IMPORT_OLD === '1') {
      const oldId = await table('Old path');
      const oldModel = await compileModel(pool, 'data', oldId);
      const old = await timed(() =>
        withTransaction(pool, async (tx) => {
          await withoutStatementTimeout(tx);
          const r = await importWithHistory(tx, oldModel, createReadStream(file), {}, { actor: 'bench' });
          if (r.imported !== ROWS) throw new Error(`old path imported ${r.imported}`);
        }),
      );
      row('INSERTs of 500 rows (before issue 17)', old, vsFloor(old));
    }
    printTable(`CSV import, ${ROWS.toLocaleString('en')} rows x 12 columns (${mb.toFixed(0)} MB), one run each`, figures);
    const ratio = (t: { ms: number }) => (floor ? (floor.ms / t.ms).toFixed(2) : '-');
    process.stdout.write(
      `create-from-file ${rate(created).toLocaleString('en')} rows/s, append ${rate(appended).toLocaleString('en')} rows/s, psql floor ${floor ? rate(floor).toLocaleString('en') : '-'} rows/s; ` +
        `ratio to the floor: create ${ratio(created)}, append ${ratio(appended)}; peak RSS ${Math.max(created.rssMb, appended.rssMb)} MB; dry run ${(dry.ms / 1000).toFixed(2)} s\n`,
    );
  } finally {
    await app.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
