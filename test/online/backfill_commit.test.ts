// The backfill's own commits do not wait for a WAL flush (server/schema/online/backfill.ts:
// synchronous_commit off on its session, safe because the range's last id commits with the
// range's last wave), and the setting goes back before its client returns to the pool: no
// other work on that connection (a row write, a schema change) commits asynchronously.
// The copy goes by ranges of pages: a range with a lost value is not recorded, and a table
// rewritten during the copy (its rows at other pages) is gone through again; a cancel one
// session sees ends the copy cancelled, whatever the other session was waiting for.
import { expect } from 'chai';
import pg from 'pg';
import { backfill, BACKFILL_PARTS, BACKFILL_WAVES } from '../../server/schema/online/backfill.js';
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

  it("every statement of the copy runs with synchronous_commit off; the range's end is recorded; the connection is back to on afterwards", async () => {
    await pool.query(`CREATE TABLE data.bf (id bigint PRIMARY KEY, a bigint, s text)`);
    await pool.query(`INSERT INTO data.bf (id, a) SELECT g, g * 3 FROM generate_series(1, 5000) g`);
    // what each UPDATE statement of the copy ran with
    await pool.query(`CREATE TABLE data.bf_seen (setting text)`);
    await pool.query(`CREATE FUNCTION data.bf_seen() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO data.bf_seen VALUES (current_setting('synchronous_commit')); RETURN NULL; END $$`);
    await pool.query(`CREATE TRIGGER bf_seen AFTER UPDATE ON data.bf FOR EACH STATEMENT EXECUTE FUNCTION data.bf_seen()`);
    const change = await beginOnlineChange(pool, { tableId: 1, fieldId: 1, kind: 'change_type', payload: { batch_pages: 8 }, objects: {}, actor: 'test' });
    const run = {
      deps: { pool, config: { lockTimeoutMs: 5000 }, log: testLog },
      change,
      relation: 'data.bf',
      progress: async () => undefined,
    } as unknown as OnlineRun;
    const pages = (await pool.query(`SELECT (pg_relation_size('data.bf') / 8192)::int AS n`)).rows[0].n;
    expect(pages, 'several ranges of 8 pages').to.be.above(16);
    expect((await pool.query(`SHOW synchronous_commit`)).rows[0].synchronous_commit, 'the server default').to.equal('on');

    await backfill(run, 's', '(t.a)::text', 5000);

    const seen = (await pool.query<{ setting: string; n: number }>(`SELECT setting, count(*)::int AS n FROM data.bf_seen GROUP BY 1`)).rows;
    // ranges of 8 pages, BACKFILL_WAVES.length waves each over each of its parts (a last range of fewer pages than parts: one a page)
    const ranges = Array.from({ length: Math.ceil(pages / 8) }, (_, i) => Math.min(8, pages - 8 * i));
    expect(seen).to.deep.equal([{ setting: 'off', n: ranges.reduce((a, r) => a + BACKFILL_WAVES.length * Math.min(r, BACKFILL_PARTS), 0) }]);
    expect((await pool.query(`SELECT count(*)::int AS n FROM data.bf WHERE s IS DISTINCT FROM a::text`)).rows[0].n, 'every row copied').to.equal(0);
    const after = await getOnlineChange(pool, change.id);
    expect([Number(after.backfill_page), Number(after.done)]).to.deep.equal([pages, 5000]);
    expect((await pool.query(`SHOW synchronous_commit`)).rows[0].synchronous_commit, 'reset before the client went back').to.equal('on');
  });

  it('a range where a value would be lost (no confirm_loss) stops the copy and is not recorded: a resumed copy finds it again', async () => {
    await pool.query(`CREATE TABLE data.bf (id bigint PRIMARY KEY, a text, s numeric)`);
    await pool.query(`INSERT INTO data.bf (id, a) SELECT g, CASE WHEN g = 3000 THEN 'n/a' ELSE g::text END FROM generate_series(1, 9000) g`);
    const change = await beginOnlineChange(pool, { tableId: 1, fieldId: 1, kind: 'change_type', payload: { batch_pages: 4 }, objects: {}, actor: 'test' });
    const run = { deps: { pool, config: { lockTimeoutMs: 5000 }, log: testLog }, change, relation: 'data.bf', progress: async () => undefined } as unknown as OnlineRun;
    const lost = `(t.a IS NOT NULL AND tablewright.try_numeric(t.a) IS NULL)`;
    // the page of id 3000, and the first page of its range of 4
    const page = Number((await pool.query(`SELECT (ctid::text::point)[0] AS p FROM data.bf WHERE id = 3000`)).rows[0].p);
    expect(page, 'not in the first range').to.be.at.least(4);
    expect(await backfill(run, 's', 'tablewright.try_numeric(a)', 9000, lost)).to.deep.equal(['3000']);
    const after = await getOnlineChange(pool, change.id);
    expect(Number(after.backfill_page), 'the range holding id 3000 is not recorded').to.equal(page - (page % 4));
    // the instance died before rolling back: the next one resumes the copy, and stops again
    expect(await backfill(run, 's', 'tablewright.try_numeric(a)', 9000, lost)).to.deep.equal(['3000']);
  });

  for (const rewrite of ['CLUSTER data.bf USING bf_desc', 'VACUUM FULL data.bf']) {
    it(`a table rewritten during the copy (${rewrite.split(' ')[0]}: its rows at other pages) is gone through again: every row copied`, async () => {
      await pool.query(`CREATE TABLE data.bf (id bigint PRIMARY KEY, a bigint, s text)`);
      await pool.query(`INSERT INTO data.bf (id, a) SELECT g, g * 3 FROM generate_series(1, 20000) g`);
      // CLUSTER by id descending: the rows copied first (low ids, first pages) go last, and
      // the rows not copied yet to the first pages, which a copy going on by page never reads
      await pool.query(`CREATE INDEX bf_desc ON data.bf (id DESC)`);
      // deleted rows, so that VACUUM FULL moves the rows after them to lower pages
      await pool.query(`DELETE FROM data.bf WHERE id % 3 = 0 AND id < 10000`);
      // each statement of the copy takes 5 ms: the rewrite comes in the middle of it
      await pool.query(`CREATE FUNCTION data.bf_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.005); RETURN NULL; END $$`);
      await pool.query(`CREATE TRIGGER bf_slow BEFORE UPDATE ON data.bf FOR EACH STATEMENT EXECUTE FUNCTION data.bf_slow()`);
      const change = await beginOnlineChange(pool, { tableId: 1, fieldId: 1, kind: 'change_type', payload: { batch_pages: 2 }, objects: {}, actor: 'test' });
      const run = { deps: { pool, config: { lockTimeoutMs: 5000 }, log: testLog }, change, relation: 'data.bf', progress: async () => undefined } as unknown as OnlineRun;
      const dba = new pg.Client({ connectionString: db.url });
      await dba.connect();
      try {
        const copy = backfill(run, 's', '(t.a)::text', 20000);
        // a third of the way
        const pages = Number((await dba.query(`SELECT pg_relation_size('data.bf') / 8192 AS n`)).rows[0].n);
        for (let i = 0; i < 400 && Number((await getOnlineChange(dba, change.id)).backfill_page ?? 0) < pages / 3; i++) await new Promise((r) => setTimeout(r, 10));
        const before = (await dba.query(`SELECT pg_relation_filenode('data.bf') AS f`)).rows[0].f;
        await dba.query(rewrite);
        expect((await dba.query(`SELECT pg_relation_filenode('data.bf') AS f`)).rows[0].f, 'a new relation file').to.not.equal(before);
        expect(await copy).to.deep.equal([]);
        const { rows } = await dba.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE s IS DISTINCT FROM a::text)::int AS wrong FROM data.bf`);
        expect(rows[0], 'every row copied, in the new file too').to.deep.equal({ n: 20000 - 3333, wrong: 0 });
      } finally {
        await dba.end();
      }
    });
  }

  it("a cancel seen by one session while the other waits for a row a user holds: the copy ends cancelled, not failed on that session's lock timeout (a hostile review's finding)", async () => {
    await pool.query(`CREATE TABLE data.bf (id bigint PRIMARY KEY, a bigint, s text)`);
    await pool.query(`INSERT INTO data.bf (id, a) SELECT g, g * 3 FROM generate_series(1, 5000) g`);
    // an admin cancelled already: the first range's last statement says so
    const change = await beginOnlineChange(pool, { tableId: 1, fieldId: 1, kind: 'change_type', payload: { batch_pages: 4 }, objects: {}, actor: 'test' });
    await pool.query(`UPDATE tablewright.online_changes SET cancel_requested = true WHERE id = $1`, [change.id]);
    // two sessions: the first takes pages 0-3, the second pages 4-7, where a user holds a row
    // of the first wave (id & 15 = 0) past the copy's lock_timeout, again and again
    const two = new pg.Pool({ connectionString: db.url, max: 3 });
    const user = new pg.Client({ connectionString: db.url });
    await user.connect();
    try {
      const held = (await pool.query(`SELECT id FROM data.bf WHERE ctid >= '(4,0)'::tid AND ctid < '(5,0)'::tid AND id & 15 = 0 ORDER BY id LIMIT 1`)).rows[0].id;
      await user.query('BEGIN');
      await user.query(`SELECT 1 FROM data.bf WHERE id = $1 FOR UPDATE`, [held]);
      const run = { deps: { pool: two, config: { lockTimeoutMs: 300, onlineBackfillWorkers: 2 }, log: testLog }, change, relation: 'data.bf', progress: async () => undefined } as unknown as OnlineRun;
      const err = await backfill(run, 's', '(t.a)::text', 5000).then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      expect(err?.constructor.name, String(err)).to.equal('CancelledError');
    } finally {
      await user.query('ROLLBACK').catch(() => undefined);
      await user.end();
      await two.end();
    }
  });
});
