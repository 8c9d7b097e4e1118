// npm run bench: starts (or uses) a PostgreSQL server, makes a fresh database, runs each
// benchmark and prints its figures. BENCH_DATABASE_URL points it at an existing server
// (a maintenance database such as postgres; the bench creates and drops its own).
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createPool } from '../../server/db/pool.js';
import { freshDatabase, setUpServer, tearDownServer, testLog } from '../helpers/db.js';
import { printTable } from './lib.js';
import { benchReconcileSuite } from './reconcile.js';
import { benchRoundTrip } from './roundtrip.js';
import { benchSchema } from './schema.js';
import { benchModels } from './models.js';
import { benchJobs } from './jobs.js';
import { benchHistory } from './history.js';
import { benchSystemFields } from './system_fields.js';
import { benchHttp } from './http.js';
import { benchGrid } from './grid.js';
import { benchOnline } from './online.js';
import { benchImportInfer } from './import_infer.js';
import { benchImport } from './import.js';
import { benchLinks } from './links.js';
import { benchCompile } from './compile.js';
import { benchMultiselect } from './multiselect.js';
import { benchFormula } from './formula.js';

const suites: Record<string, (url: string) => Promise<void>> = {
  roundtrip: async (url) => {
    const pool = createPool({ connectionString: url, max: 4, connectTimeoutMs: 5000 }, testLog);
    try {
      printTable('Database round trip (pool of 4, one at a time)', await benchRoundTrip(pool));
    } finally {
      await pool.end();
    }
  },
  schema: benchSchema,
  models: benchModels,
  reconcile: benchReconcileSuite,
  jobs: benchJobs,
  history: benchHistory,
  system_fields: benchSystemFields,
  http: benchHttp,
  grid: benchGrid,
  online: benchOnline,
  import_infer: benchImportInfer,
  import: benchImport,
  links: benchLinks,
  compile: benchCompile,
  multiselect: benchMultiselect,
  formula: benchFormula,
};

async function main(): Promise<void> {
  const { positionals } = parseArgs({ allowPositionals: true });
  const chosen = positionals.length ? positionals : Object.keys(suites);
  for (const name of chosen) if (!suites[name]) throw new Error(`unknown benchmark "${name}"; known: ${Object.keys(suites).join(', ')}`);
  if (process.env.BENCH_DATABASE_URL) process.env.TEST_DATABASE_URL = process.env.BENCH_DATABASE_URL;
  await setUpServer();
  try {
    const server = new pg.Client({ connectionString: (await freshDatabase({ empty: true })).url });
    await server.connect();
    const { rows } = await server.query<{ server_version: string }>('SHOW server_version');
    await server.end();
    process.stdout.write(`Tablewright benchmarks on PostgreSQL ${rows[0]!.server_version}, node ${process.version}\n`);
    for (const name of chosen) {
      const db = await freshDatabase();
      try {
        await suites[name]!(db.url);
      } finally {
        await db.drop();
      }
    }
  } finally {
    await tearDownServer();
  }
}

await main();
