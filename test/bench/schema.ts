// Issue 3's figures: schema changes on big tables must not rewrite them when they need
// not (add and trash a field: time independent of row count), conversions report rows/s,
// and creating a wide table costs little per field.
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../server/config.js';
import { createPool } from '../../server/db/pool.js';
import type { EditorDeps } from '../../server/schema/change.js';
import { addField, trashField, updateField } from '../../server/schema/fields.js';
import { createTable } from '../../server/schema/tables.js';
import { testLog } from '../helpers/db.js';
import { recordIdentityIfUnchanged } from '../../server/introspect/identity.js';
import os from 'node:os';
import { printTable, summarise, type Figure } from './lib.js';

const actor = { name: 'bench' };

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await fn();
  return [out, performance.now() - t0];
}

export async function benchSchema(url: string): Promise<void> {
  const config = loadConfig({ DATABASE_URL: url, LOCK_TIMEOUT_MS: '60000' });
  // the pool as the daemon makes it (server/main.ts): statement timeout, prepared statements
  const pool = createPool({ connectionString: url, max: 4, connectTimeoutMs: 5000, statementTimeoutMs: config.statementTimeoutMs, prepareStatements: config.prepareStatements }, testLog);
  const deps: EditorDeps = { pool, log: testLog, config };
  const figures: Figure[] = [];
  // as every start does: a database cloned from the template is recorded as itself, so a
  // change does not re-identify its table from the catalog each time
  await recordIdentityIfUnchanged(pool);
  // BENCH_SCHEMA_ROWS=0 skips the big-table figures (only the wide-table ones of issue 15)
  const sizes = process.env.BENCH_SCHEMA_ROWS === '0' ? [] : [20_000, 200_000];
  try {
    for (const rows of sizes) {
      const { id } = await createTable(deps, actor, { name: `Big ${rows}`, fields: [{ name: 'Title', type: 'text' }, { name: 'Amount', type: 'number', options: { decimals: 2 } }] });
      const rel = `data.big_${rows}`;
      await pool.query(`INSERT INTO ${rel} (title, amount) SELECT 'row ' || g, g / 100.0 FROM generate_series(1, $1) g`, [rows]);
      await pool.query(`VACUUM ANALYZE ${rel}`);
      const addTimes: number[] = [];
      const trashTimes: number[] = [];
      for (let i = 0; i < 7; i++) {
        const [{ field }, tAdd] = await timed(() => addField(deps, actor, id, { name: `Extra ${i}`, type: 'text', default: 'x' }));
        addTimes.push(tAdd);
        const [, tTrash] = await timed(() => trashField(deps, actor, id, field.id));
        trashTimes.push(tTrash);
      }
      figures.push(summarise(`add a text field with a default, ${rows.toLocaleString('en')} rows`, 'change', addTimes));
      figures.push(summarise(`trash a field, ${rows.toLocaleString('en')} rows`, 'change', trashTimes));
      if (rows === 200_000) {
        const { rows: amount } = await pool.query<{ id: number }>(`SELECT id FROM tablewright.fields WHERE table_id = $1 AND name = 'Amount'`, [id]);
        const [, tConvert] = await timed(() => updateField(deps, actor, id, amount[0]!.id, { type: 'text' }));
        figures.push(summarise('change number -> text, 200,000 rows', 'change', [tConvert], { 'rows/s': Math.round(rows / (tConvert / 1000)).toLocaleString('en') }));
      }
    }
    const wide = Array.from({ length: 100 }, (_, i) => ({ name: `Field ${i}`, type: i % 3 === 0 ? 'number' : 'text' }));
    const createTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [, t] = await timed(() => createTable(deps, actor, { name: `Wide ${i}`, fields: wide }));
      createTimes.push(t);
    }
    const create = summarise('create a table with 100 fields', 'table', createTimes);
    create.extra = { 'ms/field': (create.medianMs / 100).toFixed(2) };
    figures.push(create);
    // Issue 15: the 50-field shape of the http bench, created in one request (one
    // transaction), then 50 fields added one at a time to a fresh table.
    const shape = [
      ...Array.from({ length: 20 }, (_, i) => ({ name: `Text ${i}`, type: 'text' })),
      ...Array.from({ length: 15 }, (_, i) => ({ name: `Number ${i}`, type: 'number', options: { decimals: 2 } })),
      ...Array.from({ length: 5 }, (_, i) => ({ name: `Flag ${i}`, type: 'boolean' })),
      ...Array.from({ length: 10 }, (_, i) => ({ name: `Day ${i}`, type: 'date' })),
    ];
    const create50: number[] = [];
    for (let i = 0; i < 5; i++) create50.push((await timed(() => createTable(deps, actor, { name: `Fifty ${i}`, fields: shape })))[1]);
    figures.push(summarise('create a table with 50 fields (one transaction)', 'table', create50));
    const { id: growing } = await createTable(deps, actor, { name: 'Growing', fields: [] });
    const adds: number[] = [];
    for (const f of shape) adds.push((await timed(() => addField(deps, actor, growing, f)))[1]);
    figures.push(summarise('add one field (50 in a row, to an empty table)', 'change', adds));
    // Behind a transaction pooler (PG_PREPARE off) nothing is prepared: every statement is planned each time.
    const unprepared = createPool({ connectionString: url, max: 4, connectTimeoutMs: 5000, statementTimeoutMs: config.statementTimeoutMs, prepareStatements: false }, testLog);
    try {
      const plainDeps: EditorDeps = { ...deps, pool: unprepared };
      const { id: other } = await createTable(plainDeps, actor, { name: 'Growing unprepared', fields: [] });
      const plainAdds: number[] = [];
      for (const f of shape) plainAdds.push((await timed(() => addField(plainDeps, actor, other, f)))[1]);
      figures.push(summarise('  the same with no prepared statements (PG_PREPARE=0)', 'change', plainAdds));
    } finally {
      await unprepared.end();
    }
    printTable(`Schema editor (each change is one transaction: DDL, metadata, audit, NOTIFY); load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`, figures);
  } finally {
    await pool.end();
  }
}
