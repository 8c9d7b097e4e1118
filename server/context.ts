import type pg from 'pg';
import type { TokenCache } from './auth/token_cache.js';
import type { Bus } from './bus/index.js';
import type { Config } from './config.js';
import type { ModelCache } from './model/cache.js';
import type { DriftMonitor } from './introspect/monitor.js';
import type { Logger } from './log.js';
import type { CleanupScheduler } from './trash/cleanup.js';

/** What every request handler and background task may reach: one per running instance. */
export interface AppContext {
  config: Config;
  log: Logger;
  pool: pg.Pool;
  /** Prometheus metrics of this instance (server/web/metrics.ts), served at /metrics */
  metrics?: import('./web/metrics.js').Metrics;
  /** runs queued jobs on this instance (server/jobs); wake() after an enqueue */
  jobs?: import('./jobs/runner.js').JobRunner;
  /** server-sent events to consoles (server/live/hub.ts) */
  live?: import('./live/hub.js').LiveHub;
  /** compiled models of user tables, kept fresh by the bus */
  models?: ModelCache;
  /** resolved API tokens, cleared by the bus on every revocation (server/auth/token_cache.ts); without it every request queries */
  tokens?: TokenCache;
  /** a random id for this running instance (logs, notifications it sent itself) */
  instanceId?: string;
  /** Set once the instance listens for schema notifications; /readyz reports it. */
  listener?: { isConnected(): boolean };
  /** Schema-change notifications and flushes (server/bus); the model cache subscribes here. */
  bus?: Bus;
  /** The cached drift summary (server/introspect/monitor.ts): the console's banner reads it. */
  drift?: DriftMonitor;
  /** The trash cleanup job's schedule, when CLEANUP_INTERVAL is set (server/trash/cleanup.ts). */
  cleanup?: CleanupScheduler;
}
