// One running instance: config -> database (embedded when no DATABASE_URL) -> migrate
// -> HTTP. start() is used by the CLI and, with port 0, by the tests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { Config } from './config.js';
import { createBus } from './bus/index.js';
import { ModelCache } from './model/cache.js';
import type { AppContext } from './context.js';
import { startEmbedded, type EmbeddedServer } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { describeUrl, type Logger } from './log.js';
import { createApp } from './web/app.js';
import { installDdlTrigger } from './introspect/ddl_trigger.js';
import { createDriftMonitor } from './introspect/monitor.js';
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
  try {
    return await migrate(client, { dataSchema: config.dataSchema, trashSchema: config.trashSchema, log });
  } finally {
    client.release();
  }
}

export async function start(config: Config, log: Logger): Promise<Instance> {
  const db = await openDatabase(config, log);
  const effective: Config = { ...config, databaseUrl: db.url, listenDatabaseUrl: config.listenDatabaseUrl ?? db.url };
  const pool = createPool({ connectionString: db.url, max: config.poolMax, connectTimeoutMs: config.connectTimeoutMs }, log);
  const closers: Array<() => Promise<void>> = [];
  closers.push(() => pool.end());
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
    const ctx: AppContext = { config: effective, log, pool, bus, listener: bus, instanceId: bus.instanceId, models };
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
    if (config.cleanupIntervalMs !== null) {
      const cleanup = startCleanupScheduler({ pool, log, config: effective, instanceId: bus.instanceId }, log, config.cleanupIntervalMs);
      ctx.cleanup = cleanup;
      closers.push(() => cleanup.stop());
    }
    const app = createApp(ctx);
    const server = http.createServer(app);
    server.requestTimeout = 60_000;
    server.headersTimeout = 20_000;
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
