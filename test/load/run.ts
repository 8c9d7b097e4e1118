// npm run loadtest: a mixed workload against two instances (two `tablewright serve`
// processes on one database), on loopback, for a bounded time. Prints throughput,
// latency (p50/p99, overall and per kind), errors (refusals with 409 counted apart: they
// are the answer a busy table deserves), and each instance's memory at start and end.
//
// Settings (environment): LOAD_DURATION_S (60), LOAD_CONNECTIONS (32), LOAD_TABLES (4),
// LOAD_MIX (percent reads,writes,schema changes: 80,15,5),
// LOAD_ROWS (rows per table, 2000), LOAD_DATABASE_URL (an existing server's maintenance
// database, like BENCH_DATABASE_URL; default: an embedded PostgreSQL in a temporary folder).
// Exits 1 when any request failed other than with a 409.
import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';
import { printTable, summarise, type Figure } from '../bench/lib.js';
import { freshDatabase, setUpServer, tearDownServer } from '../helpers/db.js';
import { adminTokenFor, processUsage, sleep, startDaemon, stopDaemons, type Daemon } from '../faults/lib.js';

const env = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const DURATION_S = env('LOAD_DURATION_S', 60);
const CONNECTIONS = env('LOAD_CONNECTIONS', 32);
const TABLES = env('LOAD_TABLES', 4);
const ROWS = env('LOAD_ROWS', 2000);

type Kind = 'read list' | 'read row' | 'write create' | 'write update' | 'schema rename' | 'schema default';

/** LOAD_MIX: percentages of row reads, row writes and schema changes (80,15,5). */
const [READS, WRITES, SCHEMA] = (process.env.LOAD_MIX ?? '80,15,5').split(',').map(Number) as [number, number, number];
if (![READS, WRITES, SCHEMA].every((n) => Number.isFinite(n) && n >= 0) || READS + WRITES + SCHEMA !== 100) {
  throw new Error('LOAD_MIX must be three percentages that add up to 100: reads,writes,schema');
}
/** Reads are 3/4 pages of 20 rows, 1/4 single rows; writes 2/3 inserts, 1/3 updates; schema changes half renames, half defaults (on the same tables). */
const MIX: Array<[Kind, number]> = [
  ['read list', (READS * 0.75) / 100],
  ['read row', (READS * 0.25) / 100],
  ['write create', ((WRITES * 2) / 3) / 100],
  ['write update', (WRITES / 3) / 100],
  ['schema rename', (SCHEMA / 2) / 100],
  ['schema default', (SCHEMA / 2) / 100],
];

interface Tally {
  statuses: Record<number, number>;
  latencies: number[];
}

function pick(): Kind {
  let r = Math.random();
  for (const [kind, share] of MIX) if ((r -= share) < 0) return kind;
  return MIX[0]![0];
}

const rnd = (n: number) => 1 + Math.floor(Math.random() * n);

async function main(): Promise<void> {
  if (process.env.LOAD_DATABASE_URL) process.env.TEST_DATABASE_URL = process.env.LOAD_DATABASE_URL;
  await setUpServer();
  const db = await freshDatabase();
  try {
    const token = await adminTokenFor(db.url, 'loadtest');
    const instanceEnv = { DATABASE_URL: db.url, LOG_LEVEL: 'warn', NODE_ENV: 'production' };
    const a = await startDaemon(instanceEnv, token);
    const b = await startDaemon(instanceEnv, token);
    const daemons: Array<[string, Daemon]> = [
      ['A', a],
      ['B', b],
    ];

    // Tables to work on, seeded through the API (1000 rows per request).
    const tables: Array<{ id: number; noteField: number }> = [];
    for (let t = 0; t < TABLES; t++) {
      const created = await a.call('POST', '/tables', {
        json: { name: `Load ${t}`, fields: [{ name: 'Name', type: 'text' }, { name: 'Qty', type: 'number' }, { name: 'Note', type: 'text', column: 'note' }] },
      });
      if (created.status !== 201) throw new Error(`could not create a table: ${created.text}`);
      for (let done = 0; done < ROWS; done += 1000) {
        const rows = Array.from({ length: Math.min(1000, ROWS - done) }, (_, i) => ({ name: `row ${done + i}`, qty: done + i, note: 'seed' }));
        const res = await a.call('POST', `/tables/${created.body.id}/rows`, { json: rows });
        if (res.status !== 201) throw new Error(`could not seed rows: ${res.text}`);
      }
      tables.push({ id: created.body.id, noteField: created.body.fields.find((f: { name: string }) => f.name === 'Note').id });
    }

    const idle = await Promise.all(daemons.map(([, d]) => processUsage(d.pid)));
    const tallies = new Map<Kind, Tally>(MIX.map(([k]) => [k, { statuses: {}, latencies: [] }]));
    let schemaCounter = 0;
    // A new object per request: autocannon writes Content-Length into the one it is given.
    const auth = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    const json = () => ({ ...auth, 'Content-Type': 'application/json' });

    const request: autocannon.Request = {
      method: 'GET',
      path: '/healthz',
      setupRequest: (req, context) => {
        const ctx = context as { kind?: Kind; t0?: number };
        const kind = pick();
        const t = tables[rnd(tables.length) - 1]!;
        const base = `/tables/${t.id}`;
        ctx.kind = kind;
        ctx.t0 = performance.now();
        switch (kind) {
          case 'read list':
            return { ...req, method: 'GET', path: `${base}/rows?size=20&page=${rnd(20)}`, headers: { ...auth }, body: undefined };
          case 'read row':
            return { ...req, method: 'GET', path: `${base}/rows/${rnd(ROWS)}`, headers: { ...auth }, body: undefined };
          case 'write create':
            return { ...req, method: 'POST', path: `${base}/rows`, headers: json(), body: JSON.stringify({ name: `load ${Math.random()}`, qty: rnd(1000), note: 'new' }) };
          case 'write update':
            return { ...req, method: 'PATCH', path: `${base}/rows/${rnd(ROWS)}`, headers: json(), body: JSON.stringify({ qty: rnd(1000) }) };
          case 'schema rename':
            // A new display name each time (the column stays), so every one is a real change.
            return { ...req, method: 'PATCH', path: `${base}/fields/${t.noteField}`, headers: json(), body: JSON.stringify({ name: `Note ${++schemaCounter}`, column: 'note' }) };
          case 'schema default':
            return { ...req, method: 'PATCH', path: `${base}/fields/${t.noteField}`, headers: json(), body: JSON.stringify({ default: `d${++schemaCounter}` }) };
        }
      },
      onResponse: (status, _body, context) => {
        const ctx = context as { kind: Kind; t0: number };
        const tally = tallies.get(ctx.kind)!;
        tally.statuses[status] = (tally.statuses[status] ?? 0) + 1;
        tally.latencies.push(performance.now() - ctx.t0);
      },
    };

    // A short warm-up (compiles, caches, JIT), then the run.
    const warm = autocannon({ url: daemons.map(([, d]) => d.url) as unknown as string, connections: 4, duration: 3, requests: [request] });
    await warm;
    for (const tally of tallies.values()) {
      tally.statuses = {};
      tally.latencies = [];
    }
    const start = await Promise.all(daemons.map(([, d]) => processUsage(d.pid)));
    process.stdout.write(`\nrunning ${DURATION_S} s at ${CONNECTIONS} connections against 2 instances (${TABLES} tables of ${ROWS} rows)...\n`);
    // RSS every tenth of the run, to tell a heap that settles from one that keeps growing.
    const samples: number[][] = daemons.map(() => []);
    const sampler = setInterval(() => {
      daemons.forEach(([, d], i) => void processUsage(d.pid).then((u) => samples[i]!.push(u.rssKb), () => undefined));
    }, (DURATION_S * 1000) / 10);
    const result = await autocannon({
      url: daemons.map(([, d]) => d.url) as unknown as string,
      connections: CONNECTIONS,
      duration: DURATION_S,
      timeout: 30,
      requests: [request],
    });
    clearInterval(sampler);
    const end = await Promise.all(daemons.map(([, d]) => processUsage(d.pid)));
    await sleep(5000);
    const settled = await Promise.all(daemons.map(([, d]) => processUsage(d.pid)));

    // Figures.
    let conflicts = 0;
    let failures = 0;
    let succeeded = 0;
    const figures: Figure[] = [];
    for (const [kind, tally] of tallies) {
      const ok = Object.entries(tally.statuses).filter(([s]) => Number(s) < 300).reduce((n, [, c]) => n + c, 0);
      const c409 = tally.statuses[409] ?? 0;
      const bad = tally.latencies.length - ok - c409;
      conflicts += c409;
      failures += bad;
      succeeded += ok;
      figures.push(summarise(kind, 'request', tally.latencies, { 'req/s': (tally.latencies.length / DURATION_S).toFixed(1), ok: String(ok), '409': String(c409), errors: String(bad) }));
    }
    const all = [...tallies.values()].flatMap((t) => t.latencies);
    failures += result.errors + result.timeouts;
    const overall = summarise('all (client-side timing)', 'request', all, {
      'req/s': (all.length / DURATION_S).toFixed(1),
      ok: String(succeeded),
      '409': String(conflicts),
      errors: String(failures),
    });
    printTable(`Mixed workload: ${DURATION_S} s, ${CONNECTIONS} connections, 2 instances (${READS}% reads, ${WRITES}% writes, ${SCHEMA}% schema changes)`, [...figures, overall]);
    process.stdout.write(
      `\nautocannon: ${result.requests.total} requests, ${result.requests.average.toFixed(1)} req/s average, latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms; ` +
        `socket errors ${result.errors}, timeouts ${result.timeouts}; status counts ${JSON.stringify(Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([s, v]) => [s, v.count])))}\n`,
    );
    const statusLine = (kind: Kind) => `${kind}: ${JSON.stringify(tallies.get(kind)!.statuses)}`;
    process.stdout.write(`statuses by kind: ${MIX.map(([k]) => statusLine(k)).join('; ')}\n`);

    const mb = (kb: number) => (kb / 1024).toFixed(1);
    process.stdout.write(`\nMemory (RSS, MB) and open descriptors per instance\n`);
    process.stdout.write(`instance  pid      idle    start   end     end+5s  fds start/end\n`);
    daemons.forEach(([name, d], i) =>
      process.stdout.write(
        `${name.padEnd(8)}  ${String(d.pid).padEnd(7)}  ${mb(idle[i]!.rssKb).padEnd(6)}  ${mb(start[i]!.rssKb).padEnd(6)}  ${mb(end[i]!.rssKb).padEnd(6)}  ${mb(settled[i]!.rssKb).padEnd(6)}  ${start[i]!.fds}/${settled[i]!.fds}\n`,
      ),
    );

    daemons.forEach(([name], i) => process.stdout.write(`${name} RSS during the run (MB, every ${DURATION_S / 10} s): ${samples[i]!.map(mb).join(' ')}\n`));

    // A few counters from each instance's /metrics.
    for (const [name, d] of daemons) {
      const text = (await d.call('GET', '/metrics')).text;
      const read = (metric: string) =>
        text
          .split('\n')
          .filter((l) => l.startsWith(metric))
          .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
      process.stdout.write(
        `${name}: model cache hits ${read('tablewright_model_cache_hits_total')}, misses ${read('tablewright_model_cache_misses_total')}, ` +
          `evictions ${read('tablewright_model_cache_evictions_total')}, flushes ${read('tablewright_model_cache_flushes_total')}; ` +
          `listener reconnects ${read('tablewright_listener_reconnects_total')}; schema notifications heard ${read('tablewright_notifications_received_total{channel="tablewright_schema"')}\n`,
      );
    }
    if (failures > 0) {
      process.stdout.write(`\n${failures} requests failed (other than 409): see the statuses above\n`);
      process.exitCode = 1;
    }
  } finally {
    await stopDaemons();
    await db.drop().catch(() => undefined);
    await tearDownServer();
  }
}

await main();
