// The online number -> link change gives every row what the one-transaction change gives:
// proved by comparing them, value by value on generated data, on two identical fields. And a
// table whose ids are far apart (a DBA's sequence restarted at 10^12) is copied in a few
// statements, not millions of empty ranges. And a target with a column named as the field's
// own: the lookup of each value in the target's ids must not read that column instead.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';
import { createTable, expectClean, QUIET } from '../introspect/lib.js';
import { mulberry32 } from '../helpers/rng.js';


describe('online number -> link, and a table whose ids are far apart', function () {
  this.timeout(120_000);
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ app, sql } = s), { ...QUIET, JOB_POLL_MS: '50' });

  it('gives every row the value the one-transaction change gives (generated values: ids of rows, of deleted rows, of none, negative, fractional, past bigint, empty), the same count lost, every old value kept', async () => {
    const target = await createTable(app, 'Customers', [{ name: 'Name', type: 'text' }]);
    await sql.exec(`INSERT INTO data.customers (name) SELECT 'c' || g FROM generate_series(1, 300) g`);
    await sql.exec(`DELETE FROM data.customers WHERE id % 7 = 0`);
    const t = await createTable(app, 'Orders', [
      { name: 'Online', type: 'number', options: { any_precision: true } },
      { name: 'Blocking', type: 'number', options: { any_precision: true } },
    ]);
    const [online, blocking] = [t.fields[0]!.id, t.fields[1]!.id];
    const seed = 1 + Math.floor(Math.random() * 1e9);
    const next = mulberry32(seed);
    const pick = (): string | null => {
      const r = next();
      if (r < 0.6) return String(1 + Math.floor(next() * 300)); // a row, or a deleted one (1 in 7)
      if (r < 0.7) return String(301 + Math.floor(next() * 1000)); // no such row
      if (r < 0.75) return String(-Math.floor(next() * 50)); // negative, and 0
      if (r < 0.8) return (1 + Math.floor(next() * 300) + 0.5).toFixed(2); // not a whole number
      if (r < 0.85) return ['99999999999999999999.00', '9223372036854775807', '1000000000000000000'][Math.floor(next() * 3)]!; // past what an id can be
      return null;
    };
    const values = Array.from({ length: 30_000 }, pick);
    await sql.exec(`INSERT INTO data.orders (online, blocking) SELECT v, v FROM unnest($1::numeric[]) AS v`, [values]);

    const res = await app.request('PATCH', `/tables/${t.id}/fields/${online}`, { json: { type: 'link', options: { table_id: target.id }, confirm_loss: 1, online: 1 } });
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(app, res.body.id, 60_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    const sync = await app.request('PATCH', `/tables/${t.id}/fields/${blocking}`, { json: { type: 'link', options: { table_id: target.id }, confirm_loss: 1, online: 0 } });
    expect(sync.status, sync.text).to.equal(200);

    const kept = await sql.rows(`SELECT trash_name FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change' ORDER BY id`, [t.id]);
    expect(kept, 'both old columns are kept').to.have.length(2);
    const check = await sql.one(
      `SELECT count(*)::int AS n,
              count(*) FILTER (WHERE online IS DISTINCT FROM blocking)::int AS differ,
              count(*) FILTER (WHERE online IS NOT NULL AND NOT EXISTS (SELECT FROM data.customers c WHERE c.id = online))::int AS dangling,
              count(*) FILTER (WHERE ${kept[0]!.trash_name} IS NOT NULL AND online IS NULL)::int AS lost,
              -- the online change keeps the whole old column, the one-transaction change the lost values
              count(*) FILTER (WHERE ${kept[1]!.trash_name} IS NOT NULL AND ${kept[1]!.trash_name} IS DISTINCT FROM ${kept[0]!.trash_name})::int AS kept_differ,
              count(*) FILTER (WHERE online IS NULL AND ${kept[0]!.trash_name} IS NOT NULL AND ${kept[1]!.trash_name} IS NULL)::int AS lost_unkept
         FROM data.orders`,
    );
    expect(check.n).to.equal(30_000);
    expect(check.differ, `seed ${seed}: rows whose online value differs from the one-transaction change's`).to.equal(0);
    expect(check.dangling, `seed ${seed}`).to.equal(0);
    expect(check.kept_differ, `seed ${seed}: the old values kept`).to.equal(0);
    expect(check.lost_unkept, `seed ${seed}: every lost value kept by both`).to.equal(0);
    expect(check.lost, `seed ${seed}: some values were lost, as generated`).to.be.greaterThan(1000);
    expect(job.result.changes.type_change.lost, `seed ${seed}: the job counts what was lost`).to.equal(check.lost);
    expect(sync.body.changes.type_change.lost, `seed ${seed}: as the one-transaction change does`).to.equal(check.lost);
    expect(job.result.changes.kept_in_trash.field_id).to.be.a('number');
    // a link to a row deleted now is emptied by the foreign key the change made
    await sql.exec(`DELETE FROM data.customers WHERE id = 1`);
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.orders WHERE online = 1`)).n).to.equal(0);
    await expectClean(app);
  });

  it('a table whose ids are far apart (from -20, 0, 1..200, from 10^12, past 2^53, 10^15 apart) converts online in a few statements, every row (number -> text, and -> link)', async () => {
    const target = await createTable(app, 'Places', [{ name: 'Name', type: 'text' }]);
    await sql.exec(`INSERT INTO data.places (name) SELECT 'p' || g FROM generate_series(1, 10) g`);
    const t = await createTable(app, 'Sparse', [
      { name: 'Amount', type: 'number' },
      { name: 'Place', type: 'number' },
    ]);
    await sql.exec(`INSERT INTO data.sparse (amount, place) SELECT g, g % 12 FROM generate_series(1, 200) g`);
    // a DBA's rows: ids at or below 0, and a sequence restarted at 10^12
    await sql.exec(`INSERT INTO data.sparse (id, amount, place) OVERRIDING SYSTEM VALUE SELECT g, g, abs(g) % 12 FROM generate_series(-20, 0) g`);
    await sql.exec(`INSERT INTO data.sparse (id, amount, place) OVERRIDING SYSTEM VALUE SELECT 1000000000000 + g, g, g % 12 FROM generate_series(1, 50) g`);
    // ids past 2^53 (no JS number holds them exactly), and ids 10^15 apart
    await sql.exec(`INSERT INTO data.sparse (id, amount, place) OVERRIDING SYSTEM VALUE SELECT 9007199254740993 + g, g, 1 FROM generate_series(0, 9) g`);
    await sql.exec(`INSERT INTO data.sparse (id, amount, place) OVERRIDING SYSTEM VALUE SELECT g * 1000000000000000, g, 2 FROM generate_series(10, 40) g`);
    // An empty range of ids is one statement a wave: 10^12 ids in ranges of at most 200,000
    // are 5,000,000 ranges. Skipping to the next id there is takes a few seconds at most.
    // the values before (the link change is made in place: its trashed copy keeps the lost values only)
    await sql.exec(`CREATE TABLE public.sparse_before AS SELECT id, place FROM data.sparse`);
    const started = Date.now();
    for (const [fid, body] of [
      [t.fields[0]!.id, { type: 'text' }],
      [t.fields[1]!.id, { type: 'link', options: { table_id: target.id }, confirm_loss: 1 }],
    ] as const) {
      const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { ...body, online: 1 } });
      expect(res.status, res.text).to.equal(202);
      const job = await waitForJob(app, res.body.id, 30_000);
      expect(job.status, JSON.stringify(job.error)).to.equal('done');
    }
    expect(Date.now() - started).to.be.lessThan(30_000);
    const kept = await sql.rows(`SELECT trash_name FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change' ORDER BY id`, [t.id]);
    const [oldAmount, oldPlace] = [kept[0]!.trash_name as string, kept[1]!.trash_name as string];
    expect(
      await sql.one(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE amount IS DISTINCT FROM ${oldAmount}::text)::int AS amounts_wrong,
                count(*) FILTER (WHERE s.place IS DISTINCT FROM CASE WHEN b.place BETWEEN 1 AND 10 THEN b.place END)::int AS places_wrong,
                count(*) FILTER (WHERE ${oldPlace} IS DISTINCT FROM CASE WHEN b.place NOT BETWEEN 1 AND 10 THEN b.place END)::int AS kept_wrong,
                count(s.place)::int AS places FROM data.sparse s JOIN public.sparse_before b USING (id)`,
      ),
    ).to.deep.equal({ n: 312, amounts_wrong: 0, places_wrong: 0, kept_wrong: 0, places: 312 - 32 - 8 - 3 });
    await sql.exec(`DROP TABLE public.sparse_before`);
  });

  it('a target with a column of the same name as the field: each value is looked up in the target\'s ids (dry run, online, one transaction), never in that column', async () => {
    // The target's "ref" and "ref2" are numbers that are no row's id: a lookup that read
    // them (an unqualified name inside the lookup's subquery means the target's column)
    // would find no row for any value and empty every link.
    const target = await createTable(app, 'Accounts', [
      { name: 'Ref', type: 'number', column: 'ref' },
      { name: 'Ref2', type: 'number', column: 'ref2' },
    ]);
    await sql.exec(`INSERT INTO data.accounts (ref, ref2) SELECT 1000 + g, 1000 + g FROM generate_series(1, 60) g`);
    const t = await createTable(app, 'Invoices', [
      { name: 'Ref', type: 'number', column: 'ref' },
      { name: 'Ref2', type: 'number', column: 'ref2' },
    ]);
    // 1..50 are accounts; 999 is none; one row empty
    await sql.exec(`INSERT INTO data.invoices (ref, ref2) SELECT v, v FROM unnest(ARRAY[${Array.from({ length: 50 }, (_, i) => i + 1).join(',')}, 999, NULL]::numeric[]) v`);
    const [online, blocking] = [t.fields[0]!.id, t.fields[1]!.id];
    const to = { type: 'link', options: { table_id: target.id } };

    const dry = await app.request('PATCH', `/tables/${t.id}/fields/${online}?dry_run=1`, { json: to });
    expect(dry.status, dry.text).to.equal(200);
    const report = dry.body.report ?? dry.body;
    expect([report.non_empty, report.lost], 'the dry run: 51 values, only 999 finds no account').to.deep.equal([51, 1]);

    const res = await app.request('PATCH', `/tables/${t.id}/fields/${online}`, { json: { ...to, confirm_loss: 1, online: 1 } });
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(app, res.body.id, 30_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    const sync = await app.request('PATCH', `/tables/${t.id}/fields/${blocking}`, { json: { ...to, confirm_loss: 1, online: 0 } });
    expect(sync.status, sync.text).to.equal(200);
    expect(
      await sql.one(`SELECT count(ref)::int AS online, count(ref2)::int AS blocking, count(*) FILTER (WHERE ref IS DISTINCT FROM ref2)::int AS differ,
                            count(*) FILTER (WHERE ref IS DISTINCT FROM CASE WHEN id <= 50 THEN id END)::int AS wrong FROM data.invoices`),
      'links 1..50 kept by both paths, 999 emptied (and kept in the trash)',
    ).to.deep.equal({ online: 50, blocking: 50, differ: 0, wrong: 0 });
    expect([job.result.changes.type_change.lost, sync.body.changes.type_change.lost]).to.deep.equal([1, 1]);
    await expectClean(app);
  });

  it("the target of a link change in flight is not renamed in PostgreSQL nor trashed (409 change_in_flight; the change's sync function names it, and every write to the changing table failed): a display rename goes; after the change, both do", async () => {
    const target = await createTable(app, 'Depots', [{ name: 'Name', type: 'text' }]);
    await sql.exec(`INSERT INTO data.depots (name) SELECT 'd' || g FROM generate_series(1, 20) g`);
    // (a number of any precision, numeric: the shadow way, whose copy batch_pages slows; a whole number
    // goes in place, where link_in_place.test.ts checks the same)
    const t = await createTable(app, 'Parcels', [{ name: 'Depot', type: 'number', options: { any_precision: true } }]);
    await sql.exec(`INSERT INTO data.parcels (depot) SELECT 1 + g % 20 FROM generate_series(1, 30000) g`);
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { type: 'link', options: { table_id: target.id }, online: 1, batch_pages: 1 } });
    expect(res.status, res.text).to.equal(202);
    for (let i = 0; i < 1000 && !(await sql.rows(`SELECT 1 FROM pg_trigger WHERE tgname = $1`, [`tw_sync_f${t.fields[0]!.id}_upd`])).length; i++) await new Promise((r) => setTimeout(r, 5));
    const renamed = await app.request('PATCH', `/tables/${target.id}`, { json: { table_name: 'depots_renamed' } });
    const trashed = await app.request('DELETE', `/tables/${target.id}`);
    const shown = await app.request('PATCH', `/tables/${target.id}`, { json: { name: 'Depots shown' } });
    const written = await app.request('POST', `/tables/${t.id}/rows`, { json: { depot: 3 } });
    expect((await app.request('GET', `/jobs/${res.body.id}`)).body.status, 'all of it while the change ran').to.be.oneOf(['queued', 'running']);
    expect([renamed.status, renamed.body.error?.code], renamed.text).to.deep.equal([409, 'change_in_flight']);
    expect([trashed.status, trashed.body.error?.code], trashed.text).to.deep.equal([409, 'change_in_flight']);
    expect(shown.status, shown.text).to.equal(200);
    expect(written.status, written.text).to.equal(201);
    const job = await waitForJob(app, res.body.id, 60_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect((await app.request('PATCH', `/tables/${target.id}`, { json: { table_name: 'depots_renamed' } })).status).to.equal(200);
    expect((await app.request('POST', `/tables/${t.id}/rows`, { json: { depot: 4 } })).status).to.equal(201);
    await expectClean(app);
  });

  // (online only: the one-transaction path keeps the lost values only, and a link to text loses none)
  for (const online of [1] as const) {
    it(`a link changed to text (online=${online}), its old column restored from the trash: a link again with its foreign key (a dangling write refused), links to rows deleted meanwhile emptied and counted, reconcile clean`, async () => {
      const target = await createTable(app, `Hubs ${online}`, [{ name: 'Name', type: 'text' }]);
      const hubs = `data.${target.table_name}`;
      await sql.exec(`INSERT INTO ${hubs} (name) SELECT 'h' || g FROM generate_series(1, 10) g`);
      const t = await createTable(app, `Routes ${online}`, [{ name: 'Hub', type: 'link', column: 'hub', options: { table_id: target.id } }]);
      const routes = `data.${t.table_name}`;
      await sql.exec(`INSERT INTO ${routes} (hub) SELECT 1 + g % 10 FROM generate_series(1, 200) g`);
      const res = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { type: 'text', online, confirm_loss: 1 } });
      expect(res.status, res.text).to.equal(202);
      expect((await waitForJob(app, res.body.id, 60_000)).status).to.equal('done');
      const kept = await sql.one(`SELECT id FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change'`, [t.id]);
      await sql.exec(`DELETE FROM ${hubs} WHERE id = 3`);
      const restored = await app.request('POST', `/tables/${t.id}/fields/${kept.id}/restore`);
      expect(restored.status, restored.text).to.equal(200);
      const back = (await app.request('GET', `/tables/${t.id}/fields/${kept.id}`)).body;
      expect(back.type).to.equal('link');
      expect(JSON.stringify(restored.body), 'the emptied links counted').to.match(/20 links pointed at rows deleted/);
      expect((await sql.one(`SELECT count(*)::int AS n FROM ${routes} WHERE ${back.column} = 3`)).n).to.equal(0);
      const dangling = await app.request('POST', `/tables/${t.id}/rows`, { json: { [back.column]: 999 } });
      expect(dangling.status, dangling.text).to.be.within(400, 499);
      await sql.exec(`DELETE FROM ${hubs} WHERE id = 4`);
      expect((await sql.one(`SELECT count(*)::int AS n FROM ${routes} WHERE ${back.column} = 4`)).n, 'ON DELETE SET NULL').to.equal(0);
      await expectClean(app);
    });
  }

  it("a link's old column restored while the table it links to is in the trash: 409 naming that (not a 400 about an input never sent); restored once the table is back", async () => {
    const target = await createTable(app, 'Yards', [{ name: 'Name', type: 'text' }]);
    await sql.exec(`INSERT INTO data.yards (name) SELECT 'y' || g FROM generate_series(1, 5) g`);
    const t = await createTable(app, 'Crates', [{ name: 'Yard', type: 'link', column: 'yard', options: { table_id: target.id } }]);
    await sql.exec(`INSERT INTO data.crates (yard) SELECT 1 + g % 5 FROM generate_series(1, 50) g`);
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { type: 'text', online: 1 } });
    expect((await waitForJob(app, res.body.id, 60_000)).status).to.equal('done');
    const kept = await sql.one(`SELECT id FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change'`, [t.id]);
    expect((await app.request('DELETE', `/tables/${target.id}`)).status).to.be.oneOf([200, 204]);
    const early = await app.request('POST', `/tables/${t.id}/fields/${kept.id}/restore`);
    expect([early.status, early.body.error?.code], early.text).to.deep.equal([409, 'link_target_trashed']);
    expect(early.body.error.message).to.match(/"Yards", which is in the trash/);
    expect((await app.request('POST', `/trash/tables/${target.id}/restore`)).status, 'the table back').to.equal(200);
    const later = await app.request('POST', `/tables/${t.id}/fields/${kept.id}/restore`);
    expect(later.status, later.text).to.equal(200);
    await expectClean(app);
  });
});
