// The backfill's own commits do not wait for a WAL flush (server/schema/online/backfill.ts:
// synchronous_commit off on its session, safe because the range's last id commits with the
// range's last wave), and the setting goes back before its client returns to the pool: no
// other work on that connection (a row write, a schema change) commits asynchronously.
import { expect } from 'chai';
import pg from 'pg';
import { backfill } from '../../server/schema/online/backfill.js';
import { beginOnlineChange, getOnlineChange } from '../../server/schema/online/state.js';
import type { OnlineRun } from '../../server/schema/online/steps.js';
import { freshDatabase, testLog, type TestDatabase } from '../helpers/db.js';

describe('online backfill: asynchronous commits on its own session only', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeEach(async () => {
    db = await freshDatabase();
    // one connection: the backfill's client is the one the next query gets
    pool = new pg.Pool({ connectionString: db.url, max: 1 });
  });
  afterEach(async () => {
    await pool.end();
    await db.drop();
  });

  it("every statement of the copy runs with synchronous_commit off; the range's last id is recorded; the connection is back to on afterwards", async () => {
    await pool.query(`CREATE TABLE data.bf (id bigint PRIMARY KEY, a bigint, s text)`);
    await pool.query(`INSERT INTO data.bf (id, a) SELECT g, g * 3 FROM generate_series(1, 5000) g`);
    // what each UPDATE statement of the copy ran with
    await pool.query(`CREATE TABLE data.bf_seen (setting text)`);
    await pool.query(`CREATE FUNCTION data.bf_seen() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO data.bf_seen VALUES (current_setting('synchronous_commit')); RETURN NULL; END $$`);
    await pool.query(`CREATE TRIGGER bf_seen AFTER UPDATE ON data.bf FOR EACH STATEMENT EXECUTE FUNCTION data.bf_seen()`);
    const change = await beginOnlineChange(pool, { tableId: 1, fieldId: 1, kind: 'change_type', payload: { batch_rows: 1000 }, objects: {}, actor: 'test' });
    const run = {
      deps: { pool, config: { lockTimeoutMs: 5000 }, log: testLog },
      change,
      relation: 'data.bf',
      progress: async () => undefined,
    } as unknown as OnlineRun;
    expect((await pool.query(`SHOW synchronous_commit`)).rows[0].synchronous_commit, 'the server default').to.equal('on');

    await backfill(run, 's', '(t.a)::text', 5000);

    const seen = (await pool.query<{ setting: string; n: number }>(`SELECT setting, count(*)::int AS n FROM data.bf_seen GROUP BY 1`)).rows;
    // 5 ranges of 1,000 ids, 15 waves each
    expect(seen).to.deep.equal([{ setting: 'off', n: 75 }]);
    expect((await pool.query(`SELECT count(*)::int AS n FROM data.bf WHERE s IS DISTINCT FROM a::text`)).rows[0].n, 'every row copied').to.equal(0);
    const after = await getOnlineChange(pool, change.id);
    expect([Number(after.last_id), Number(after.done)]).to.deep.equal([5000, 5000]);
    expect((await pool.query(`SHOW synchronous_commit`)).rows[0].synchronous_commit, 'reset before the client went back').to.equal('on');
  });

  it('a range where a value would be lost (no confirm_loss) stops the copy and is not recorded: a resumed copy finds it again', async () => {
    await pool.query(`CREATE TABLE data.bf (id bigint PRIMARY KEY, a text, s numeric)`);
    await pool.query(`INSERT INTO data.bf (id, a) SELECT g, CASE WHEN g = 3000 THEN 'n/a' ELSE g::text END FROM generate_series(1, 9000) g`);
    const change = await beginOnlineChange(pool, { tableId: 1, fieldId: 1, kind: 'change_type', payload: { batch_rows: 1000 }, objects: {}, actor: 'test' });
    const run = { deps: { pool, config: { lockTimeoutMs: 5000 }, log: testLog }, change, relation: 'data.bf', progress: async () => undefined } as unknown as OnlineRun;
    const lost = `(t.a IS NOT NULL AND tablewright.try_numeric(t.a) IS NULL)`;
    expect(await backfill(run, 's', 'tablewright.try_numeric(a)', 9000, lost)).to.deep.equal(['3000']);
    const after = await getOnlineChange(pool, change.id);
    expect(Number(after.last_id), 'the range holding id 3000 is not recorded').to.equal(2000);
    // the instance died before rolling back: the next one resumes the copy, and stops again
    expect(await backfill(run, 's', 'tablewright.try_numeric(a)', 9000, lost)).to.deep.equal(['3000']);
  });
});
