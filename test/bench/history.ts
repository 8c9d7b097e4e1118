// Issue 16: what the row history trigger costs. Single-row inserts and updates, over HTTP
// (the row API) and by direct SQL (a script's own INSERT/UPDATE), one at a time and 8 at a
// time, on the same 20-field table with the history triggers on and off. A shared machine's
// load drifts over minutes, so each workload alternates on and off in short blocks (on,
// off, off, on, ...) and a mode's rate is its operations over its total time: the aim is
// under 15% slower. Bulk loads too: a CSV import (one history entry per import) and a
// set-based INSERT ... SELECT over SQL (one entry per row).
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startApp } from '../helpers/app.js';
import { PRUNE_BATCH, pruneRows } from '../../server/history/retention.js';

/** blocks per mode, and operations per block */
const BLOCKS = 6;
const ONE_AT_A_TIME = 200;
const CONCURRENT = 400;
const CONCURRENCY = 8;
const BULK_ROWS = 50_000;
const MILLION = 1_000_000;

const FIELDS = [
  ...Array.from({ length: 8 }, (_, i) => ({ name: `Text ${i + 1}`, type: 'text' })),
  ...Array.from({ length: 6 }, (_, i) => ({ name: `Number ${i + 1}`, type: 'number', options: { decimals: 2 } })),
  ...Array.from({ length: 3 }, (_, i) => ({ name: `Flag ${i + 1}`, type: 'boolean' })),
  ...Array.from({ length: 3 }, (_, i) => ({ name: `Day ${i + 1}`, type: 'date' })),
];

function rowOf(i: number): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (let k = 1; k <= 8; k++) row[`text_${k}`] = `value ${i} of text ${k}, a few words long`;
  for (let k = 1; k <= 6; k++) row[`number_${k}`] = `${(i * 7 + k) % 100000}.${k}5`;
  for (let k = 1; k <= 3; k++) row[`flag_${k}`] = (i + k) % 2 === 0;
  for (let k = 1; k <= 3; k++) row[`day_${k}`] = `2024-0${k}-1${i % 9}`;
  return row;
}

/** Runs `op(i)` for i in [0, n) with `concurrency` loops; ops per second. */
async function throughput(n: number, concurrency: number, op: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < n; i = next++) await op(i);
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function print(title: string, rates: Map<string, { on: number[]; off: number[] }>): void {
  const lines = ['', title, `${'workload'.padEnd(46)}  ${'off, rows/s'.padStart(12)}  ${'on, rows/s'.padStart(11)}  ${'slower'.padStart(7)}`];
  for (const [name, r] of rates) {
    const off = median(r.off);
    const on = median(r.on);
    lines.push(`${name.padEnd(46)}  ${Math.round(off).toLocaleString('en').padStart(12)}  ${Math.round(on).toLocaleString('en').padStart(11)}  ${`${((1 - on / off) * 100).toFixed(1)}%`.padStart(7)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function benchHistory(url: string): Promise<void> {
  const app = await startApp(url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off', PG_POOL_MAX: '10', IMPORT_MAX_BYTES: String(100 * 1024 * 1024) }, 'bench');
  const sql = new pg.Pool({ connectionString: url, max: CONCURRENCY });
  try {
    const created = await app.request('POST', '/tables', { json: { name: 'Bench history', fields: FIELDS } });
    if (created.status !== 201) throw new Error(`table: ${created.text}`);
    const tableId = created.body.id as number;
    const rel = `data.${created.body.table_name}`;
    const columns = Object.keys(rowOf(0));
    const insertSql = `INSERT INTO ${rel} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`;
    const headers = { Authorization: `Bearer ${app.adminToken}`, Accept: 'application/json', 'Content-Type': 'application/json' };
    const http = async (method: string, path: string, body: unknown) => {
      const res = await fetch(new URL(path, app.url), { method, headers, body: JSON.stringify(body) });
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<{ id: number }>;
    };
    const setHistory = async (on: boolean) => {
      if (on) await sql.query(`SELECT tablewright.sync_history_triggers($1, $2::regclass)`, [tableId, rel]);
      else await sql.query(`DROP TRIGGER IF EXISTS tablewright_history ON ${rel}; DROP TRIGGER IF EXISTS tablewright_history_truncate ON ${rel}`);
    };
    const ids: number[] = [];
    const someId = (i: number) => ids[(i * 7919) % ids.length]!;

    const workloads: Array<[string, number, (i: number) => Promise<void>]> = [
      ['insert, SQL, 1 at a time', ONE_AT_A_TIME, async (i) => void ids.push((await sql.query(insertSql, columns.map((c) => rowOf(i)[c]))).rows[0].id)],
      ['update, SQL, 1 at a time', ONE_AT_A_TIME, async (i) => void (await sql.query(`UPDATE ${rel} SET number_1 = $1, text_1 = $2 WHERE id = $3`, [`${i}.25`, `edited ${i}`, someId(i)]))],
      ['insert, HTTP, 1 at a time', ONE_AT_A_TIME, async (i) => void ids.push((await http('POST', `/tables/${tableId}/rows`, rowOf(i))).id)],
      ['update, HTTP, 1 at a time', ONE_AT_A_TIME, async (i) => void (await http('PATCH', `/tables/${tableId}/rows/${someId(i)}`, { number_1: `${i}.75`, text_1: `patched ${i}` }))],
      [`insert, SQL, ${CONCURRENCY} at a time`, CONCURRENT, async (i) => void ids.push((await sql.query(insertSql, columns.map((c) => rowOf(i)[c]))).rows[0].id)],
      [`update, SQL, ${CONCURRENCY} at a time`, CONCURRENT, async (i) => void (await sql.query(`UPDATE ${rel} SET number_1 = $1, text_1 = $2 WHERE id = $3`, [`${i}.5`, `again ${i}`, someId(i)]))],
      [`insert, HTTP, ${CONCURRENCY} at a time`, CONCURRENT, async (i) => void ids.push((await http('POST', `/tables/${tableId}/rows`, rowOf(i))).id)],
      [`update, HTTP, ${CONCURRENCY} at a time`, CONCURRENT, async (i) => void (await http('PATCH', `/tables/${tableId}/rows/${someId(i)}`, { number_1: `${i}.1`, text_1: `more ${i}` }))],
    ];
    const rates = new Map<string, { on: number[]; off: number[] }>();
    // Warm up both paths (plans, the model cache, connections) before measuring.
    for (let i = 0; i < 200; i++) ids.push((await http('POST', `/tables/${tableId}/rows`, rowOf(i))).id);
    for (const [name, n, op] of workloads) {
      const conc = name.includes(`${CONCURRENCY} at a time`) ? CONCURRENCY : 1;
      const time = { on: 0, off: 0 };
      for (let b = 0; b < 2 * BLOCKS; b++) {
        const on = b % 4 === 0 || b % 4 === 3; // on, off, off, on, on, off, off, on ...
        await setHistory(on);
        time[on ? 'on' : 'off'] += n / (await throughput(n, conc, op));
      }
      rates.set(name, { on: [(BLOCKS * n) / time.on], off: [(BLOCKS * n) / time.off] });
      await sql.query(`VACUUM ${rel}`);
    }
    await setHistory(true);
    print(`Row history cost (issue 16): a ${FIELDS.length}-field table, history triggers on vs off, ${BLOCKS} alternated blocks each`, rates);

    // Bulk: a CSV import through the daemon (one history entry), a set-based INSERT over SQL (one per row).
    const cell = (v: unknown) => `"${String(v).replace(/"/g, '""')}"`;
    const csv = `${columns.join(',')}\n${Array.from({ length: BULK_ROWS }, (_, i) => columns.map((c) => cell(rowOf(i)[c])).join(',')).join('\n')}\n`;
    const bulk = new Map<string, { on: number[]; off: number[] }>();
    for (const on of [false, true, false, true]) {
      await setHistory(on);
      const t0 = performance.now();
      const res = await fetch(new URL(`/tables/${tableId}/rows/import?async=0`, app.url), { method: 'POST', headers: { ...headers, 'Content-Type': 'text/csv' }, body: csv });
      if (res.status !== 200) throw new Error(`import: ${res.status} ${await res.text()}`);
      const importRate = BULK_ROWS / ((performance.now() - t0) / 1000);
      const t1 = performance.now();
      await sql.query(
        `INSERT INTO ${rel} (${columns.join(', ')}) SELECT ${columns.map((c) => (c.startsWith('text') ? `'bulk ' || g` : c.startsWith('number') ? 'g * 1.25' : c.startsWith('flag') ? 'g % 2 = 0' : `date '2024-01-01' + (g % 300)`)).join(', ')} FROM generate_series(1, ${BULK_ROWS}) g`,
      );
      const insertRate = BULK_ROWS / ((performance.now() - t1) / 1000);
      for (const [name, r] of [[`CSV import through the daemon, ${BULK_ROWS.toLocaleString('en')} rows`, importRate], [`INSERT ... SELECT over SQL, ${BULK_ROWS.toLocaleString('en')} rows`, insertRate]] as const) {
        const entry = bulk.get(name) ?? { on: [], off: [] };
        (on ? entry.on : entry.off).push(r);
        bulk.set(name, entry);
      }
    }
    await setHistory(true);

    const { rows: size } = await sql.query(`SELECT count(*)::int AS n, pg_size_pretty(pg_total_relation_size('tablewright.row_history')) AS size FROM tablewright.row_history WHERE table_id = $1`, [tableId]);
    print('Bulk loads, history triggers on vs off (medians of 2)', bulk);
    process.stdout.write(`history of the table afterwards: ${size[0].n.toLocaleString('en')} entries, ${size[0].size} for the whole history table\n`);

    // At the sizes retention works on: a million deleted rows listed, a million history entries pruned.
    await sql.query(
      // Ids below every real one: older entries have smaller ids, as the trigger writes them.
      `INSERT INTO tablewright.row_trash (id, table_id, row_id, deleted_by, deleted_at, row_values) OVERRIDING SYSTEM VALUE
       SELECT g - $2 - 1, $1, 10000000 + g, 'bench', now() - interval '40 days' + g * interval '1 ms', jsonb_build_object('id', 10000000 + g, 'text_1', 'gone ' || g) FROM generate_series(1, $2) g`,
      [tableId, MILLION],
    );
    await sql.query(
      `INSERT INTO tablewright.row_history (id, table_id, row_id, at, op, actor, new_values) OVERRIDING SYSTEM VALUE
       SELECT g - $2 - 1, $1, 10000000 + g, now() - interval '40 days' + g * interval '1 ms', 'insert', 'bench', jsonb_build_object('id', 10000000 + g, 'text_1', 'row ' || g) FROM generate_series(1, $2) g`,
      [tableId, MILLION],
    );
    await sql.query('VACUUM ANALYZE tablewright.row_trash, tablewright.row_history');
    const listTimes: number[] = [];
    let listedBody = { rows: [] as unknown[], count: 0, count_exact: true };
    for (let i = 0; i < 5; i++) {
      const l0 = performance.now();
      const listed = await fetch(new URL(`/tables/${tableId}/rows/trash?size=50`, app.url), { headers });
      listedBody = (await listed.json()) as typeof listedBody;
      listTimes.push(performance.now() - l0);
    }
    const listMs = median(listTimes);
    const p0 = performance.now();
    const pruned = await pruneRows(sql, { trash: new Date(Date.now() - 7 * 86_400_000), history: new Date(Date.now() - 30 * 86_400_000) });
    const pruneS = (performance.now() - p0) / 1000;
    process.stdout.write(
      `\nAt retention's sizes: the first page of a row trash of ${MILLION.toLocaleString('en')} rows in ${listMs.toFixed(0)} ms (median of 5 requests) (count ${listedBody.count_exact ? '' : 'more than '}${listedBody.count.toLocaleString('en')});\n` +
        `pruning ${pruned.trash_rows.toLocaleString('en')} deleted rows and ${pruned.history_entries.toLocaleString('en')} history entries in ${pruneS.toFixed(1)} s ` +
        `(${Math.round((pruned.trash_rows + pruned.history_entries) / pruneS).toLocaleString('en')} a second, ${PRUNE_BATCH} per statement)\n`,
    );
  } finally {
    await sql.end();
    await app.stop();
  }
}
