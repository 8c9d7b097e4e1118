import type pg from 'pg';
import type { Bus } from './bus/index.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';

/** What every request handler and background task may reach: one per running instance. */
export interface AppContext {
  config: Config;
  log: Logger;
  pool: pg.Pool;
  /** a random id for this running instance (logs, notifications it sent itself) */
  instanceId?: string;
  /** Set once the instance listens for schema notifications; /readyz reports it. */
  listener?: { isConnected(): boolean };
  /** Schema-change notifications and flushes (server/bus); the model cache subscribes here. */
  bus?: Bus;
}
