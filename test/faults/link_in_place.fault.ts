// SIGKILL at each step of an online number -> link change made in place
// (server/schema/online/op_link_in_place.ts) that has work between its brief steps:
//   * during the sweep that moves the ids of no row aside (confirm_loss): recorded range by
//     range, the next instance goes on from the last page recorded;
//   * during the swap: its transaction has done its DDL and metadata and waits at the version
//     bump; it rolls back whole and the next instance swaps once;
//   * during the rollback's sweep that puts the moved values back (after a cancel): the
//     next instance rolls back again, every value back.
// Every time another instance (a real `tablewright serve` process) ends the change: the
// values right (each link an id of a row, each lost value in the trashed copy and nowhere
// else; or, rolled back, every value as it was), nothing of ours left, reconcile clean.
import { expect } from 'chai';
import { type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { bigTable, expectReconcileClean, holdVersionBump, jobEnd, killAtVersionBump, killDaemon, leftovers, ONLINE_FAULT_ENV, waitingOn } from './big_table.js';
import { eventually, startDaemon, stopDaemons, type Daemon } from './lib.js';

const ROWS = 300_000;
const ENV = ONLINE_FAULT_ENV;

describe('SIGKILL during an online number -> link change made in place: another instance ends it', function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let sql: Sql;
  let token: string;
  let table: { id: number; table_name: string; fields: Array<{ id: number; column: string }> };
  let target: number;

  before(async () => {
    // stores 1..100; the sales' values go to 120 (one in six an id of no row) and some are empty
    ({ db, sql, token, table } = await bigTable(
      'Sales',
      [
        { name: 'Store', type: 'number', column: 'store' },
        { name: 'Shop', type: 'number', column: 'shop' },
        { name: 'Outlet', type: 'number', column: 'outlet' },
      ],
      (rel) =>
        `INSERT INTO ${rel} (store, shop, outlet) SELECT v, v, v FROM (SELECT CASE WHEN g % 13 = 0 THEN NULL ELSE g % 120 + 1 END AS v FROM generate_series(1, ${ROWS}) g) s;
         CREATE TABLE public.sales_before AS SELECT id, store AS v FROM ${rel}`,
      ENV,
    ));
    const setup = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    try {
      const res = await setup.call('POST', '/tables', { json: { name: 'Stores', fields: [{ name: 'Name', type: 'text' }] } });
      expect(res.status, res.text).to.equal(201);
      target = res.body.id;
    } finally {
      await setup.stop();
    }
    await sql.exec(`INSERT INTO data.stores (name) SELECT 's' || g FROM generate_series(1, 100) g`);
  });
  after(async () => {
    await stopDaemons();
    await sql?.end();
    await db?.drop();
  });

  const fid = (i: number) => table.fields[i]!.id;
  const body = () => ({ type: 'link', options: { table_id: target }, confirm_loss: 1, online: 1 });

  async function expectClean(d: Daemon) {
    expect(await leftovers(sql, 'data.sales'), 'nothing of the change in flight is left').to.deep.equal([]);
    expect(await sql.rows(`SELECT id FROM tablewright.online_changes WHERE status = 'running'`)).to.deep.equal([]);
    await expectReconcileClean(d);
  }

  /** The field is a link: every value an id of a store, every lost value in the trashed copy only, the others as they were. */
  async function expectLinked(col: string) {
    const kept = (await sql.one(`SELECT trash_name FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change' AND name LIKE $2`, [table.id, `${col[0]!.toUpperCase()}${col.slice(1)} (%`])).trash_name;
    expect(
      await sql.one(
        `SELECT count(*)::int AS n,
                count(*) FILTER (WHERE s.${col} IS DISTINCT FROM CASE WHEN b.v <= 100 THEN b.v END)::int AS links_wrong,
                count(*) FILTER (WHERE s.${kept} IS DISTINCT FROM CASE WHEN b.v > 100 THEN b.v END)::int AS kept_wrong
           FROM data.sales s JOIN public.sales_before b USING (id)`,
      ),
    ).to.deep.equal({ n: ROWS, links_wrong: 0, kept_wrong: 0 });
    expect(await sql.one(`SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'data.sales'::regclass AND conname = $1`, [`fk_f${fid(['store', 'shop', 'outlet'].indexOf(col))}`])).to.deep.equal({
      conname: `fk_f${fid(['store', 'shop', 'outlet'].indexOf(col))}`,
      convalidated: true,
    });
  }

  it('killed during the sweep that moves the ids of no row aside: the next instance goes on from the page recorded, every value right', async () => {
    const a = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    // one page a statement: the sweep takes seconds, and the kill lands in it
    const res = await a.call('PATCH', `/tables/${table.id}/fields/${fid(0)}?batch_pages=1`, { json: body() });
    expect(res.status, res.text).to.equal(202);
    await eventually('the sweep under way', async () => (await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE step = 'backfill' AND backfill_page >= 200 AND status = 'running'`)).length > 0, 120_000, 20);
    await killDaemon(a);
    const at = Number((await sql.one(`SELECT backfill_page FROM tablewright.online_changes WHERE job_id = $1`, [res.body.id])).backfill_page);
    const pages = Number((await sql.one(`SELECT pg_relation_size('data.sales') / 8192 AS n`)).n);
    expect(at, 'killed mid-way').to.be.within(200, pages - 1);
    const b = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    const job = await jobEnd(b, res.body.id);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.attempts, 'killed, then resumed').to.equal(2);
    expect(job.result.changes.type_change.lost).to.equal(Number((await sql.one(`SELECT count(*) AS n FROM public.sales_before WHERE v > 100`)).n));
    await expectLinked('store');
    await expectClean(b);
    await b.stop();
  });

  it('killed during the swap: it rolls back whole; the next instance swaps once, every value right', async () => {
    const a = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    const holder = await Sql.connect(db.url);
    try {
      const res = await a.call('PATCH', `/tables/${table.id}/fields/${fid(1)}`, { json: body() });
      expect(res.status, res.text).to.equal(202);
      await eventually('the trigger made', async () => (await sql.rows(`SELECT 1 FROM pg_trigger WHERE tgname = $1`, [`tw_sync_f${fid(1)}`])).length > 0, 60_000, 5);
      await holdVersionBump(holder, table.id);
      await killAtVersionBump(sql, a, holder, 'the swap');
      expect((await sql.rows(`SELECT 1 FROM pg_trigger WHERE tgname = $1`, [`tw_sync_f${fid(1)}`])).length, 'the swap rolled back: the trigger is there').to.equal(1);
      const b = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
      const job = await jobEnd(b, res.body.id);
      expect(job.status, JSON.stringify(job.error)).to.equal('done');
      expect(job.attempts).to.equal(2);
      expect(await sql.rows(`SELECT 1 FROM tablewright.audit WHERE field_id = $1 AND operation = 'online_change_type:swap'`, [fid(1)]), 'swapped once').to.have.length(1);
      await expectLinked('shop');
      await expectClean(b);
      await b.stop();
    } finally {
      await holder.exec('ROLLBACK').catch(() => undefined);
      await holder.end();
      await a.stop(1000);
    }
  });

  it('killed during the rollback (after a cancel) while it puts the moved values back: the next instance rolls back again, every value as it was', async () => {
    const a = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    const holder = await Sql.connect(db.url);
    try {
      const res = await a.call('PATCH', `/tables/${table.id}/fields/${fid(2)}?batch_pages=1`, { json: body() });
      expect(res.status, res.text).to.equal(202);
      // held before its VALIDATE (a DBA's SHARE UPDATE EXCLUSIVE lock, taken while the sweep
      // runs: its row locks do not conflict, VALIDATE's lock does), the values moved aside
      await eventually('the sweep under way', async () => (await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE step = 'backfill' AND status = 'running'`)).length > 0, 120_000, 5);
      await holder.exec('BEGIN');
      await holder.exec(`LOCK TABLE data.sales IN SHARE UPDATE EXCLUSIVE MODE`);
      await eventually('VALIDATE waiting', waitingOn(sql, 'VALIDATE CONSTRAINT'), 120_000);
      expect((await a.call('POST', `/jobs/${res.body.id}/cancel`)).status).to.equal(202);
      await holder.exec('ROLLBACK');
      // the rollback's first brief step done (the field a plain number again), its sweep putting values back
      await eventually(
        'the values being put back',
        async () => (await sql.rows(`SELECT 1 FROM tablewright.audit WHERE field_id = $1 AND operation = 'online_change_type:rollback'`, [fid(2)])).length > 0,
        120_000,
        10,
      );
      await killDaemon(a);
      const moved = Number((await sql.one(`SELECT count(*) AS n FROM data.sales WHERE _tw_new_f${fid(2)} IS NOT NULL AND outlet IS NULL`)).n);
      expect(moved, 'killed with values still aside').to.be.greaterThan(0);
      const b = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
      const job = await jobEnd(b, res.body.id);
      expect([job.status, job.error?.code]).to.deep.equal(['failed', 'cancelled']);
      expect(job.attempts).to.equal(2);
      expect(await sql.one(`SELECT count(*)::int AS n, count(*) FILTER (WHERE s.outlet IS DISTINCT FROM b.v)::int AS wrong FROM data.sales s JOIN public.sales_before b USING (id)`)).to.deep.equal({ n: ROWS, wrong: 0 });
      expect((await b.call('GET', `/tables/${table.id}/fields/${fid(2)}`)).body.type).to.equal('number');
      await expectClean(b);
      await b.stop();
    } finally {
      await holder.exec('ROLLBACK').catch(() => undefined);
      await holder.end();
      await a.stop(1000);
    }
  });
});
