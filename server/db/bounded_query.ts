// One round trip for a statement that must run under the pool's statement_timeout, also
// behind a transaction-pooling PgBouncer: the statement is sent with the extended protocol
// after `SET LOCAL statement_timeout = N`, both before one Sync. Everything before a Sync
// is one implicit transaction (the backend commits at the Sync, or rolls back on error),
// so the setting holds for the statement and ends with it: it never follows the server
// connection to another client, and PgBouncer holds that connection only until the Sync.
// The backend starts a fresh timeout for each Execute, so the statement is bounded.
import pg from 'pg';

type Connection = {
  parse(q: { text: string; name?: string; types?: unknown[] }): void;
  bind(c: Record<string, unknown>): void;
  execute(c: { portal?: string; rows?: number }): void;
  on(event: 'parseComplete', listener: () => void): void;
  removeListener(event: 'parseComplete', listener: () => void): void;
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
};

/** The prepared name of a preamble statement (a few texts in all: remembered, not rebuilt per query). */
const preambleNames = new Map<string, string>();
function preambleName(text: string): string {
  let name = preambleNames.get(text);
  if (name === undefined) {
    name = `tw_pre_${text.replace(/\W+/g, '_').slice(-40)}`;
    if (preambleNames.size < 100) preambleNames.set(text, name);
  }
  return name;
}

const PgQuery = (pg as unknown as { Query: new (...args: any[]) => any }).Query;

export class BoundedQuery extends PgQuery {
  /** command completions of the preamble still to come (they are not the statement's) */
  private preambleLeft: number;

  constructor(
    private readonly preamble: readonly string[],
    config: unknown,
    values: unknown,
    callback: (err: Error | null, result: pg.QueryResult) => void,
  ) {
    super(config, values, callback);
    this.preambleLeft = preamble.length;
  }

  // Always the extended protocol: a simple query with parameters inlined is not an option.
  requiresPreparation(): boolean {
    return true;
  }

  /** Parses sent for this query: preamble names (in order), then whether the statement's own went too. */
  private parsesSent: string[] = [];
  private ownParseSent = false;
  private parsesDone = 0;
  private readonly countParse = () => void (this.parsesDone += 1);
  private watched: Connection | undefined;

  prepare(connection: Connection): void {
    // pg marks a named statement parsed on the FIRST ParseComplete of its query, which here
    // is the preamble's: if the statement's own Parse then fails (a statement timeout while
    // its parse waits for a table lock), pg would believe it prepared and every later use
    // on this connection would fail with "prepared statement ... does not exist". So the
    // ParseCompletes are counted, and settle() corrects pg's belief on an error.
    this.watched = connection;
    connection.on('parseComplete', this.countParse);
    for (const text of this.preamble) {
      // With a named statement (a pool that prepares: db/pool.ts) the preamble is prepared
      // too, once per connection, under a name its text decides.
      const name = (this as { name?: string }).name ? preambleName(text) : '';
      const parsed = connection.parsedStatements;
      if (!name || parsed[name] !== text) {
        connection.parse({ text, name, types: [] });
        this.parsesSent.push(name);
        if (name) parsed[name] = text;
      }
      connection.bind({ statement: name });
      connection.execute({});
    }
    this.ownParseSent = !(this as unknown as { hasBeenParsed(c: Connection): boolean }).hasBeenParsed(connection);
    super.prepare(connection);
  }

  /** After the query: what pg believes parsed on this connection is what the server parsed. */
  private settle(failed: boolean): void {
    const connection = this.watched;
    if (!connection) return;
    this.watched = undefined;
    connection.removeListener('parseComplete', this.countParse);
    if (!failed) return;
    // ParseCompletes come in the order the Parses were sent; after an error, none.
    this.parsesSent.forEach((name, i) => {
      if (name && i >= this.parsesDone) delete connection.parsedStatements[name];
    });
    const own = (this as { name?: string }).name;
    if (own && this.ownParseSent && this.parsesDone <= this.parsesSent.length) {
      delete connection.parsedStatements[own];
      delete connection.submittedNamedStatements[own];
    }
  }

  handleError(err: unknown, connection: unknown): void {
    this.settle(true);
    super.handleError(err, connection);
  }

  handleReadyForQuery(connection: unknown): void {
    this.settle(false);
    super.handleReadyForQuery(connection);
  }

  // set_config() answers a row; without a Describe the preamble sends no row description.
  handleDataRow(msg: unknown): void {
    if (this.preambleLeft > 0) return;
    super.handleDataRow(msg);
  }

  handleCommandComplete(msg: unknown, connection: unknown): void {
    if (this.preambleLeft > 0) {
      this.preambleLeft -= 1;
      return;
    }
    super.handleCommandComplete(msg, connection);
  }
}

/**
 * The preamble that bounds what follows it in the same implicit transaction. set_config(
 * ..., true) rather than SET LOCAL, which PostgreSQL answers with a WARNING in its log
 * outside an explicit transaction block (the setting is transaction-local either way).
 */
export function timeoutPreamble(timeoutMs: number): string[] {
  return [`SELECT set_config('statement_timeout', '${Math.floor(timeoutMs)}', true)`];
}

/**
 * Runs one statement (pool.query's arguments: text or config, values) on `client` after
 * the preamble, in one round trip; a promise of the statement's own result.
 */
export function queryAfter(client: pg.ClientBase, preamble: readonly string[], config: unknown, values?: unknown): Promise<pg.QueryResult> {
  return new Promise((resolve, reject) => {
    const q = new BoundedQuery(preamble, config, values, (err, result) => (err ? reject(err) : resolve(result)));
    // client.query(submittable) answers the submittable; its callback gets the outcome.
    (client.query as (q: unknown) => unknown)(q);
  });
}
