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
import { HOLDER_MIN_AGE_S } from '../../server/schema/online/cleanup_holder.js';

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

// A transaction that holds a transaction id and stays open, in any database of the cluster,
// keeps every row version the copy leaves (server/schema/online/cleanup_holder.ts): the copy
// names it in its job's phase and once in the log; one that only reads is not named.
describe('online backfill: a writing transaction left open in the cluster is named', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let other: TestDatabase;
  let pool: pg.Pool;
  before(async () => {
    db = await freshDatabase();
    other = await freshDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  after(async () => {
    await pool.end();
    await db.drop();
    await other.drop();
  });

  it('named while open (phase and one warning), not once it committed; a reading transaction is never named', async () => {
    await pool.query(`CREATE TABLE data.bf (id bigint PRIMARY KEY, a bigint, s text)`);
    await pool.query(`INSERT INTO data.bf (id, a) SELECT g, g * 3 FROM generate_series(1, 5000) g`);
    const writer = new pg.Client({ connectionString: other.url });
    const reader = new pg.Client({ connectionString: other.url });
    await writer.connect();
    await reader.connect();
    try {
      await writer.query('BEGIN');
      const writerPid = (await writer.query(`SELECT pg_backend_pid() AS pid, txid_current()`)).rows[0].pid as number;
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const readerPid = (await reader.query(`SELECT pg_backend_pid() AS pid FROM pg_class LIMIT 1`)).rows[0].pid as number;
      await new Promise((r) => setTimeout(r, HOLDER_MIN_AGE_S * 1000 + 300));

      const copy = async (s: string) => {
        const phases: string[] = [];
        const warnings: Array<Record<string, unknown>> = [];
        const log = { info: () => undefined, debug: () => undefined, warn: (o: Record<string, unknown>) => void warnings.push(o) };
        // a change of its own (another table id: one change in flight a table)
        const change = await beginOnlineChange(pool, { tableId: s === 's' ? 1 : 2, fieldId: 1, kind: 'change_type', payload: { batch_pages: 4 }, objects: {}, actor: 'test' });
        const run = { deps: { pool, config: { lockTimeoutMs: 5000 }, log }, change, relation: 'data.bf', progress: async (p: { phase?: string }) => void (p.phase && phases.push(p.phase)) } as unknown as OnlineRun;
        await pool.query(`UPDATE data.bf SET ${s} = NULL`);
        expect(await backfill(run, s, '(t.a)::text', 5000)).to.deep.equal([]);
        return { phases, warnings };
      };

      await pool.query(`ALTER TABLE data.bf ADD COLUMN s2 text`);
      const open = await copy('s');
      expect(open.warnings.map((w) => w.pid), 'the writing transaction, once').to.deep.equal([writerPid]);
      expect(open.phases.some((p) => p.includes(`pid ${writerPid}`) && p.includes(`database ${other.name}`)), open.phases.join(' | ')).to.equal(true);
      expect(open.phases.some((p) => p.includes(`pid ${readerPid}`)), 'the reading one is not named').to.equal(false);

      await writer.query('COMMIT');
      const closed = await copy('s2');
      expect(closed.warnings, 'nothing to name').to.deep.equal([]);
      expect(closed.phases.some((p) => p.includes('slowed by')), closed.phases.join(' | ')).to.equal(false);
    } finally {
      await writer.query('ROLLBACK').catch(() => undefined);
      await reader.query('ROLLBACK').catch(() => undefined);
      await writer.end();
      await reader.end();
    }
  });
});
