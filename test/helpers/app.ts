// Starts real Tablewright instances on port 0 against a test database, and talks to
// them over real HTTP. Every instance started must be stopped: the root hook fails the
// run when one is left running (a leaked pool, listener or server).
import { loadConfig } from '../../server/config.js';
import { start, type Instance } from '../../server/main.js';
import { testLog } from './db.js';

const running = new Map<Instance, string>();

export interface TestApp extends Instance {
  request(method: string, path: string, opts?: RequestOptions): Promise<TestResponse>;
}

export interface RequestOptions {
  json?: unknown;
  form?: Record<string, string>;
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
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', LOG_FORMAT: 'json', LOG_LEVEL: 'silent', ...env });
  const instance = await start(config, testLog.child({ instance: label }));
  running.set(instance, label);
  const stop = instance.stop;
  return {
    ...instance,
    stop: async () => {
      running.delete(instance);
      await stop();
    },
    request: (method, path, opts) => request(instance.url, method, path, opts),
  };
}

export async function request(base: string, method: string, path: string, opts: RequestOptions = {}): Promise<TestResponse> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(opts.form).toString();
  }
  const res = await fetch(new URL(path, base), { method, headers, body, redirect: 'manual' });
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
