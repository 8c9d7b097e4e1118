// npm run bench -- reconcile: the catalog snapshot plus reconcile on a large catalog
// (BENCH_TABLES tables of 20 columns, default 10,000, all described in metadata), the
// same catalog read through information_schema, and the purge of 1,000 trashed fields.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createPool } from '../../server/db/pool.js';
import { compareSnapshot } from '../../server/introspect/drift.js';
import { statements } from '../../server/introspect/queries.js';
import { readCatalog, takeSnapshot } from '../../server/introspect/snapshot.js';
import { runCleanup } from '../../server/trash/cleanup.js';
import { recordDatabaseIdentity } from '../../server/introspect/identity.js';
import { migrate } from '../../server/db/migrate.js';
import { testLog } from '../helpers/db.js';
import { printTable, summarise, type Figure } from './lib.js';

const SCHEMAS = { data: 'data', trash: 'data_trash' };
const TYPES: Array<[string, string, string]> = [
  // [column type, field type, options]
  ['text', 'text', '{}'],
  ['bigint', 'number', '{"decimals": 0}'],
  ['numeric(30,2)', 'number', '{"decimals": 2}'],
  ['boolean', 'boolean', '{}'],
  ['date', 'date', '{}'],
  ['timestamptz', 'datetime', '{}'],
  ['jsonb', 'json', '{}'],
];

async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times;
}

/** Tables t1..tN with an identity key and 19 typed columns, committed every 500 tables (lock table size). */
export async function makeTables(pool: pg.Pool, n: number): Promise<void> {
  const cols = Array.from({ length: 19 }, (_, i) => `c${i + 1} ${TYPES[i % TYPES.length]![0]}`).join(', ');
  await pool.query(`DO $$
    BEGIN
      FOR i IN 1..${n} LOOP
        EXECUTE format('CREATE TABLE data.%I (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ${cols})', 't' || i);
        IF i % 500 = 0 THEN COMMIT; END IF;
      END LOOP;
    END $$`);
  // Metadata describing them, as the schema editor would have written it.
  await pool.query(
    /* sql */ `INSERT INTO tablewright.tables (name, table_name, table_oid)
      SELECT initcap(c.relname), c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'data' AND c.relkind = 'r' ORDER BY c.oid`,
  );
  const types = TYPES.map(([, t, o], i) => `(${i}, '${t}', '${o}'::jsonb)`).join(', ');
  await pool.query(
    /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position, attnum)
      SELECT t.id, a.attname, a.attname, m.type, m.options, a.attnum - 1, a.attnum
        FROM tablewright.tables t JOIN pg_attribute a ON a.attrelid = t.table_oid AND a.attnum > 1 AND NOT a.attisdropped
        JOIN (VALUES ${types}) AS m(k, type, options) ON m.k = (a.attnum - 2) % ${TYPES.length}`,
  );
  await installHistoryTriggers(pool);
  // A database cloned from the test template has a new identity: record it, as an
  // instance does at start (else the drift report says "restored").
  await recordDatabaseIdentity(pool);
  await pool.query('ANALYZE');
}

/** Every managed table has its row history triggers, as the schema editor puts them (committed every 500 tables). */
async function installHistoryTriggers(pool: pg.Pool): Promise<void> {
  await pool.query(`DO $$
    DECLARE t record; i int := 0;
    BEGIN
      FOR t IN SELECT m.id, m.table_oid::regclass AS rel FROM tablewright.tables m
                WHERE NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = m.table_oid AND g.tgname = 'tablewright_history') ORDER BY m.id LOOP
        PERFORM tablewright.sync_history_triggers(t.id, t.rel);
        i := i + 1;
        IF i % 500 = 0 THEN COMMIT; END IF;
      END LOOP;
    END $$`);
}

/** 1,000 trashed fields (50 tables x 20 parked columns), trashed long ago. */
async function makeTrash(pool: pg.Pool): Promise<void> {
  await pool.query(`DO $$
    BEGIN
      FOR i IN 1..50 LOOP
        EXECUTE format('CREATE TABLE data.%I (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, keep text)', 'p' || i);
        FOR j IN 1..20 LOOP
          EXECUTE format('ALTER TABLE data.%I ADD COLUMN %I text', 'p' || i, '_tw_f' || (i * 100 + j) || '_c' || j);
        END LOOP;
        EXECUTE format('INSERT INTO data.%I (keep) SELECT g::text FROM generate_series(1, 100) g', 'p' || i);
      END LOOP;
    END $$`);
  await pool.query(
    /* sql */ `INSERT INTO tablewright.tables (name, table_name, table_oid)
      SELECT c.relname, c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'data' AND c.relname ~ '^p[0-9]+$'`,
  );
  await pool.query(
    /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, position, attnum, trashed_at, trashed_by, trash_name, trash_reason)
      SELECT t.id, a.attname, 'c' || a.attnum, 'text', a.attnum, a.attnum, now() - interval '30 days', 'bench', a.attname, 'deleted'
        FROM tablewright.tables t JOIN pg_attribute a ON a.attrelid = t.table_oid AND a.attname LIKE '\\_tw\\_f%' AND NOT a.attisdropped
       WHERE t.table_name ~ '^p[0-9]+$'`,
  );
  await installHistoryTriggers(pool);
}

export async function benchReconcile(pool: pg.Pool): Promise<{ title: string; figures: Figure[] }[]> {
  const n = Number(process.env.BENCH_TABLES ?? 10_000);
  const t0 = performance.now();
  await makeTables(pool, n);
  const setupS = ((performance.now() - t0) / 1000).toFixed(1);
  const columns = n * 20;

  const opts = { columnSlotWarning: 1400 };
  const snap = await takeSnapshot(pool, SCHEMAS, { ...opts, full: true });
  const check = compareSnapshot(snap, opts);
  if (!check.clean) throw new Error(`bench catalog should reconcile clean; got ${check.items.length} items, e.g. ${check.items[0]?.message}`);

  const runs = 5;
  const reconcile = await timed(runs, async () => compareSnapshot(await takeSnapshot(pool, SCHEMAS, opts), opts));
  const full = await timed(runs, async () => compareSnapshot(await takeSnapshot(pool, SCHEMAS, { ...opts, full: true }), opts));
  // A little drift (1% of the tables) for the first pass to find: those are read in full.
  await pool.query(`DO $$ BEGIN FOR i IN 1..${Math.max(1, Math.floor(n / 100))} LOOP EXECUTE format('ALTER TABLE data.%I ALTER COLUMN c1 SET NOT NULL', 't' || (i * 97 % ${n} + 1)); END LOOP; END $$`);
  let driftItems = 0;
  const drifted = await timed(runs, async () => {
    driftItems = compareSnapshot(await takeSnapshot(pool, SCHEMAS, opts), opts).items.length;
  });
  const catalogOnly = await timed(runs, async () => {
    const client = await pool.connect();
    try {
      await readCatalog(client, [SCHEMAS.data, SCHEMAS.trash]);
    } finally {
      client.release();
    }
  });
  const compareOnly = await timed(runs, async () => compareSnapshot(snap, opts));
  const infoStatements = statements('information_schema_catalog');
  const info = await timed(3, async () => {
    for (const s of infoStatements) await pool.query(s, [[SCHEMAS.data, SCHEMAS.trash]]);
  });
  const ratio = (a: number[], b: number[]) => `${(summarise('', '', a).medianMs / summarise('', '', b).medianMs).toFixed(1)}x`;
  const extra = { tables: String(n), columns: String(columns) };
  const reconcileFigures: Figure[] = [
    summarise('reconcile (GET /reconcile): first pass in SQL, then compare', 'run', reconcile, { ...extra, 'vs information_schema': '' }),
    summarise(`reconcile with ${driftItems} drift items (1% of tables)`, 'run', drifted, { ...extra, 'vs information_schema': '' }),
    summarise('reconcile without the first pass: every table read and compared', 'run', full, { ...extra, 'vs information_schema': '' }),
    summarise('catalog read only: 4 pg_catalog queries', 'run', catalogOnly, { ...extra, 'vs information_schema': '1x' }),
    summarise('compare only, every table (in memory)', 'run', compareOnly, extra),
    summarise('same catalog through information_schema', 'run', info, { ...extra, 'vs information_schema': `${ratio(info, catalogOnly)} slower` }),
  ];

  await makeTrash(pool);
  const deps = { pool, log: testLog, config: { dataSchema: 'data', trashSchema: 'data_trash', lockTimeoutMs: 3000, maxFields: 500, columnSlotWarning: 1400, trashRetentionMs: 7 * 86_400_000 } };
  const p0 = performance.now();
  const result = await runCleanup(deps, { actor: { name: 'bench' } });
  const purgeMs = performance.now() - p0;
  if (result.purged.length !== 1000 || result.skipped.length) throw new Error(`expected 1000 purged, got ${result.purged.length} (${result.skipped.length} skipped)`);
  const purgeFigures: Figure[] = [
    { name: 'cleanup: purge 1,000 trashed fields (one transaction each)', unit: 'run', samples: 1, medianMs: purgeMs, p99Ms: purgeMs, extra: { 'per field ms': (purgeMs / 1000).toFixed(2), 'fields/s': Math.round(1000 / (purgeMs / 1000)).toString() } },
  ];
  process.stdout.write(`\n(setup: ${n} tables x 20 columns created and described in ${setupS} s)\n`);
  return [
    { title: `Reconcile: ${n.toLocaleString('en')} tables x 20 columns (median of ${runs}; information_schema: median of 3)`, figures: reconcileFigures },
    { title: 'Trash purge', figures: purgeFigures },
  ];
}

/**
 * The suite for test/bench/run.ts: on the bench's server, and also on the other supported
 * server when one answers (BENCH_SECOND_DATABASE_URL, by default the PostgreSQL at
 * 127.0.0.1:5432, a maintenance database on it): each prints its version.
 */
export async function benchReconcileSuite(url: string): Promise<void> {
  await reconcileOn(url);
  const second = process.env.BENCH_SECOND_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (second === 'off') return;
  const admin = new pg.Client({ connectionString: second, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch {
    process.stdout.write(`\n(no second PostgreSQL answers at ${second.replace(/:[^:@/]*@/, ':***@')}: reconcile measured on one server)\n`);
    return;
  }
  const ours = new pg.Client({ connectionString: url });
  await ours.connect();
  const same = (await ours.query(`SELECT current_setting('port') AS p, system_identifier::text AS s FROM pg_control_system()`)).rows[0];
  await ours.end();
  const theirs = (await admin.query(`SELECT current_setting('port') AS p, system_identifier::text AS s FROM pg_control_system()`)).rows[0];
  if (same.s === theirs.s && same.p === theirs.p) return void (await admin.end());
  const name = `tw_bench_reconcile_${process.pid}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(second);
  u.pathname = `/${name}`;
  try {
    const client = new pg.Client({ connectionString: u.toString() });
    await client.connect();
    try {
      await migrate(client, { dataSchema: SCHEMAS.data, trashSchema: SCHEMAS.trash, log: testLog });
    } finally {
      await client.end();
    }
    await reconcileOn(u.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function reconcileOn(url: string): Promise<void> {
  const pool = createPool({ connectionString: url, max: 4, connectTimeoutMs: 5000 }, testLog);
  try {
    const { rows } = await pool.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
    process.stdout.write(`\n== reconcile on PostgreSQL ${rows[0]!.v}\n`);
    for (const t of await benchReconcile(pool)) printTable(`${t.title} [PostgreSQL ${rows[0]!.v.split(' ')[0]}]`, t.figures);
  } finally {
    await pool.end();
  }
}
