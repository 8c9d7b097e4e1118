import type pg from 'pg';

/**
 * Runs fn inside BEGIN/COMMIT on one pooled client; ROLLBACK on any throw.
 * A client whose connection broke mid-transaction is destroyed, not returned to the pool.
 * `unbounded`: the pool's statement_timeout is lifted from the BEGIN on (in its round trip),
 * for work bounded by lock_timeout instead (the schema editor): its first statement, which
 * waits for the table's schema lock, would otherwise run under the pool's timeout.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<T>, opts: { unbounded?: boolean } = {}): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(opts.unbounded ? 'BEGIN; SET LOCAL statement_timeout = 0' : 'BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      broken = rollbackErr as Error;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}
