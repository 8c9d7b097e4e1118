// `tablewright backup [--out FILE]` and `tablewright restore FILE`.
//
// With DATABASE_URL: pg_dump (custom format) of the whole database, and pg_restore into an
// empty database; then start Tablewright on it and take the drift report's one action
// ("this database was restored": reidentify).
// Without it (the embedded PostgreSQL, which ships no pg_dump): a physical copy of the
// embedded cluster (server/backup/physical.ts), restored in place of DATA_DIR's cluster
// (kept aside), oids and all: nothing to re-identify.
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { runningEmbeddedUrl } from '../auth/cli.js';
import { embeddedClusterDir } from '../db/embedded.js';
import { createPool } from '../db/pool.js';
import { StartupError } from '../db/privileges.js';
import type { Logger } from '../log.js';
import { openDatabase, runMigrations } from '../main.js';
import { assertEmpty, dumpDatabase, isDumpArchive, restoreDatabase } from './logical.js';
import { backupCluster, isClusterArchive, restoreCluster } from './physical.js';

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\..*/, '');

function args(argv: string[], usage: string, opts: Record<string, { type: 'string' }>) {
  try {
    return parseArgs({ args: argv, options: opts, allowPositionals: true, strict: true });
  } catch (err) {
    throw new StartupError(`${(err as Error).message}\n${usage}`);
  }
}

export async function backupCommand(config: Config, log: Logger, argv: string[]): Promise<number> {
  const { values } = args(argv, 'usage: tablewright backup [--out FILE]', { out: { type: 'string' } });
  if (config.databaseUrl) {
    const out = path.resolve(values.out ?? `tablewright-${stamp()}.dump`);
    const { tool } = await dumpDatabase(config.databaseUrl, out, config.pgBinDir);
    log.info({ file: out, tool }, 'backup written (pg_dump, custom format)');
    process.stdout.write(`${out}\n`);
    return 0;
  }
  const out = path.resolve(values.out ?? `tablewright-${stamp()}.tar.gz`);
  const running = runningEmbeddedUrl(config);
  const db = running ? undefined : await openDatabase(config, log);
  try {
    const clusterDir = await embeddedClusterDir(config.dataDir, log);
    const { bytes, manifest } = await backupCluster(running ?? db!.url, clusterDir, path.join(config.dataDir, 'pg.password'), out, log);
    log.info({ file: out, bytes, postgres: manifest.postgres }, 'backup written (a copy of the embedded cluster; restore it with tablewright restore)');
    process.stdout.write(`${out}\n`);
    return 0;
  } finally {
    await db?.embedded?.stop();
  }
}

export async function restoreCommand(config: Config, log: Logger, argv: string[]): Promise<number> {
  const { positionals } = args(argv, 'usage: tablewright restore FILE', {});
  if (positionals.length !== 1) throw new StartupError('usage: tablewright restore FILE (made by tablewright backup or pg_dump --format=custom)');
  const file = path.resolve(positionals[0]!);
  const dump = await isDumpArchive(file).catch(() => {
    throw new StartupError(`cannot read ${file}`);
  });
  if (!dump && !(await isClusterArchive(file))) throw new StartupError(`${file} is neither a pg_dump custom-format archive nor a tablewright backup of the embedded PostgreSQL`);

  if (!config.databaseUrl && runningEmbeddedUrl(config)) {
    throw new StartupError(`the embedded PostgreSQL of ${config.dataDir} is running: stop tablewright serve first, then restore`);
  }
  if (dump) {
    let url = config.databaseUrl;
    const db = url ? undefined : await openDatabase(config, log);
    url ??= db!.url;
    try {
      await assertEmpty(url, config.dataSchema);
      const { tool } = await restoreDatabase(url, file, config.pgBinDir);
      log.info({ file, tool }, 'restored with pg_restore');
    } finally {
      await db?.embedded?.stop();
    }
    process.stdout.write(
      `restored ${file}. Start Tablewright on it: the drift report says "this database was restored" with one action (reidentify) to take.\n`,
    );
    return 0;
  }
  if (config.databaseUrl) throw new StartupError('a backup of the embedded PostgreSQL restores only into the embedded PostgreSQL: unset DATABASE_URL (and set DATA_DIR)');
  const clusterDir = await embeddedClusterDir(config.dataDir, log);
  const { manifest, keptAside } = await restoreCluster(file, clusterDir, path.join(config.dataDir, 'pg.password'));
  // Start it once: the WAL replay makes the copy consistent; migrations bring it up to date.
  const db = await openDatabase(config, log);
  try {
    const pool = createPool({ connectionString: db.url, max: 1, connectTimeoutMs: config.connectTimeoutMs }, log);
    try {
      await runMigrations(pool, config, log);
    } finally {
      await pool.end();
    }
  } finally {
    await db.embedded?.stop();
  }
  log.info({ file, created: manifest.created_at, keptAside }, 'embedded cluster restored');
  process.stdout.write(`restored ${file} (made ${manifest.created_at}) into ${config.dataDir}${keptAside ? `; the cluster it replaced is kept in ${keptAside}` : ''}\n`);
  return 0;
}
