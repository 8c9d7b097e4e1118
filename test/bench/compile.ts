// npm run bench -- compile (issue 15): compiling a 200-field model (one round trip for the
// metadata, then node; each half also timed alone), and the memory a cached model takes (heap growth over 2,000
// compiled models of 50 and of 200 fields, kept alive, after a forced GC when node runs
// with --expose-gc; otherwise after letting the heap settle).
import os from 'node:os';
import { loadConfig } from '../../server/config.js';
import { createPool } from '../../server/db/pool.js';
import { buildModel, compileModel, readTableAndFields, type Model } from '../../server/model/compile.js';
import { createTable } from '../../server/schema/tables.js';
import { testLog } from '../helpers/db.js';
import { measure, printTable, type Figure } from './lib.js';

const TYPES = ['text', 'number', 'boolean', 'date'];

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

export async function benchCompile(url: string): Promise<void> {
  const config = loadConfig({ DATABASE_URL: url, LOCK_TIMEOUT_MS: '60000' });
  // the pool as the daemon makes it (server/main.ts): statement timeout, prepared statements
  const pool = createPool({ connectionString: url, max: 2, connectTimeoutMs: 5000, statementTimeoutMs: config.statementTimeoutMs, prepareStatements: config.prepareStatements }, testLog);
  const deps = { pool, log: testLog, config };
  const figures: Figure[] = [];
  try {
    const ids: Record<number, number> = {};
    for (const n of [50, 200]) {
      ids[n] = (await createTable(deps, { name: 'bench' }, { name: `Wide ${n}`, fields: Array.from({ length: n }, (_, i) => ({ name: `F${i}`, type: TYPES[i % 4]! })) })).id;
    }
    figures.push(await measure('compile a model of 200 fields (metadata read + build)', 'compile', 500, () => compileModel(pool, config.dataSchema, ids[200]!), 50));
    // The two halves apart: the one round trip for the metadata, and the build in node from it.
    figures.push(await measure('  the metadata read alone (one round trip, 200 fields)', 'read', 500, () => readTableAndFields(pool, ids[200]!), 50));
    const meta = await readTableAndFields(pool, ids[200]!);
    figures.push(await measure('  the build alone, in node, from that metadata', 'build', 500, () => buildModel(pool, config.dataSchema, meta.table, meta.fields), 50));
    for (const n of [50, 200]) {
      const keep: Model[] = [];
      const before = heapUsed();
      for (let i = 0; i < 2000; i++) keep.push(await compileModel(pool, config.dataSchema, ids[n]!));
      const kb = (heapUsed() - before) / 2000 / 1024;
      figures.push({
        name: `memory per cached model of ${n} fields`,
        unit: 'model',
        samples: keep.length,
        medianMs: 0,
        p99Ms: 0,
        extra: { 'KB/model': kb.toFixed(1), 'RSS MB': (process.memoryUsage().rss / 1024 / 1024).toFixed(0) },
      });
    }
    printTable(`Models (load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`, figures);
  } finally {
    await pool.end();
  }
}
