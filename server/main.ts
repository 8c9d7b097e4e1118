// One running instance: config -> database (embedded when no DATABASE_URL) -> migrate
// -> HTTP. start() is used by the CLI and, with port 0, by the tests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { Config } from './config.js';
import { TokenCache } from './auth/token_cache.js';
import { createBus } from './bus/index.js';
import { ModelCache } from './model/cache.js';
import { flushAnnouncements } from './live/announce.js';
import { LiveHub } from './live/hub.js';
import { jobHandlers } from './jobs/handlers.js';
import { JobRunner } from './jobs/runner.js';
import { sweepOrphanedChanges } from './schema/online/orphans.js';
import { ONLINE_CHANGE } from './schema/online/run.js';
import type { AppContext } from './context.js';
import { startEmbedded, type EmbeddedServer } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { describeUrl, type Logger } from './log.js';
import { createApp } from './web/app.js';
import { installDdlTrigger } from './introspect/ddl_trigger.js';
import { createDriftMonitor } from './introspect/monitor.js';
import { recordIdentityIfUnchanged } from './introspect/identity.js';
import { backfillComments } from './schema/comment_backfill.js';
import { startCleanupScheduler } from './trash/cleanup.js';

export interface Instance {
  url: string;
  ctx: AppContext;
  server: http.Server;
  /** Graceful: stop accepting, let in-flight requests finish, close pools and the embedded server. */
  stop(): Promise<void>;
}

export interface Database {
  url: string;
  embedded?: EmbeddedServer;
}

/** The database to use: DATABASE_URL, or an embedded server started on the local data folder. */
export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  if (config.databaseUrl) {
    log.info({ database: describeUrl(config.databaseUrl) }, 'using DATABASE_URL');
    return { url: config.databaseUrl };
  }
  const embedded = await startEmbedded({ dataDir: config.dataDir, port: config.embeddedPgPort, log });
  return { url: embedded.url, embedded };
}

export async function runMigrations(pool: pg.Pool, config: Config, log: Logger): Promise<string[]> {
  const client = await pool.connect();
  let applied: string[];
  try {
    applied = await migrate(client, { dataSchema: config.dataSchema, trashSchema: config.trashSchema, lockTimeoutMs: config.lockTimeoutMs, log });
  } finally {
    client.release();
  }
  // A copied or restored database: record its identity when every stored oid still holds,
  // else leave it to the drift report ("this database was restored") and its one action.
  const identity = await recordIdentityIfUnchanged(pool);
  if (identity === 'recorded') log.info('this database is a copy whose catalog identities still hold; its new identity is recorded');
  if (identity === 'restored') log.warn('this database was restored: its tables must be re-identified; see the drift report (GET /reconcile) and its "reidentify" action');
  return applied;
}

export async function start(config: Config, log: Logger): Promise<Instance> {
  const db = await openDatabase(config, log);
  const effective: Config = { ...config, databaseUrl: db.url, listenDatabaseUrl: config.listenDatabaseUrl ?? db.url };
  const pool = createPool({ connectionString: db.url, max: config.poolMax, connectTimeoutMs: config.connectTimeoutMs, statementTimeoutMs: config.statementTimeoutMs, prepareStatements: config.prepareStatements }, log);
  const closers: Array<() => Promise<void>> = [];
  closers.push(async () => {
    await flushAnnouncements(pool);
    await pool.end();
  });
  if (db.embedded) closers.push(() => db.embedded!.stop());

  const closeAll = async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        log.warn({ err }, 'error while shutting down');
      }
    }
  };

  try {
    await runMigrations(pool, effective, log);
    // The bus listens before the first request can cache a model. Pushed last, so that
    // closeAll() stops it first, while the pool it pings through is still open.
    const bus = createBus({
      pool,
      log,
      listenUrl: effective.listenDatabaseUrl!,
      pingIntervalMs: config.busPingIntervalMs,
      pingTimeoutMs: config.busPingTimeoutMs,
      schemaPollIntervalMs: config.schemaPollIntervalMs,
      connectTimeoutMs: config.connectTimeoutMs,
    });
    closers.push(() => bus.stop());
    await bus.start();
    // One id for the instance: the listener's application_name and the `instance` the schema editor puts in its notifications.
    const models = new ModelCache({ pool, dataSchema: config.dataSchema, log: log.child({ component: 'models' }), max: config.modelCacheMax, ttlSeconds: config.modelCacheTtlS });
    closers.push(async () => models.close());
    bus.onSchemaChange(({ tableId, version }) => models.schemaChanged(tableId, version));
    bus.onFlush(({ reason }) => models.flush(reason));
    // DDL from outside the console (the opt-in event trigger): the catalog may no longer
    // match what models were compiled against. DDL is rare: drop them all.
    bus.onDdl(() => models.flush('ddl outside the console'));
    // Tokens: any auth notification (a revocation, from any instance or the CLI) and any
    // flush (a notification may have gone unheard) drop every cached token; while the
    // listener is down the cache is bypassed (server/auth/token_cache.ts).
    const tokens = new TokenCache({ ttlSeconds: config.tokenCacheTtlS, listening: () => bus.isConnected() });
    bus.onAuthChange((change) => {
      tokens.clear();
      log.debug({ ...change }, 'token cache cleared: auth change');
    });
    bus.onFlush(({ reason }) => {
      tokens.clear();
      log.debug({ reason }, 'token cache cleared: bus flush');
    });
    const live = new LiveHub({ log: log.child({ component: 'live' }), maxClients: config.liveMaxClients, heartbeatMs: config.liveHeartbeatMs });
    live.connect(bus);
    const ctx: AppContext = { config: effective, log, pool, bus, listener: bus, instanceId: bus.instanceId, models, tokens, live };
    const jobs = new JobRunner({
      pool,
      log,
      instanceId: bus.instanceId,
      handlers: jobHandlers({ pool, log, config: effective, instanceId: bus.instanceId, models, onCommitted: (t, v) => models.schemaChanged(t, v) }),
      pollMs: config.jobPollMs,
      staleMs: config.jobStaleMs,
      sweep: async () => {
        for (const o of await sweepOrphanedChanges(pool, ONLINE_CHANGE)) log.warn({ ...o }, 'online change abandoned by its job: rolling it back');
      },
    });
    jobs.start();
    closers.push(() => jobs.stop());
    ctx.jobs = jobs;
    // Reconcile (server/introspect): the opt-in DDL event trigger, then the drift summary
    // (logged at start, kept fresh by the bus), then the trash cleanup schedule. Pushed
    // after the bus, so that closeAll() stops them before it and the pool.
    if (config.ddlEventTrigger) {
      await installDdlTrigger(pool, [config.dataSchema, config.trashSchema], log).catch((err) => log.warn({ err }, 'DDL event trigger not installed'));
    }
    const drift = createDriftMonitor({ deps: { pool, config: effective }, log, bus, debounceMs: config.ddlDebounceMs, intervalMs: config.driftCheckIntervalMs });
    ctx.drift = drift;
    closers.push(() => drift.stop());
    await drift.refresh('start');
    // Older comments get the field type, options and trashed state (in the background).
    const backfill = backfillComments(pool, { data: config.dataSchema, trash: config.trashSchema }, config.lockTimeoutMs, log).catch((err) => log.warn({ err }, 'comment backfill failed'));
    closers.push(async () => void (await backfill));
    if (config.cleanupIntervalMs !== null) {
      const cleanup = startCleanupScheduler({ pool, log, config: effective, instanceId: bus.instanceId }, log, config.cleanupIntervalMs);
      ctx.cleanup = cleanup;
      closers.push(() => cleanup.stop());
    }
    const app = createApp(ctx);
    // Slow and abandoned clients are cut off: headers or a whole request not received in
    // time answer 408 and the connection closes. Node checks these limits once per
    // connectionsCheckingInterval (30 s by default): once a second keeps them near exact.
    const server = http.createServer({ connectionsCheckingInterval: 1000 }, app);
    server.requestTimeout = config.httpRequestTimeoutMs;
    server.headersTimeout = config.httpHeadersTimeoutMs;
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => onClientError(err, socket, log));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${host}:${port}`;

    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        log.info('shutting down: no new connections, finishing requests in flight');
        // Event streams never finish by themselves: end them first (browsers reconnect).
        ctx.live?.closeAll();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => {
          log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'requests still in flight at the shutdown timeout; closing them');
          server.closeAllConnections();
        }, config.shutdownTimeoutMs);
        await closed;
        clearTimeout(timer);
        await closeAll();
        log.info('stopped');
      })());
    return { url, ctx, server, stop };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * A client that sent something unreadable or too slowly (no request object exists yet, or
 * the request never finished). Answered as Node would by default (408, 431 or 400, when
 * nothing was written yet), and logged: a slow or broken client at warn, a client that
 * simply went away at debug.
 */
function onClientError(err: NodeJS.ErrnoException, socket: import('node:stream').Duplex, log: Logger): void {
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const gone = err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable;
  if (gone) {
    log.debug({ code: err.code }, 'client connection reset');
  } else {
    log.warn(
      { code: err.code, status, remote: (socket as import('node:net').Socket).remoteAddress },
      status === 408 ? 'client too slow: request not received in time (HTTP_REQUEST_TIMEOUT_MS / HTTP_HEADERS_TIMEOUT_MS); connection closed' : 'unreadable request; connection closed',
    );
    if ((socket as import('node:net').Socket).bytesWritten === 0) {
      socket.write(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
  }
  socket.destroy();
}
