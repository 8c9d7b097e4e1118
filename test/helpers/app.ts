// Starts real Tablewright instances on port 0 against a test database, and talks to
// them over real HTTP. Every instance started must be stopped: the root hook fails the
// run when one is left running (a leaked pool, listener or server).
import { createToken } from '../../server/auth/tokens.js';
import type { Role } from '../../server/auth/roles.js';
import { loadConfig } from '../../server/config.js';
import { start, type Instance } from '../../server/main.js';
import { freshDatabase, testLog, type TestDatabase } from './db.js';
import { Sql } from './sql.js';
import { connectionEnv } from './pgbouncer.js';

const running = new Map<Instance, string>();

export interface TestApp extends Instance {
  /** Sends `Authorization: Bearer <adminToken>` unless opts.auth says otherwise. */
  request(method: string, path: string, opts?: RequestOptions): Promise<TestResponse>;
  /** An admin API token made for this app at start (through the domain function, as the CLI does). */
  adminToken: string;
}

export interface RequestOptions {
  /**
   * Credentials: by default the app's admin token (request() on a TestApp). false sends
   * none; {token} another bearer token; {cookie} a Cookie header (e.g. 'tw_session=...').
   */
  auth?: false | { token: string } | { cookie: string };
  json?: unknown;
  form?: Record<string, string>;
  /** a raw body (a CSV file, a FormData): its Content-Type goes in headers (a FormData brings its own) */
  body?: BodyInit;
  headers?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  /** the body parsed as JSON (undefined when it is not JSON) */
  body: any;
}

export async function startApp(databaseUrl: string, env: Record<string, string> = {}, label = 'app'): Promise<TestApp> {
  const config = loadConfig({ ...connectionEnv(databaseUrl), PORT: '0', LOG_FORMAT: 'json', LOG_LEVEL: 'silent', ...env });
  const instance = await start(config, testLog.child({ instance: label }));
  running.set(instance, label);
  const stop = instance.stop;
  let adminToken: string;
  try {
    adminToken = (await createToken(instance.ctx.pool, { name: `test admin (${label})`, role: 'admin' }, 'test')).token;
  } catch (err) {
    running.delete(instance);
    await stop();
    throw err;
  }
  return {
    ...instance,
    adminToken,
    stop: async () => {
      running.delete(instance);
      await stop();
    },
    request: (method, path, opts = {}) => request(instance.url, method, path, { auth: { token: adminToken }, ...opts }),
  };
}

/** A new API token with this role on the app's database (shown once, like the CLI's). */
export async function createTestToken(app: Instance, role: Role, name = `test ${role}`): Promise<string> {
  return (await createToken(app.ctx.pool, { name, role }, 'test')).token;
}

export async function request(base: string, method: string, path: string, opts: RequestOptions = {}): Promise<TestResponse> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.auth && 'token' in opts.auth) headers.Authorization = `Bearer ${opts.auth.token}`;
  if (opts.auth && 'cookie' in opts.auth) headers.Cookie = opts.auth.cookie;
  Object.assign(headers, opts.headers);
  let body: BodyInit | undefined = opts.body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(opts.form).toString();
  }
  const res = await fetch(new URL(path, base), { method, headers, body, redirect: 'manual' });
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    // An event stream never ends by itself: answer its status and headers, then hang up.
    await res.body?.cancel();
    return { status: res.status, headers: res.headers, text: '', body: undefined };
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

export function assertNothingLeaked(where: string): void {
  if (running.size > 0) {
    const labels = [...running.values()].join(', ');
    running.clear();
    throw new Error(`${where}: left ${labels} running; stop every instance in an after hook`);
  }
}

/**
 * The usual setup of a test file: a fresh database, an app on it and a SQL client to it
 * (fixtures, catalog checks), for the enclosing describe, closed and dropped after it.
 * `started` hands them to the file's variables:
 *   let db: TestDatabase; let app: TestApp; let sql: Sql;
 *   useApp((s) => ({ db, app, sql } = s));
 */
export function useApp(started: (s: { db: TestDatabase; app: TestApp; sql: Sql }) => void, env: Record<string, string> = {}): void {
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let sql: Sql | undefined;
  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, env);
    sql = await Sql.connect(db.url);
    started({ db, app, sql });
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });
}
