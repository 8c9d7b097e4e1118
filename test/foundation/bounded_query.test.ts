// A lone pool.query() under STATEMENT_TIMEOUT_MS is one round trip (one Sync, one
// ReadyForQuery), yet still runs in a transaction of its own with the timeout set locally:
// bounded, rolled back on error, and nothing left on the connection for the next client
// (what a transaction-pooling PgBouncer needs; test/pgbouncer checks it through one).
import { expect } from 'chai';
import type pg from 'pg';
import { createPool } from '../../server/db/pool.js';
import { freshDatabase, testLog, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('pool.query under a statement timeout: one round trip', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let pool: pg.Pool;
  let sql: Sql;
  let readies = 0;

  before(async () => {
    db = await freshDatabase({ empty: true });
    sql = await Sql.connect(db.url);
    // One connection, so that every query below shares it (and whatever it might leave).
    pool = createPool({ connectionString: db.url, max: 1, connectTimeoutMs: 5000, statementTimeoutMs: 300 }, testLog);
    pool.on('connect', (client) => {
      (client as unknown as { connection: { on(e: string, f: () => void): void } }).connection.on('readyForQuery', () => (readies += 1));
    });
    await pool.query('SELECT 1');
    await sql.exec('CREATE TABLE bq (n int CHECK (n < 100))');
  });
  after(async () => {
    await pool?.end();
    await sql?.end();
    await db?.drop();
  });

  const roundTrips = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const before = readies;
    const out = await fn();
    return [out, readies - before];
  };

  it('a parameterized statement and a plain one each take one round trip, and see the timeout', async () => {
    const [r1, n1] = await roundTrips(() => pool.query<{ t: string; n: number }>('SELECT current_setting($1) AS t, $2::int + 1 AS n', ['statement_timeout', 41]));
    expect(r1.rows).to.deep.equal([{ t: '300ms', n: 42 }]);
    expect(n1).to.equal(1);
    const [r2, n2] = await roundTrips(() => pool.query<{ t: string }>(`SELECT current_setting('statement_timeout') AS t`));
    expect(r2.rows).to.deep.equal([{ t: '300ms' }]);
    expect(n2).to.equal(1);
  });

  it('the timeout ends with the statement: the connection keeps its own setting', async () => {
    await pool.query('SELECT $1::int', [1]);
    const client = await pool.connect();
    try {
      expect((await client.query('SHOW statement_timeout')).rows[0].statement_timeout).to.equal('0');
    } finally {
      client.release();
    }
  });

  it('a statement past the timeout is cancelled (57014), and the connection serves the next one', async () => {
    let code: string | undefined;
    await pool.query('SELECT pg_sleep($1)', [2]).catch((e: { code?: string }) => (code = e.code));
    expect(code).to.equal('57014');
    await pool.query('SELECT pg_sleep(2)').catch((e: { code?: string }) => (code = `${code}/${e.code}`));
    expect(code).to.equal('57014/57014');
    expect((await pool.query('SELECT $1::int AS n', [7])).rows).to.deep.equal([{ n: 7 }]);
  });

  it('a write commits at once; a failing one leaves nothing (its own transaction rolls back)', async () => {
    const [ins, n] = await roundTrips(() => pool.query('INSERT INTO bq SELECT generate_series(1, $1::int)', [5]));
    expect(ins.rowCount).to.equal(5);
    expect(n).to.equal(1);
    expect((await sql.one('SELECT count(*)::int AS c FROM bq')).c, 'visible to another session').to.equal(5);
    let code: string | undefined;
    await pool.query('INSERT INTO bq SELECT g FROM generate_series(90, $1::int) g', [110]).catch((e: { code?: string }) => (code = e.code));
    expect(code).to.equal('23514');
    expect((await sql.one('SELECT count(*)::int AS c FROM bq')).c).to.equal(5);
  });

  it('a text of several statements still runs, as one transaction, answering their results', async () => {
    const res = (await pool.query(`SELECT 1 AS a; SELECT 2 AS b`)) as unknown as pg.QueryResult[];
    expect(res.map((r) => r.rows[0])).to.deep.equal([{ a: 1 }, { b: 2 }]);
    let code: string | undefined;
    await pool.query(`INSERT INTO bq VALUES (50); INSERT INTO bq VALUES (500)`).catch((e: { code?: string }) => (code = e.code));
    expect(code).to.equal('23514');
    expect((await sql.one('SELECT count(*)::int AS c FROM bq WHERE n = 50')).c, 'the first insert rolled back with the second').to.equal(0);
  });

  it('row mode and named config objects keep working', async () => {
    expect((await pool.query({ text: 'SELECT $1::int AS n, 2 AS m', values: [1], rowMode: 'array' })).rows).to.deep.equal([[1, 2]]);
    expect((await pool.query({ text: 'SELECT 3 AS n', rowMode: 'array' })).rows).to.deep.equal([[3]]);
  });

  it('a named statement whose parse is cancelled (waiting for a table lock past the timeout) is parsed again next time, not "does not exist"', async () => {
    // pg marks a named statement parsed at the first ParseComplete of its query, which is
    // the preamble's: without the correction the second run below failed with 26000.
    const named = createPool({ connectionString: db.url, max: 1, connectTimeoutMs: 5000, statementTimeoutMs: 300, prepareStatements: true }, testLog);
    const locker = await Sql.connect(db.url);
    try {
      await named.query('SELECT 1'); // the connection exists before the lock
      await locker.exec('BEGIN');
      await locker.exec('LOCK TABLE bq IN ACCESS EXCLUSIVE MODE');
      const q = { name: 'tw_test_locked_parse', text: 'SELECT count(*)::int AS n FROM bq' };
      const err = await named.query(q).then(() => undefined, (e: { code?: string }) => e);
      expect(err?.code, 'the parse waited for the lock and was cancelled').to.equal('57014');
      await locker.exec('ROLLBACK');
      expect((await named.query(q)).rows[0].n, 'the same named statement works once the lock is gone').to.be.a('number');
      expect((await named.query(q)).rows[0].n, 'and again (now prepared)').to.be.a('number');
    } finally {
      await locker.exec('ROLLBACK').catch(() => undefined);
      await locker.end();
      await named.end();
    }
  });
});
