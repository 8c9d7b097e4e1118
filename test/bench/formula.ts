// Issue 19: what formulas cost. (1) A page of 100 rows over HTTP, from a table with three
// stored formulas and from the same table without them (alternating, so the machine's load
// drifts alike for both). (2) Adding a stored formula to a big table: ADD COLUMN ...
// GENERATED ALWAYS AS (...) STORED rewrites the table under an ACCESS EXCLUSIVE lock, so
// the bench times the change and the longest stall of a reader running beside it.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startApp } from '../helpers/app.js';
import { printTable, summarise, type Figure } from './lib.js';

const ROWS = Number(process.env.BENCH_FORMULA_ROWS ?? 1_000_000);
const PAGE_ROWS = 10_000;

export async function benchFormula(url: string): Promise<void> {
  const app = await startApp(url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off', JOB_THRESHOLD_ROWS: String(10 ** 9) }, 'bench');
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  try {
    const fields = [
      { name: 'Price', type: 'number', options: { decimals: 2 }, column: 'price' },
      { name: 'Qty', type: 'number', column: 'qty' },
      { name: 'Name', type: 'text', column: 'name' },
      { name: 'Due', type: 'date', column: 'due' },
    ];
    const make = async (name: string, rows: number) => {
      const res = await app.request('POST', '/tables', { json: { name, table_name: name, fields } });
      if (res.status !== 201) throw new Error(res.text);
      await sql.query(`INSERT INTO data.${name} (price, qty, name, due) SELECT (g % 1000) / 10.0, g % 17, 'item ' || g, date '2024-01-01' + (g % 365) FROM generate_series(1, ${rows}) g`);
      await sql.query(`VACUUM ANALYZE data.${name}`);
      return res.body.id as number;
    };
    const plain = await make('plain', PAGE_ROWS);
    const calc = await make('calc', PAGE_ROWS);
    for (const [name, expression] of [['Total', '{Price} * {Qty}'], ['Label', "upper(left({Name}, 4)) & ' #' & {Qty}"], ['Late', "if({Qty} > 8, round({Price} / 3, 2), 0)"]]) {
      const res = await app.request('POST', `/tables/${calc}/fields`, { json: { name, type: 'formula', options: { expression } } });
      if (res.status !== 201) throw new Error(res.text);
    }
    const times: Record<string, number[]> = { plain: [], calc: [] };
    const page = async (id: number) => {
      const t0 = performance.now();
      const res = await app.request('GET', `/tables/${id}/rows?size=100&page=3&sort=-price`);
      if (res.status !== 200) throw new Error(res.text);
      return performance.now() - t0;
    };
    for (let i = 0; i < 10; i++) (await page(plain), await page(calc));
    for (let b = 0; b < 6; b++) {
      for (let i = 0; i < 20; i++) times.plain!.push(await page(plain));
      for (let i = 0; i < 20; i++) times.calc!.push(await page(calc));
    }
    const p = summarise('page of 100 rows, 4 fields', 'request', times.plain!);
    const c = summarise('page of 100 rows, 4 fields + 3 formulas', 'request', times.calc!);
    c.extra = { ratio: `${(c.medianMs / p.medianMs).toFixed(2)}x` };
    const figures: Figure[] = [p, c];

    // (2) adding a stored formula to a big table, with a reader beside it
    const big = await make('big', ROWS);
    let stop = false;
    let worst = 0;
    const reader = (async () => {
      const r = new pg.Client({ connectionString: url });
      await r.connect();
      try {
        while (!stop) {
          const t0 = performance.now();
          await r.query(`SELECT id, price FROM data.big WHERE id = $1`, [1 + Math.floor(Math.random() * ROWS)]);
          worst = Math.max(worst, performance.now() - t0);
          await new Promise((res) => setTimeout(res, 5));
        }
      } finally {
        await r.end();
      }
    })();
    await new Promise((res) => setTimeout(res, 200));
    const t0 = performance.now();
    const added = await app.request('POST', `/tables/${big}/fields`, { json: { name: 'Total', type: 'formula', options: { expression: '{Price} * {Qty}' } } });
    const addMs = performance.now() - t0;
    await new Promise((res) => setTimeout(res, 200));
    stop = true;
    await reader;
    if (added.status !== 201) throw new Error(added.text);
    figures.push({ name: `add a stored formula to ${ROWS.toLocaleString('en')} rows (table rewrite)`, unit: 'change', samples: 1, medianMs: addMs, p99Ms: addMs, extra: { 'reader stall': `${worst.toFixed(0)} ms` } });
    printTable('Formulas', figures);
  } finally {
    await sql.end();
    await app.stop();
  }
}
