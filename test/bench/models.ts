// Issue 4's figures: compiling and caching models, listing and creating rows over HTTP
// next to the same SQL sent directly (the ratio is the overhead we add), invalidation
// latency between two processes, and the memory of 10,000 cached models.
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import fs from 'node:fs/promises';
import pg from 'pg';
import { loadConfig } from '../../server/config.js';
import { createPool } from '../../server/db/pool.js';
import { start } from '../../server/main.js';
import { ModelCache } from '../../server/model/cache.js';
import { compileModel } from '../../server/model/compile.js';
import { createToken } from '../../server/auth/tokens.js';
import { createTable } from '../../server/schema/tables.js';
import { testLog } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';
import { measure, printTable, summarise, type Figure } from './lib.js';

const CONCURRENCY = 8;

/** Runs `total` calls of fn with `concurrency` in flight; latencies and throughput. */
async function concurrent(total: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<{ times: number[]; perSecond: number }> {
  const times: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        await fn(i);
        times.push(performance.now() - s);
      }
    }),
  );
  return { times, perSecond: total / ((performance.now() - t0) / 1000) };
}

export async function benchModels(url: string): Promise<void> {
  const figures: Figure[] = [];
  const config = loadConfig({ DATABASE_URL: url, PORT: '0', LOG_LEVEL: 'silent', LOG_FORMAT: 'json', PG_POOL_MAX: '10', LOCK_TIMEOUT_MS: '60000' });
  const app = await start(config, testLog);
  const pool = createPool({ connectionString: url, max: 10, connectTimeoutMs: 5000 }, testLog);
  const deps = { pool, log: testLog, config };
  const actor = { name: 'bench' };
  try {
    const token = (await createToken(pool, { name: 'bench', role: 'admin' }, 'bench')).token;
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    const http = async (method: string, path: string, json?: unknown, base = app.url) => {
      const res = await fetch(new URL(path, base), { method, headers: { ...headers, ...(json ? { 'Content-Type': 'application/json' } : {}) }, body: json ? JSON.stringify(json) : undefined });
      const body = await res.text();
      if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${body.slice(0, 200)}`);
      return body;
    };

    // -- compile a 200-field model, and a cached lookup
    const wide = await createTable(deps, actor, {
      name: 'Wide',
      fields: Array.from({ length: 200 }, (_, i) => ({ name: `F${i}`, type: ['text', 'number', 'boolean', 'date'][i % 4]! })),
    });
    figures.push(await measure('compile a model of 200 fields', 'compile', 200, () => compileModel(pool, config.dataSchema, wide.id)));
    const cache = new ModelCache({ pool, dataSchema: config.dataSchema, log: testLog, max: 10, ttlSeconds: 600 });
    await cache.get(wide.id);
    figures.push(await measure('cached model lookup', 'lookup', 100_000, () => cache.get(wide.id), 1000));
    cache.close();

    // The server under test runs in its own process, as in production: measured in this
    // process, client and server would share one event loop and the figures would lie.
    const cli = runCli(['serve'], { DATABASE_URL: url, PORT: '0', LOG_LEVEL: 'info', MODEL_CACHE_MAX: '20000' });
    try {
    const line = await cli.waitFor(/Tablewright console: http/, 30_000);
    const bUrl = /Tablewright console: (http:\/\/[^"\s]+)/.exec(line)![1]!;
    const pid = cli.child.pid!;

    // -- a 1,000,000-row table: list a sorted, filtered page over HTTP vs direct SQL
    const big = await createTable(deps, actor, {
      name: 'Million',
      fields: [
        { name: 'Title', type: 'text' },
        { name: 'Amount', type: 'number', options: { decimals: 2 } },
        { name: 'Category', type: 'number', indexed: true },
        { name: 'Created', type: 'date' },
      ],
    });
    await pool.query(
      `INSERT INTO data.million (title, amount, category, created)
       SELECT 'item ' || g, (g % 10000) / 100.0, g % 50, date '2020-01-01' + (g % 1500) FROM generate_series(1, 1000000) g`,
    );
    await pool.query(`CREATE INDEX ON data.million (category, amount)`);
    await pool.query('VACUUM ANALYZE data.million');
    const listPath = `/tables/${big.id}/rows?size=100&sort=-amount&filter[category][eq]=7&count=0`;
    await http('GET', listPath, undefined, bUrl);
    const viaHttp = await load(bUrl + listPath, { headers });
    const model = await compileModel(pool, config.dataSchema, big.id);
    const directSql = `SELECT ${model.selectList} FROM ${model.from} WHERE t."category" = $1 ORDER BY t."amount" DESC, t.id ASC LIMIT 101`;
    const direct = await concurrent(2000, CONCURRENCY, async () => void (await pool.query(directSql, ['7'])));
    figures.push({ ...viaHttp.figure('list 100 rows, sorted + filtered, 1M rows: HTTP'), extra: { 'per s': viaHttp.perSecond.toFixed(0), ratio: (direct.perSecond / viaHttp.perSecond).toFixed(2) } });
    figures.push(summarise('  the same SQL sent directly with pg', 'query', direct.times, { 'per s': direct.perSecond.toFixed(0) }));

    // -- create single rows over HTTP vs direct parameterized INSERTs
    const rowsTable = await createTable(deps, actor, { name: 'Inserts', fields: [{ name: 'Title', type: 'text' }, { name: 'Amount', type: 'number', options: { decimals: 2 } }] });
    const created = await load(`${bUrl}/tables/${rowsTable.id}/rows`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'a row', amount: '1.50' }),
    });
    const inserted = await concurrent(3000, CONCURRENCY, async (i) => void (await pool.query(`INSERT INTO data.inserts (title, amount) VALUES ($1, $2) RETURNING *`, [`row ${i}`, '1.50'])));
    figures.push({ ...created.figure('create one row over HTTP'), extra: { 'per s': created.perSecond.toFixed(0), ratio: (inserted.perSecond / created.perSecond).toFixed(2) } });
    figures.push(summarise('  direct parameterized INSERT with pg', 'query', inserted.times, { 'per s': inserted.perSecond.toFixed(0) }));

    // -- invalidation latency: A (this process) changes the schema, B (another process) serves it
      const target = await createTable(deps, actor, { name: 'Invalidation' });
      const latencies: number[] = [];
      for (let i = 0; i < 100; i++) {
        await http('GET', `/tables/${target.id}/rows?size=1`, undefined, bUrl); // B has the model cached
        await http('POST', `/tables/${target.id}/fields`, { name: `Added ${i}`, type: 'text' });
        const answered = performance.now();
        for (;;) {
          const body = await http('GET', `/tables/${target.id}/rows?size=1&filter[added_${i}][empty]=1`, undefined, bUrl).catch(() => undefined);
          if (body) break;
        }
        latencies.push(performance.now() - answered);
      }
      figures.push(summarise("invalidation: A's response to B serving the new field", 'change', latencies));

      // -- memory of 10,000 cached models in B
      await createManyTables(pool, config.dataSchema, 10_000);
      const ids = (await pool.query<{ id: number }>(`SELECT id FROM tablewright.tables WHERE name LIKE 'Many %' ORDER BY id`)).rows.map((r) => r.id);
      const rssBefore = await rssOf(pid);
      await concurrent(ids.length, CONCURRENCY, async (i) => void (await http('GET', `/tables/${ids[i]}/rows?size=1&count=0`, undefined, bUrl)));
      const rssAfter = await rssOf(pid);
      figures.push(summarise('memory of one instance holding 10,000 cached models', 'instance', [0], {
        'RSS MB': `${(rssBefore / 1024).toFixed(0)} -> ${(rssAfter / 1024).toFixed(0)}`,
        'KB/model': ((rssAfter - rssBefore) / ids.length).toFixed(1),
      }));
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
    printTable(`Models and rows (HTTP with concurrency ${CONCURRENCY}, loopback; ratio = direct / HTTP throughput)`, figures);
  } finally {
    await pool.end();
    await app.stop();
  }
}

/**
 * HTTP load with autocannon (CONCURRENCY connections, 5 s). A fetch() loop costs more CPU
 * in the client than the server spends, on a machine the server shares with it.
 */
async function load(url: string, opts: { method?: 'GET' | 'POST'; headers: Record<string, string>; body?: string }) {
  const r = await autocannon({ url, connections: CONCURRENCY, duration: 5, method: opts.method ?? 'GET', headers: opts.headers, body: opts.body });
  if (r.non2xx || r.errors) throw new Error(`load on ${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return {
    perSecond: r.requests.total / (r.duration || 5),
    figure: (name: string): Figure => ({ name, unit: 'request', samples: r.requests.total, medianMs: r.latency.p50, p99Ms: r.latency.p99 }),
  };
}

async function rssOf(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

/**
 * Many small tables with metadata, made in SQL (the schema editor would take minutes), in
 * transactions of 500 (each CREATE TABLE holds locks until commit).
 */
async function createManyTables(pool: pg.Pool, schema: string, n: number): Promise<void> {
  for (let from = 1; from <= n; from += 500) await createTableBatch(pool, schema, from, Math.min(n, from + 499));
}

async function createTableBatch(pool: pg.Pool, schema: string, from: number, to: number): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `DO $$
       DECLARE i int; tid bigint; tname text;
       BEGIN
         FOR i IN ${Number(from)}..${Number(to)} LOOP
           tname := 'many_' || i;
           INSERT INTO tablewright.tables (name, table_name, version) VALUES ('Many ' || i, tname, 1) RETURNING id INTO tid;
           EXECUTE format('CREATE TABLE %I.%I (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, amount numeric(30,2), done boolean)', '${schema}', tname);
           UPDATE tablewright.tables SET table_oid = format('%I.%I', '${schema}', tname)::regclass WHERE id = tid;
           INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position) VALUES
             (tid, 'Name', 'name', 'text', '{}', 1), (tid, 'Amount', 'amount', 'number', '{"decimals":2}', 2), (tid, 'Done', 'done', 'boolean', '{}', 3);
         END LOOP;
       END $$`,
    );
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}
