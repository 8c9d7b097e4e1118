import type pg from 'pg';
import type { Config } from './config.js';
import type { Logger } from './log.js';

/** What every request handler and background task may reach: one per running instance. */
export interface AppContext {
  config: Config;
  log: Logger;
  pool: pg.Pool;
  /** Set once the instance listens for schema notifications; /readyz reports it. */
  listener?: { isConnected(): boolean };
}
