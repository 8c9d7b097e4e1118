import pg from 'pg';
import { RawJson } from '../fields/exact_json.js';
import type { Logger } from '../log.js';
import { queryAfter, timeoutPreamble } from './bounded_query.js';

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
  /** PostgreSQL's statement_timeout for every statement (0 or unset: none) */
  statementTimeoutMs?: number;
  /** named prepared statements may be used (preparedName); never behind a transaction pooler */
  prepareStatements?: boolean;
}

/**
 * The statement timeout is set per transaction, never as a startup parameter: a
 * transaction-pooling PgBouncer refuses unknown startup parameters ("unsupported startup
 * parameter: statement_timeout"), and a session-level SET would follow the server
 * connection to other clients. So every BEGIN sent on a pooled client carries
 * `SET LOCAL statement_timeout` in the same round trip, and a statement sent through
 * pool.query() outside a transaction runs in an implicit transaction of its own after a
 * transaction-local set_config, also in one round trip (boundedStatement). Work that must not be cut off lifts it for its own transaction
 * (withoutStatementTimeout).
 */
class TimeoutPool extends pg.Pool {
  constructor(
    config: pg.PoolConfig,
    readonly statementTimeoutMs: number,
    readonly prepareStatements: boolean,
  ) {
    super(config);
  }

  // pg.Pool.query has callback and config-object overloads; ours are the promise ones.
  override query(...args: any[]): any {
    if (this.statementTimeoutMs <= 0 || typeof args[args.length - 1] === 'function') return (super.query as any)(...args);
    return this.boundedQuery(args);
  }

  private async boundedQuery(args: any[]): Promise<pg.QueryResult> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      return await boundedStatement(client, this.statementTimeoutMs, args[0], args[1]);
    } catch (err) {
      // A connection that broke mid-statement is not handed out again.
      if (!(err as { code?: unknown }).code) broken = err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  }
}

/**
 * One statement in a transaction of its own under the statement timeout, in one round
 * trip: with parameters, the extended protocol's implicit transaction after a
 * transaction-local set_config (bounded_query.ts); without, the same two statements as one
 * simple-protocol message (its statements are one implicit transaction too), which keeps
 * multi-statement texts working.
 */
async function boundedStatement(client: pg.PoolClient, timeoutMs: number, config: any, values: any): Promise<pg.QueryResult> {
  const [preamble] = timeoutPreamble(timeoutMs);
  const text = typeof config === 'string' ? config : config?.text;
  const simple = typeof text === 'string' && !(values?.length || config?.values?.length || config?.name || config?.queryMode || config?.rows);
  if (!simple) return queryAfter(client, [preamble!], config, values);
  const results = (await client.query(typeof config === 'string' ? `${preamble};\n${text}` : { ...config, text: `${preamble};\n${text}` })) as unknown as pg.QueryResult[];
  const own = results.slice(1);
  return (own.length === 1 ? own[0] : own) as pg.QueryResult;
}

const BEGIN_RE = /^\s*(BEGIN|START\s+TRANSACTION)\b[^;]*$/i;

export function createPool(opts: PoolOptions, log: Logger): pg.Pool {
  const timeout = Math.max(0, Math.floor(opts.statementTimeoutMs ?? 0));
  const pool = new TimeoutPool(
    {
      connectionString: opts.connectionString,
      max: opts.max,
      connectionTimeoutMillis: opts.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: opts.applicationName ?? 'tablewright',
      // What node-postgres and our readers assume, whatever a DBA set for the database or
      // role: ISO dates (node-postgres parses timestamptz as ISO text) and floats written
      // exactly. Before the connection is handed out.
      onConnect: async (client: pg.ClientBase) => {
        await client.query(SESSION_SETTINGS);
      },
    } as pg.PoolConfig,
    timeout,
    opts.prepareStatements ?? false,
  );
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
    if (timeout > 0) boundTransactions(client, timeout);
  });
  return pool;
}

/**
 * Every BEGIN on this client becomes `BEGIN ...; SET LOCAL statement_timeout = N`: one
 * simple-protocol message (no parameters), so no extra round trip. SET LOCAL takes no
 * snapshot, so SET TRANSACTION SNAPSHOT may still follow it.
 */
function boundTransactions(client: pg.PoolClient, timeoutMs: number): void {
  const original = client.query.bind(client) as (...args: any[]) => any;
  (client as { query: unknown }).query = (...args: any[]) => {
    if (args.length === 1 && typeof args[0] === 'string' && BEGIN_RE.test(args[0])) {
      return original(`${args[0]}; SET LOCAL statement_timeout = ${timeoutMs}`);
    }
    return original(...args);
  };
}

/**
 * The name to send a statement under on `db`: `name` when `db` is a pool that may keep
 * named prepared statements (PoolOptions.prepareStatements), else none (an unnamed
 * statement, parsed and planned each time). Never on a checked-out client: its
 * transaction may run behind a pooler, and statements inside transactions are rare.
 */
export function preparedName(db: unknown, name: string): string | undefined {
  return db instanceof TimeoutPool && db.prepareStatements ? name : undefined;
}

/** The statement timeout a pool sets in each transaction (0: none). */
export function statementTimeoutOf(pool: pg.Pool): number {
  return pool instanceof TimeoutPool ? pool.statementTimeoutMs : 0;
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
