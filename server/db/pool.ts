import pg from 'pg';
import { RawJson } from '../fields/exact_json.js';
import type { Logger } from '../log.js';

export type Pool = pg.Pool;
export type Client = pg.PoolClient | pg.Client;
/** Anything that runs a query: the pool itself or a checked-out client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

// bigint (int8) and numeric come back as strings by default. int8 reads as a JS number
// (ids, counts) while it is one exactly, below 2^53; past that (an adopted table's ids,
// a link to one) as its exact digits, a RawJson that responses write as a number. numeric
// stays a string so that decimals are never rounded through a float.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : new RawJson(v);
});
// A date has no time zone: keep '2024-03-01' as text rather than a JS Date at local midnight.
pg.types.setTypeParser(pg.types.builtins.DATE, (v: string) => v);

const SESSION_SETTINGS = /* sql */ `SELECT set_config('datestyle', 'ISO, MDY', false), set_config('extra_float_digits', '1', false)`;

export interface PoolOptions {
  connectionString: string;
  max: number;
  connectTimeoutMs: number;
  applicationName?: string;
  /** PostgreSQL's statement_timeout for every connection (0 or unset: none) */
  statementTimeoutMs?: number;
}

export function createPool(opts: PoolOptions, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max,
    connectionTimeoutMillis: opts.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: opts.applicationName ?? 'tablewright',
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
    // What node-postgres and our readers assume, whatever a DBA set for the database or
    // role: ISO dates (node-postgres parses timestamptz as ISO text) and floats written
    // exactly. Before the connection is handed out.
    onConnect: async (client: pg.ClientBase) => {
      await client.query(SESSION_SETTINGS);
    },
  });
  // An idle client that loses its connection (server restart, pg_terminate_backend)
  // emits 'error' on the pool; without a listener that would crash the process.
  // (Only message and code: pg-pool hangs the whole client on err.client.)
  pool.on('error', (err) => log.warn({ err: briefError(err) }, 'idle database connection lost'));
  // A client checked out of the pool (a transaction, a cursor) emits 'error' on itself when
  // its connection ends, and pg-pool listens only while the client is idle: unheard, that
  // emit is an uncaught exception that ends the process (found by test/faults/restart).
  // The query in progress fails with the same error, and its request answers 503.
  pool.on('connect', (client) => {
    client.on('error', (err) => log.debug({ err: briefError(err) }, 'database connection lost while in use'));
  });
  return pool;
}

/**
 * Lifts the pool's statement_timeout for the rest of this transaction: for the schema
 * editor, migrations and jobs, whose waits are bounded by lock_timeout instead and whose
 * work must not be cut off at an arbitrary point (it would roll back, but for nothing).
 */
export async function withoutStatementTimeout(tx: Pick<pg.PoolClient, 'query'>): Promise<void> {
  await tx.query(`SELECT set_config('statement_timeout', '0', true)`);
}

function briefError(err: Error & { code?: string }): { message: string; code?: string } {
  return { message: err.message, ...(err.code ? { code: err.code } : {}) };
}
