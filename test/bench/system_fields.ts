// Issue 19: what system fields cost on writes. The same table shape with and without an
// autonumber and the four created/updated at/by fields (a trigger each), written by a
// set-based SQL INSERT ... SELECT, a set-based UPDATE, and single-row inserts over HTTP.
// Both tables keep their row history triggers: the difference is the system fields alone.
// A shared machine's load drifts, so the two alternate in short blocks (plain, system,
// system, plain, ...) and each side's rate is the median of its blocks.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startApp } from '../helpers/app.js';

const BLOCKS = 4;
const BULK_ROWS = 10_000;
const API_ROWS = 50;
const SYSTEM = ['autonumber', 'created_at', 'updated_at', 'created_by', 'updated_by'];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function benchSystemFields(url: string): Promise<void> {
  const app = await startApp(url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'bench');
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  try {
    const make = async (name: string, system: boolean) => {
      const fields = [{ name: 'Title', type: 'text', column: 'title' }, { name: 'Qty', type: 'number', column: 'qty' }];
      if (system) fields.push(...SYSTEM.map((type) => ({ name: type, type, column: type })));
      const res = await app.request('POST', '/tables', { json: { name, table_name: name, fields } });
      if (res.status !== 201) throw new Error(res.text);
      return res.body.id as number;
    };
    const tables = { plain: { id: await make('plain', false), rel: 'data.plain' }, system: { id: await make('stamped', true), rel: 'data.stamped' } };
    const rates: Record<string, { plain: number[]; system: number[] }> = {
      [`SQL INSERT ... SELECT of ${BULK_ROWS.toLocaleString('en')} rows`]: { plain: [], system: [] },
      [`SQL UPDATE of ${BULK_ROWS.toLocaleString('en')} rows`]: { plain: [], system: [] },
      'API POST /rows, one row at a time': { plain: [], system: [] },
    };
    const [bulk, update, api] = Object.values(rates) as [{ plain: number[]; system: number[] }, { plain: number[]; system: number[] }, { plain: number[]; system: number[] }];
    for (let b = 0; b < BLOCKS; b++) {
      const order: Array<'plain' | 'system'> = b % 2 === 0 ? ['plain', 'system'] : ['system', 'plain'];
      for (const mode of order) {
        const t = tables[mode];
        await sql.query(`TRUNCATE ${t.rel}`);
        let t0 = performance.now();
        await sql.query(`INSERT INTO ${t.rel} (title, qty) SELECT 'row ' || g, g FROM generate_series(1, ${BULK_ROWS}) g`);
        bulk[mode].push(BULK_ROWS / ((performance.now() - t0) / 1000));
        t0 = performance.now();
        await sql.query(`UPDATE ${t.rel} SET qty = qty + 1`);
        update[mode].push(BULK_ROWS / ((performance.now() - t0) / 1000));
        t0 = performance.now();
        for (let i = 0; i < API_ROWS; i++) {
          const res = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: `api ${i}`, qty: i } });
          if (res.status !== 201) throw new Error(res.text);
        }
        api[mode].push(API_ROWS / ((performance.now() - t0) / 1000));
      }
    }
    const lines = ['', `System fields on writes (autonumber + created/updated at/by; median of ${BLOCKS} alternating blocks; both tables keep their history triggers)`];
    lines.push(`${'workload'.padEnd(44)}  ${'plain, rows/s'.padStart(14)}  ${'with system, rows/s'.padStart(20)}  ${'slower'.padStart(7)}`);
    for (const [name, r] of Object.entries(rates)) {
      const p = median(r.plain);
      const s = median(r.system);
      lines.push(`${name.padEnd(44)}  ${Math.round(p).toLocaleString('en').padStart(14)}  ${Math.round(s).toLocaleString('en').padStart(20)}  ${`${((1 - s / p) * 100).toFixed(1)}%`.padStart(7)}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await sql.end();
    await app.stop();
  }
}
