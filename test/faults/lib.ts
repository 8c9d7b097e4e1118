// Shared kit for the fault tests (`npm run test:faults`): instances whose log lines a test
// can read, daemons in child processes, and what a process holds (/proc).
import fs from 'node:fs/promises';
import pg from 'pg';
import { pino } from 'pino';
import { createToken } from '../../server/auth/tokens.js';
import { loadConfig } from '../../server/config.js';
import { start, type Instance } from '../../server/main.js';
import { request, type RequestOptions, type TestResponse } from '../helpers/app.js';
import { freePort, runCli, type Cli } from '../helpers/process.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `fn` until it returns something truthy; fails naming `what` after `timeoutMs`. */
export async function eventually<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 5000, everyMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(everyMs);
  }
}

/** One parsed pino line. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

export interface LoggedApp extends Instance {
  adminToken: string;
  logs: LogLine[];
  /** log lines whose message matches re */
  logged(re: RegExp): LogLine[];
  request(method: string, path: string, opts?: RequestOptions): Promise<TestResponse>;
}

const running = new Set<LoggedApp>();

/**
 * An in-process instance like test/helpers/app.ts's startApp, with its log lines kept in
 * memory (level debug) so that a test can check what an operator would have seen.
 */
export async function startLoggedApp(databaseUrl: string, env: Record<string, string> = {}, label = 'app'): Promise<LoggedApp> {
  const logs: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) }).child({ instance: label });
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', LOG_FORMAT: 'json', LOG_LEVEL: 'debug', ...env });
  const instance = await start(config, log);
  let adminToken: string;
  try {
    adminToken = (await createToken(instance.ctx.pool, { name: `fault admin (${label})`, role: 'admin' }, 'test')).token;
  } catch (err) {
    await instance.stop();
    throw err;
  }
  const app: LoggedApp = {
    ...instance,
    adminToken,
    logs,
    logged: (re) => logs.filter((l) => re.test(l.msg)),
    stop: async () => {
      running.delete(app);
      await instance.stop();
    },
    request: (method, path, opts = {}) => request(instance.url, method, path, { auth: { token: adminToken }, ...opts }),
  };
  running.add(app);
  return app;
}

/** For after hooks: stops whatever startLoggedApp started and a test left running. */
export async function stopLoggedApps(): Promise<void> {
  await Promise.all([...running].map((a) => a.stop()));
}

/** An admin token on a database, made directly (as `tablewright token create` does). */
export async function adminTokenFor(databaseUrl: string, name = 'fault admin'): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await createToken(client, { name, role: 'admin' }, 'test')).token;
  } finally {
    await client.end();
  }
}

export interface Daemon {
  cli: Cli;
  pid: number;
  url: string;
  call(method: string, path: string, opts?: RequestOptions): Promise<TestResponse>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone */
  stop(graceMs?: number): Promise<void>;
}

const daemons = new Set<Daemon>();

/**
 * `tablewright serve` in a child process (the real CLI), on a free port; resolves once it
 * answers /healthz (whatever LOG_LEVEL says, so a quiet one works too).
 */
export async function startDaemon(env: Record<string, string>, token: string): Promise<Daemon> {
  const port = env.PORT ?? String(await freePort());
  const cli = runCli(['serve'], { LOG_LEVEL: 'info', ...env, PORT: port });
  const daemon: Daemon = {
    cli,
    pid: cli.child.pid!,
    url: `http://127.0.0.1:${port}`,
    call: (method, path, opts = {}) => request(daemon.url, method, path, { auth: { token }, ...opts }),
    stop: async (graceMs = 10_000) => {
      daemons.delete(daemon);
      if (cli.child.exitCode !== null || cli.child.signalCode !== null) return;
      cli.child.kill('SIGTERM');
      const timer = setTimeout(() => cli.child.kill('SIGKILL'), graceMs);
      await cli.exited;
      clearTimeout(timer);
    },
  };
  daemons.add(daemon);
  try {
    await eventually(
      `the daemon answering on port ${port}`,
      async () => {
        if (cli.child.exitCode !== null) throw new Error(`the daemon exited (${cli.child.exitCode}):\n${cli.output().slice(-3000)}`);
        return (await fetch(`${daemon.url}/healthz`).catch(() => undefined))?.status === 200;
      },
      60_000,
      100,
    );
  } catch (err) {
    await daemon.stop(1000);
    throw err;
  }
  return daemon;
}

/** For after hooks: stops every daemon a test left running. */
export async function stopDaemons(): Promise<void> {
  await Promise.all([...daemons].map((d) => d.stop()));
}

/** What a process holds: resident memory (kB) and open file descriptors. */
export async function processUsage(pid: number): Promise<{ rssKb: number; fds: number }> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  const fds = (await fs.readdir(`/proc/${pid}/fd`)).length;
  return { rssKb, fds };
}

/** Log lines of a child process (JSON, one per line) whose msg matches re. */
export function daemonLogged(d: Daemon, re: RegExp): LogLine[] {
  return d.cli
    .output()
    .split('\n')
    .flatMap((l) => {
      try {
        const parsed = JSON.parse(l) as LogLine;
        return re.test(parsed.msg) ? [parsed] : [];
      } catch {
        return [];
      }
    });
}

/**
 * The table's columns as PostgreSQL has them, and as the metadata says they should be
 * (live fields under their column name, trashed ones under their parked name), both sorted.
 */
export async function columnsBothWays(client: pg.Client | { raw: pg.Client }, tableId: number): Promise<{ catalog: string[]; metadata: string[] }> {
  const c = 'raw' in client ? client.raw : client;
  const catalog = await c.query<{ attname: string }>(
    `SELECT a.attname FROM tablewright.tables t JOIN pg_attribute a ON a.attrelid = t.table_oid
      WHERE t.id = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'id' ORDER BY 1`,
    [tableId],
  );
  const metadata = await c.query<{ name: string }>(
    `SELECT CASE WHEN trashed_at IS NULL THEN column_name ELSE trash_name END AS name FROM tablewright.fields WHERE table_id = $1 ORDER BY 1`,
    [tableId],
  );
  return { catalog: catalog.rows.map((r) => r.attname), metadata: metadata.rows.map((r) => r.name) };
}

// A root hook (every fault file loads this module; the load test, outside mocha, skips it):
// fail the run when a test left an instance or a daemon running, after stopping them.
if (typeof after === 'function') {
  after(async function () {
    this.timeout(30_000);
    const left = running.size + daemons.size;
    await stopLoggedApps();
    await stopDaemons();
    if (left > 0) throw new Error(`the fault tests left ${left} instance(s) or daemon(s) running; stop them in an after hook`);
  });
}
