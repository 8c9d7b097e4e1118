// Every setting, read from the environment in one place and validated at start.
// README.md lists each one with its default; keep the two in step.
import path from 'node:path';
import { z } from 'zod';
import { projectRoot } from './paths.js';
import { parseDuration } from './trash/duration.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(['0', '1', 'true', 'false', 'yes', 'no']).transform((v) => ['1', 'true', 'yes'].includes(v));
const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lowercase SQL identifier ([a-z_][a-z0-9_]*, at most 63 bytes)');
/** '7d', '12h', '90m', '30s', '500ms' (or 'never'/'off' where `allowOff`): milliseconds or null. */
const duration = (allowOff: boolean) =>
  z.string().transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined || (ms === null && !allowOff)) {
      ctx.addIssue({ code: 'custom', message: `must be a duration such as 7d, 12h, 30m or 45s${allowOff ? ", or 'never'" : ''}` });
      return z.NEVER;
    }
    return ms;
  });
const postgresUrl = z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL');

const schema = z.object({
  DATABASE_URL: postgresUrl.optional(),
  LISTEN_DATABASE_URL: postgresUrl.optional(),
  BUS_PING_INTERVAL_MS: int(10, 3_600_000).default(5000),
  BUS_PING_TIMEOUT_MS: int(10, 600_000).default(3000),
  SCHEMA_POLL_INTERVAL_MS: int(10, 3_600_000).default(5000),
  MODEL_CACHE_MAX: int(1, 10_000_000).default(10_000),
  MODEL_CACHE_TTL_S: int(1, 86_400 * 7).default(600),
  TOKEN_CACHE_TTL_S: int(0, 86_400).default(30),
  LIVE_MAX_CLIENTS: int(0, 1_000_000).default(1000),
  JOB_THRESHOLD_ROWS: int(0, 1_000_000_000).default(100_000),
  ONLINE_BACKFILL_WORKERS: int(1, 8).default(2),
  JOB_POLL_MS: int(10, 600_000).default(1000),
  JOB_STALE_MS: int(100, 3_600_000).default(15_000),
  LIVE_HEARTBEAT_MS: int(100, 600_000).default(20_000),
  DATA_DIR: z.string().min(1).default('.data'),
  EMBEDDED_PG_PORT: int(1, 65535).default(54329),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  PG_POOL_MAX: int(1, 1000).default(10),
  PG_CONNECT_TIMEOUT_MS: int(100, 120_000).default(5000),
  DATA_SCHEMA: identifier.default('data'),
  TRASH_SCHEMA: identifier.default('data_trash'),
  LOCK_TIMEOUT_MS: int(1, 600_000).default(3000),
  LOCK_ATTEMPT_MS: int(1, 600_000).default(200),
  STATEMENT_TIMEOUT_MS: int(0, 86_400_000).default(30_000),
  PG_PREPARE: z.enum(['auto', '0', '1', 'true', 'false', 'yes', 'no']).default('auto'),
  MAX_FIELDS: int(1, 1500).default(500),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: int(1000, 3_600_000).default(60_000),
  HTTP_HEADERS_TIMEOUT_MS: int(1000, 600_000).default(20_000),
  TRUST_PROXY: bool.default(false),
  SESSION_TTL_HOURS: int(1, 24 * 365).default(12),
  COOKIE_SECURE: z.enum(['auto', '0', '1', 'true', 'false', 'yes', 'no']).default('auto'),
  LOGIN_RATE_LIMIT: int(1, 1_000_000).default(5),
  LOGIN_RATE_LIMIT_ADDRESS: int(1, 1_000_000).default(20),
  LOGIN_RATE_WINDOW_S: int(1, 86_400).default(900),
  TRASH_RETENTION: duration(true).prefault('7d'),
  ROW_HISTORY_RETENTION: duration(true).prefault('30d'),
  CLEANUP_INTERVAL: duration(true).prefault('1h'),
  DRIFT_CHECK_INTERVAL: duration(true).prefault('5m'),
  DDL_EVENT_TRIGGER: bool.default(false),
  DDL_DEBOUNCE_MS: int(0, 60_000).default(250),
  COLUMN_SLOT_WARNING: int(1, 1600).default(1400),
  IMPORT_MAX_BYTES: int(1, Number.MAX_SAFE_INTEGER).default(100 * 1024 * 1024),
  IMPORT_JOB_BYTES: int(0, Number.MAX_SAFE_INTEGER).default(5 * 1024 * 1024),
  IMPORT_XLSX_MAX_UNZIPPED_BYTES: int(1, Number.MAX_SAFE_INTEGER).default(2 * 1024 * 1024 * 1024),
  PG_BIN_DIR: z.string().min(1).optional(),
});

export type Config = {
  databaseUrl: string | undefined;
  listenDatabaseUrl: string | undefined;
  /** the listener pings itself through NOTIFY this often (server/bus) */
  busPingIntervalMs: number;
  /** a ping not back within this long means the LISTEN connection is dead */
  busPingTimeoutMs: number;
  /** tablewright.schema_state.version is read this often; bounds staleness without LISTEN */
  schemaPollIntervalMs: number;
  /** compiled models kept per instance; a full cache compiles per request, never errs */
  modelCacheMax: number;
  /** seconds a cached model lives without an eviction */
  modelCacheTtlS: number;
  /** seconds a resolved API token is trusted without a query (revocations clear it at once); 0: no cache */
  tokenCacheTtlS: number;
  /** a statement of a request runs at most this long (503 query_timeout); 0: no limit. Schema changes and jobs are exempt */
  statementTimeoutMs: number;
  /**
   * the row API's statements are named prepared statements (parsed and planned once per
   * connection); off behind a transaction-pooling PgBouncer, where a connection's
   * statements do not follow the client. auto: on unless LISTEN_DATABASE_URL differs from
   * DATABASE_URL (the PgBouncer setup)
   */
  prepareStatements: boolean;
  /** a type change on a table with more (estimated) rows runs as a job */
  jobThresholdRows: number;
  /** sessions an online type change copies rows with at once (each a range of pages of its own) */
  onlineBackfillWorkers: number;
  /** a CSV import of a larger upload (bytes) runs as a job, the upload kept in PostgreSQL */
  importJobBytes: number;
  /** how often each instance looks for queued jobs */
  jobPollMs: number;
  /** a running job without a heartbeat for this long is taken as lost */
  jobStaleMs: number;
  /** most server-sent-event streams per instance */
  liveMaxClients: number;
  /** a keep-alive comment on every stream this often */
  liveHeartbeatMs: number;
  dataDir: string;
  embeddedPgPort: number;
  port: number;
  host: string;
  production: boolean;
  logLevel: string;
  logFormat: 'json' | 'pretty';
  poolMax: number;
  connectTimeoutMs: number;
  dataSchema: string;
  trashSchema: string;
  lockTimeoutMs: number;
  /** one lock attempt of a schema change waits at most this long (then backs off and retries, up to lockTimeoutMs) */
  lockAttemptMs: number;
  maxFields: number;
  shutdownTimeoutMs: number;
  /** a request (headers and body) not received within this long answers 408 and is closed */
  httpRequestTimeoutMs: number;
  /** request headers not received within this long: 408, closed (slow or abandoned clients) */
  httpHeadersTimeoutMs: number;
  trustProxy: boolean;
  sessionTtlSeconds: number;
  /** 'auto': Secure when the request came over TLS (req.secure) */
  cookieSecure: 'auto' | boolean;
  loginLimits: { perAccount: number; perAddress: number; windowSeconds: number };
  /** trashed objects older than this are purged by the cleanup job; null: never */
  trashRetentionMs: number | null;
  /** row history entries older than this are pruned by the cleanup job; null: never */
  rowHistoryRetentionMs: number | null;
  /** how often the cleanup job runs (on one instance at a time); null: only on demand */
  cleanupIntervalMs: number | null;
  /** how often the cached drift summary is refreshed besides schema notifications; null: never */
  driftCheckIntervalMs: number | null;
  /** install the event trigger that NOTIFYs on DDL in the managed schemas (needs superuser) */
  ddlEventTrigger: boolean;
  /** a burst of DDL notifications refreshes the drift summary at most once per this long */
  ddlDebounceMs: number;
  /** a managed table using this many column slots (dropped ones included) is drift */
  columnSlotWarning: number;
  /** the largest CSV file an import reads (bytes); more answers 413 and nothing is written */
  importMaxBytes: number;
  /** what an .xlsx file may unzip to in all (bytes); more answers 413 (a zip bomb) */
  importXlsxMaxUnzipped: number;
  /** where `tablewright backup`/`restore` look first for pg_dump and pg_restore */
  pgBinDir: string | undefined;
};

export class ConfigError extends Error {}

/** Reads and validates settings; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as in most twelve-factor tools.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid settings:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  if (e.DATA_SCHEMA === e.TRASH_SCHEMA) throw new ConfigError('invalid settings:\n  TRASH_SCHEMA: must differ from DATA_SCHEMA');
  if (e.DATA_SCHEMA === 'tablewright' || e.TRASH_SCHEMA === 'tablewright') {
    throw new ConfigError('invalid settings:\n  DATA_SCHEMA/TRASH_SCHEMA: "tablewright" is the metadata schema');
  }
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('invalid settings:\n  HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS');
  }
  const production = e.NODE_ENV === 'production';
  return {
    databaseUrl: e.DATABASE_URL,
    listenDatabaseUrl: e.LISTEN_DATABASE_URL ?? e.DATABASE_URL,
    busPingIntervalMs: e.BUS_PING_INTERVAL_MS,
    busPingTimeoutMs: e.BUS_PING_TIMEOUT_MS,
    schemaPollIntervalMs: e.SCHEMA_POLL_INTERVAL_MS,
    modelCacheMax: e.MODEL_CACHE_MAX,
    modelCacheTtlS: e.MODEL_CACHE_TTL_S,
    tokenCacheTtlS: e.TOKEN_CACHE_TTL_S,
    liveMaxClients: e.LIVE_MAX_CLIENTS,
    jobThresholdRows: e.JOB_THRESHOLD_ROWS,
    onlineBackfillWorkers: e.ONLINE_BACKFILL_WORKERS,
    jobPollMs: e.JOB_POLL_MS,
    jobStaleMs: e.JOB_STALE_MS,
    liveHeartbeatMs: e.LIVE_HEARTBEAT_MS,
    dataDir: path.resolve(projectRoot, e.DATA_DIR),
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    port: e.PORT,
    host: e.HOST,
    production,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT ?? (production ? 'json' : 'pretty'),
    poolMax: e.PG_POOL_MAX,
    connectTimeoutMs: e.PG_CONNECT_TIMEOUT_MS,
    dataSchema: e.DATA_SCHEMA,
    trashSchema: e.TRASH_SCHEMA,
    lockTimeoutMs: e.LOCK_TIMEOUT_MS,
    lockAttemptMs: Math.min(e.LOCK_ATTEMPT_MS, e.LOCK_TIMEOUT_MS),
    maxFields: e.MAX_FIELDS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    httpRequestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
    httpHeadersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
    trustProxy: e.TRUST_PROXY,
    sessionTtlSeconds: e.SESSION_TTL_HOURS * 3600,
    cookieSecure: e.COOKIE_SECURE === 'auto' ? 'auto' : ['1', 'true', 'yes'].includes(e.COOKIE_SECURE),
    loginLimits: { perAccount: e.LOGIN_RATE_LIMIT, perAddress: e.LOGIN_RATE_LIMIT_ADDRESS, windowSeconds: e.LOGIN_RATE_WINDOW_S },
    trashRetentionMs: e.TRASH_RETENTION,
    rowHistoryRetentionMs: e.ROW_HISTORY_RETENTION,
    cleanupIntervalMs: e.CLEANUP_INTERVAL === 0 ? null : e.CLEANUP_INTERVAL,
    driftCheckIntervalMs: e.DRIFT_CHECK_INTERVAL === 0 ? null : e.DRIFT_CHECK_INTERVAL,
    ddlEventTrigger: e.DDL_EVENT_TRIGGER,
    ddlDebounceMs: e.DDL_DEBOUNCE_MS,
    columnSlotWarning: e.COLUMN_SLOT_WARNING,
    importMaxBytes: e.IMPORT_MAX_BYTES,
    importXlsxMaxUnzipped: e.IMPORT_XLSX_MAX_UNZIPPED_BYTES,
    importJobBytes: e.IMPORT_JOB_BYTES,
    statementTimeoutMs: e.STATEMENT_TIMEOUT_MS,
    prepareStatements: e.PG_PREPARE === 'auto' ? !e.LISTEN_DATABASE_URL || e.LISTEN_DATABASE_URL === e.DATABASE_URL : ['1', 'true', 'yes'].includes(e.PG_PREPARE),
    pgBinDir: e.PG_BIN_DIR,
  };
}
