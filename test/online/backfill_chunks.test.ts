// The copy's statements are sized by time, each one by the one before (server/schema/online/
// backfill.ts, nextChunk), not once a range: a statement held far past its aim (after a
// checkpoint, every page's first change writes the whole page to the WAL; here a row made
// slow on purpose) is followed at once by a small one, so a write waits for at most one
// such statement. A first wave's statement (its rows move) covers at most
// FIRST_WAVE_MAX_PAGES pages. What each statement updated is read by a statement trigger.
import { expect } from 'chai';
import pg from 'pg';
import { backfill, BACKFILL_WAVES, FIRST_WAVE_MAX_PAGES } from '../../server/schema/online/backfill.js';
import { beginOnlineChange } from '../../server/schema/online/state.js';
import type { OnlineRun } from '../../server/schema/online/steps.js';
import { freshDatabase, testLog, type TestDatabase } from '../helpers/db.js';

describe('online backfill: statements sized by the time of the one before', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let pool: pg.Pool;
  before(async () => {
    db = await freshDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  it('a first wave covers at most FIRST_WAVE_MAX_PAGES pages a statement; a statement 400 ms long is followed by one of a fraction of its rows', async () => {
    const rows = 250_000;
    await pool.query(`CREATE TABLE data.bf (id bigint PRIMARY KEY, a bigint, s text)`);
    await pool.query(`INSERT INTO data.bf (id, a) SELECT g, g * 3 FROM generate_series(1, ${rows}) g`);
    // rows go in by id: a row's page is (id - 1) / perPage
    const perPage = (await pool.query(`SELECT count(*)::int AS n FROM data.bf WHERE ctid < '(1,0)'::tid`)).rows[0].n as number;
    const pages = Math.ceil(rows / perPage);
    // what each statement of the copy updated
    await pool.query(`CREATE TABLE data.bf_seen (seq serial, n int, lo bigint, hi bigint, residues int[])`);
    await pool.query(`CREATE FUNCTION data.bf_seen() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO data.bf_seen (n, lo, hi, residues) SELECT count(*), min(id), max(id), array_agg(DISTINCT (id & 15)::int ORDER BY (id & 15)::int) FROM changed; RETURN NULL; END $$`);
    await pool.query(`CREATE TRIGGER bf_seen AFTER UPDATE ON data.bf REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION data.bf_seen()`);
    // one row of a later wave (id & 15 = 7), 40% into the table (not in its last part), takes 400 ms to update
    const slow = 16 * Math.floor((0.4 * pages * perPage) / 16) + 7;
    await pool.query(`CREATE FUNCTION data.bf_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.4); RETURN NEW; END $$`);
    await pool.query(`CREATE TRIGGER bf_slow BEFORE UPDATE ON data.bf FOR EACH ROW WHEN (OLD.id = ${slow}) EXECUTE FUNCTION data.bf_slow()`);
    const change = await beginOnlineChange(pool, { tableId: 1, fieldId: 1, kind: 'change_type', payload: {}, objects: {}, actor: 'test' });
    const run = { deps: { pool, config: { lockTimeoutMs: 5000 }, log: testLog }, change, relation: 'data.bf', progress: async () => undefined } as unknown as OnlineRun;

    expect(await backfill(run, 's', '(t.a)::text', rows)).to.deep.equal([]);
    expect((await pool.query(`SELECT count(*)::int AS n FROM data.bf WHERE s IS DISTINCT FROM a::text`)).rows[0].n, 'every row copied').to.equal(0);

    const seen = (await pool.query<{ n: number; lo: string; hi: string; residues: number[] }>(`SELECT n, lo, hi, residues FROM data.bf_seen WHERE n > 0 ORDER BY seq`)).rows;
    const span = (s: { lo: string; hi: string }) => Math.floor((Number(s.hi) - 1) / perPage) - Math.floor((Number(s.lo) - 1) / perPage) + 1;
    const first = seen.filter((s) => s.residues.every((r) => BACKFILL_WAVES[0]!.includes(r)));
    const later = seen.filter((s) => !s.residues.some((r) => BACKFILL_WAVES[0]!.includes(r)));
    expect(first.length + later.length, 'each statement is of one wave').to.equal(seen.length);
    expect(Math.max(...later.map(span)), 'the later waves went over more pages than that at once: the bound was needed').to.be.above(FIRST_WAVE_MAX_PAGES);
    expect(Math.max(...first.map(span)), `a first wave's statement: at most ${FIRST_WAVE_MAX_PAGES} pages`).to.be.at.most(FIRST_WAVE_MAX_PAGES);

    // the statement that waited 400 ms for the slow row, and the next one of its wave
    const at = seen.findIndex((s) => s.residues.includes(7) && Number(s.lo) <= slow && slow <= Number(s.hi));
    expect(at, 'the slow row was copied').to.be.at.least(0);
    const next = seen.slice(at + 1).find((s) => s.residues.includes(7));
    expect(next, 'a statement of the same wave after it').to.not.equal(undefined);
    expect(seen[at]!.n, 'the slow statement covered a part of several pages').to.be.at.least(8 * Math.floor(perPage / 16));
    // aimed at 50 ms: 400 ms asks for an eighth; at most a quarter, whatever the rounding
    expect(next!.n, `the next statement of the wave: ${next!.n} rows after ${seen[at]!.n}`).to.be.at.most(Math.ceil(seen[at]!.n / 4));
  });
});
