// `tablewright backup` / `restore` for the embedded PostgreSQL, which ships no pg_dump: an
// online physical copy of its cluster (PostgreSQL's non-exclusive backup: pg_backup_start,
// a file copy, pg_backup_stop, and the WAL written meanwhile), packed with the password
// file into one .tar.gz. Restoring it puts the cluster back exactly as it was (oids
// included, so nothing needs re-identifying), into the same or another DATA_DIR, with the
// same major version of PostgreSQL (the embedded one); the cluster it replaces is kept
// aside, never deleted.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import * as tar from 'tar';
import type { Logger } from '../log.js';
import { StartupError } from '../db/privileges.js';

export const MANIFEST = 'tablewright-backup.json';

export interface Manifest {
  format: 'tablewright-embedded-cluster';
  version: 1;
  postgres: number;
  created_at: string;
  start_wal: string;
  stop_wal: string;
}

/** Directories whose contents a base backup leaves out (PostgreSQL's own list, for pg_basebackup). */
const EMPTIED = new Set(['pg_wal', 'pg_replslot', 'pg_stat_tmp', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans']);
const SKIPPED = new Set(['postmaster.pid', 'postmaster.opts', 'backup_label', 'backup_label.old', 'tablespace_map', 'tablespace_map.old']);

/** Copies a live data folder: files that vanish meanwhile are skipped (WAL replay recreates what matters). */
async function copyTree(src: string, dst: string, rel = ''): Promise<number> {
  let bytes = 0;
  await fs.mkdir(dst, { recursive: true, mode: 0o700 });
  let entries;
  try {
    entries = await fs.readdir(src, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (!rel && SKIPPED.has(e.name)) continue;
    if (e.name.startsWith('pgsql_tmp') || e.name === 'pg_internal.init') continue;
    const from = path.join(src, e.name);
    const to = path.join(dst, e.name);
    if (e.isDirectory()) {
      if (!rel && EMPTIED.has(e.name)) {
        await fs.mkdir(to, { mode: 0o700 });
        continue;
      }
      bytes += await copyTree(from, to, r);
    } else if (e.isSymbolicLink()) {
      await fs.symlink(await fs.readlink(from), to);
    } else {
      try {
        await fs.copyFile(from, to);
        bytes += (await fs.stat(to)).size;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  return bytes;
}

export async function backupCluster(url: string, clusterDir: string, passwordFile: string, out: string, log: Logger): Promise<{ bytes: number; manifest: Manifest }> {
  const client = new pg.Client({ connectionString: url, application_name: 'tablewright-backup' });
  await client.connect();
  const staging = await fs.mkdtemp(path.join(os.tmpdir(), 'tablewright-backup-'));
  let started = false;
  try {
    const major = Math.floor(Number((await client.query('SHOW server_version_num')).rows[0].server_version_num) / 10000);
    await client.query(`SELECT pg_backup_start('tablewright backup', true)`);
    started = true;
    log.info({ cluster: clusterDir }, 'backup started: copying the cluster');
    const bytes = await copyTree(clusterDir, path.join(staging, 'pg'));
    const { rows } = await client.query<{ lsn: string; labelfile: string; spcmapfile: string }>(`SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)`);
    started = false;
    const stop = rows[0]!;
    const stopWal = (await client.query<{ f: string }>(`SELECT pg_walfile_name($1::pg_lsn) AS f`, [stop.lsn])).rows[0]!.f;
    await client.query('SELECT pg_switch_wal()'); // the last segment is complete and on disk
    const startWal = /START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)/.exec(stop.labelfile)?.[1];
    if (!startWal) throw new Error('pg_backup_stop returned no start WAL file');
    const walDir = path.join(clusterDir, 'pg_wal');
    const wal = (await fs.readdir(walDir)).filter((f) => /^[0-9A-F]{24}$/.test(f) && f.slice(0, 8) === startWal.slice(0, 8) && f >= startWal && f <= stopWal).sort();
    if (wal[0] !== startWal || wal.at(-1) !== stopWal) {
      throw new StartupError('the WAL written during the backup was recycled before it could be copied (a very busy server): run tablewright backup again');
    }
    await fs.mkdir(path.join(staging, 'pg', 'pg_wal', 'archive_status'), { recursive: true, mode: 0o700 });
    for (const f of wal) await fs.copyFile(path.join(walDir, f), path.join(staging, 'pg', 'pg_wal', f));
    await fs.writeFile(path.join(staging, 'pg', 'backup_label'), stop.labelfile, { mode: 0o600 });
    if (stop.spcmapfile) await fs.writeFile(path.join(staging, 'pg', 'tablespace_map'), stop.spcmapfile, { mode: 0o600 });
    await fs.copyFile(passwordFile, path.join(staging, 'pg.password'));
    const manifest: Manifest = { format: 'tablewright-embedded-cluster', version: 1, postgres: major, created_at: new Date().toISOString(), start_wal: startWal, stop_wal: stopWal };
    await fs.writeFile(path.join(staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
    const partial = `${out}.partial`;
    await tar.c({ gzip: true, file: partial, cwd: staging, portable: true }, [MANIFEST, 'pg.password', 'pg']);
    await fs.chmod(partial, 0o600); // it holds the password and every row
    await fs.rename(partial, out);
    return { bytes, manifest };
  } finally {
    if (started) await client.query('SELECT pg_backup_stop(false)').catch(() => undefined);
    await client.end().catch(() => undefined);
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** Is this file one of our cluster archives (a gzip whose first entry is the manifest)? */
export async function isClusterArchive(file: string): Promise<boolean> {
  const head = Buffer.alloc(2);
  const fh = await fs.open(file, 'r');
  try {
    await fh.read(head, 0, 2, 0);
  } finally {
    await fh.close();
  }
  return head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * Unpacks an archive into `clusterDir` (kept aside first when it holds a cluster) and the
 * password beside DATA_DIR. Starting the server afterwards replays the WAL to a consistent state.
 */
export async function restoreCluster(file: string, clusterDir: string, passwordFile: string): Promise<{ manifest: Manifest; keptAside?: string }> {
  const staging = await fs.mkdtemp(path.join(path.dirname(clusterDir), '.tablewright-restore-'));
  try {
    await tar.x({ file, cwd: staging, preservePaths: false });
    const manifest = JSON.parse(await fs.readFile(path.join(staging, MANIFEST), 'utf8').catch(() => '{}')) as Manifest;
    if (manifest.format !== 'tablewright-embedded-cluster' || !existsSync(path.join(staging, 'pg', 'PG_VERSION'))) {
      throw new StartupError(`${file} is not a backup made by tablewright backup of the embedded PostgreSQL`);
    }
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    let keptAside: string | undefined;
    if (existsSync(clusterDir) && (await fs.readdir(clusterDir)).length > 0) {
      keptAside = `${clusterDir}.before-restore-${stamp}`;
      await fs.rename(clusterDir, keptAside);
      if (existsSync(passwordFile)) await fs.copyFile(passwordFile, `${keptAside}.password`);
    } else {
      await fs.rm(clusterDir, { recursive: true, force: true });
    }
    await fs.rename(path.join(staging, 'pg'), clusterDir);
    await fs.chmod(clusterDir, 0o700);
    await fs.copyFile(path.join(staging, 'pg.password'), passwordFile);
    await fs.chmod(passwordFile, 0o600);
    return { manifest, keptAside };
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}
