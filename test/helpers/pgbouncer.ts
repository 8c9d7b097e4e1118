// A real PgBouncer (Debian's /usr/sbin/pgbouncer) in pool_mode=transaction, started by the
// test harness on a free port in front of the test server, the way production runs it.
//
// Two uses: test/pgbouncer/*.test.ts starts one for its own checks; and with
// TEST_PGBOUNCER=1 every app a test starts (startApp) and every CLI it runs (runCli)
// connects through it (DATABASE_URL), with LISTEN_DATABASE_URL pointing at the server
// directly, as the README's "Behind PgBouncer" says. `.ci/run` runs the multi-instance,
// cleanup, migrate, jobs, CSV import, reconcile and token tests that way.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './process.js';

export const PGBOUNCER_BIN = process.env.PGBOUNCER_PATH ?? '/usr/sbin/pgbouncer';

export function pgbouncerAvailable(): boolean {
  return existsSync(PGBOUNCER_BIN);
}

export interface Bouncer {
  port: number;
  /** the same URL, through the bouncer */
  through(url: string): string;
  /** SHOW-style admin commands on the bouncer's console */
  admin(command: string): Promise<Array<Record<string, unknown>>>;
  stop(): Promise<void>;
}

/** An OS user PgBouncer may run as (it refuses to run as root). */
function unprivilegedIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
      return { uid, gid };
    } catch {
      // next
    }
  }
  throw new Error('running as root, and no postgres or nobody user for PgBouncer to run as');
}

const quoteIni = (v: string) => v.replace(/\s/g, '');

/** Starts PgBouncer in front of the server `serverUrl` points at (any database on it). */
export async function startPgBouncer(serverUrl: string): Promise<Bouncer> {
  const u = new URL(serverUrl);
  const user = decodeURIComponent(u.username || 'postgres');
  const password = decodeURIComponent(u.password);
  const port = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tablewright-pgbouncer-'));
  await fs.chmod(dir, 0o755);
  const authFile = path.join(dir, 'users.txt');
  await fs.writeFile(authFile, `"${user}" "${password.replace(/"/g, '""')}"\n"pgbouncer" ""\n`, { mode: 0o644 });
  const ini = path.join(dir, 'pgbouncer.ini');
  await fs.writeFile(
    ini,
    [
      '[databases]',
      `* = host=${quoteIni(u.hostname)} port=${u.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${authFile}`,
      'pool_mode = transaction',
      'max_client_conn = 1000',
      'default_pool_size = 40',
      'max_db_connections = 60',
      'server_reset_query =',
      'admin_users = pgbouncer',
      'ignore_startup_parameters = extra_float_digits',
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const ids = unprivilegedIds();
  const child: ChildProcess = spawn(PGBOUNCER_BIN, [ini], { stdio: ['ignore', 'pipe', 'pipe'], ...(ids ?? {}) });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const through = (url: string) => {
    const x = new URL(url);
    x.hostname = '127.0.0.1';
    x.port = String(port);
    return x.toString();
  };
  const admin = async (command: string) => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'pgbouncer', database: 'pgbouncer' });
    await c.connect();
    try {
      return (await c.query({ text: command, queryMode: 'simple' } as pg.QueryConfig)).rows;
    } finally {
      await c.end();
    }
  };
  // Ready when it answers a query through itself.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited at start:\n${output}`);
    const c = new pg.Client({ connectionString: through(serverUrl), connectionTimeoutMillis: 1000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      break;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`pgbouncer did not answer within 15 s: ${(err as Error).message}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    through,
    admin,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** The run-wide bouncer of TEST_PGBOUNCER=1 (started by the root hook). */
let shared: Bouncer | undefined;

export const viaPgBouncer = () => process.env.TEST_PGBOUNCER === '1';

export async function startSharedPgBouncer(serverUrl: string): Promise<void> {
  if (!viaPgBouncer()) return;
  if (!pgbouncerAvailable()) throw new Error(`TEST_PGBOUNCER=1 but there is no pgbouncer at ${PGBOUNCER_BIN} (apt-get install pgbouncer)`);
  shared = await startPgBouncer(serverUrl);
}

export async function stopSharedPgBouncer(): Promise<void> {
  await shared?.stop();
  shared = undefined;
}

/**
 * The settings an app or CLI gets for `databaseUrl`: unchanged, or, with TEST_PGBOUNCER=1,
 * DATABASE_URL through the bouncer and LISTEN_DATABASE_URL straight to the server.
 */
export function connectionEnv(databaseUrl: string): { DATABASE_URL: string; LISTEN_DATABASE_URL?: string } {
  if (!shared) return { DATABASE_URL: databaseUrl };
  return { DATABASE_URL: shared.through(databaseUrl), LISTEN_DATABASE_URL: databaseUrl };
}
