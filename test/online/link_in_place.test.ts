// A whole number (bigint) made a link online where its column is (op_link_in_place): no
// row is rewritten but those whose value does not survive; the result is the
// one-transaction change's, value by value on generated data (ids of rows, of deleted
// rows, of none, 0, negative, past what an id can be), with the lost values kept the
// same way; while it runs the field is a number that takes only ids the link will take
// (a clear 422 for the others), a value the new foreign key empties is kept aside; a
// cancel puts every value back; a value that slipped past the trigger (triggers off) is
// found by the validation: refused without confirm_loss, moved aside with it.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { mulberry32 } from '../helpers/rng.js';
import { Sql } from '../helpers/sql.js';
import { createTable, expectClean, QUIET } from '../introspect/lib.js';

describe('online number -> link in place', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  before(async () => {
    db = await freshDatabase();
    // a parallel plan wherever one is possible (the loss report's scan, the validation's)
    const admin = await Sql.connect(db.url);
    await admin.exec(`ALTER DATABASE ${db.name} SET parallel_setup_cost = 0; ALTER DATABASE ${db.name} SET parallel_tuple_cost = 0; ALTER DATABASE ${db.name} SET min_parallel_table_scan_size = 0`);
    await admin.end();
    app = await startApp(db.url, { ...QUIET, JOB_POLL_MS: '50', LOCK_TIMEOUT_MS: '60000' });
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const filenode = async (rel: string) => (await sql.one(`SELECT pg_relation_filenode($1::regclass)::text AS f`, [rel])).f as string;
  const onlineObjects = async (rel: string, fid: number) =>
    sql.one(
      `SELECT (SELECT count(*)::int FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped) AS kept_column,
              (SELECT count(*)::int FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname LIKE $3) AS triggers,
              (SELECT count(*)::int FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $4) AS fk,
              (SELECT count(*)::int FROM pg_class WHERE relname = $5) AS ix,
              (SELECT count(*)::int FROM pg_proc WHERE proname = $6) AS fn`,
      [rel, `_tw_new_f${fid}`, `tw_sync_f${fid}%`, `fk_new_f${fid}`, `ix_new_f${fid}`, `tw_sync_f${fid}`],
    );

  it('gives every row what the one-transaction change gives (generated values), keeps the same lost values, rewrites no file, and plans no copy', async () => {
    const target = await createTable(app, 'Customers', [{ name: 'Name', type: 'text' }]);
    await sql.exec(`INSERT INTO data.customers (name) SELECT 'c' || g FROM generate_series(1, 300) g`);
    await sql.exec(`DELETE FROM data.customers WHERE id % 7 = 0`);
    const t = await createTable(app, 'Orders', [
      { name: 'Online', type: 'number' },
      { name: 'Blocking', type: 'number' },
    ]);
    const [online, blocking] = [t.fields[0]!.id, t.fields[1]!.id];
    const seed = 1 + Math.floor(Math.random() * 1e9);
    const next = mulberry32(seed);
    const pick = (): string | null => {
      const r = next();
      if (r < 0.6) return String(1 + Math.floor(next() * 300)); // a row, or a deleted one (1 in 7)
      if (r < 0.7) return String(301 + Math.floor(next() * 1000)); // no such row
      if (r < 0.75) return String(-Math.floor(next() * 50)); // negative, and 0
      if (r < 0.8) return ['9223372036854775807', '1000000000000000000', '-9223372036854775808'][Math.floor(next() * 3)]!; // past what an id can be
      return null;
    };
    const values = Array.from({ length: 60_000 }, pick);
    await sql.exec(`INSERT INTO data.orders (online, blocking) SELECT v, v FROM unnest($1::bigint[]) AS v`, [values]);
    await sql.exec('ANALYZE data.orders');
    const body = { type: 'link', options: { table_id: target.id }, confirm_loss: 1 };

    const plan = await app.request('PATCH', `/tables/${t.id}/fields/${online}?dry_run=1&plan_only=1`, { json: { ...body, online: 1 } });
    expect(plan.status, plan.text).to.equal(200);
    const classes = plan.body.plan.steps.map((s: { class: string }) => s.class);
    expect(classes, 'no step rewrites the table').to.not.include('rewrite');
    expect(plan.body.plan.steps.map((s: { sql: string }) => s.sql).join('\n')).to.match(/VALIDATE CONSTRAINT/).and.to.match(/CREATE INDEX CONCURRENTLY/);

    const before = await filenode('data.orders');
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${online}`, { json: { ...body, online: 1 } });
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(app, res.body.id, 60_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(await filenode('data.orders'), 'the table was not rewritten').to.equal(before);
    const sync = await app.request('PATCH', `/tables/${t.id}/fields/${blocking}`, { json: { ...body, online: 0 } });
    expect(sync.status, sync.text).to.equal(200);

    const kept = await sql.rows(`SELECT trash_name FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change' ORDER BY id`, [t.id]);
    expect(kept, 'both keep their lost values in a trashed copy').to.have.length(2);
    const [ko, kb] = [kept[0]!.trash_name, kept[1]!.trash_name];
    const check = await sql.one(
      `SELECT count(*)::int AS n,
              count(*) FILTER (WHERE online IS DISTINCT FROM blocking)::int AS differ,
              count(*) FILTER (WHERE ${ko} IS DISTINCT FROM ${kb})::int AS kept_differ,
              count(*) FILTER (WHERE online IS NOT NULL AND NOT EXISTS (SELECT FROM data.customers c WHERE c.id = online))::int AS dangling,
              count(*) FILTER (WHERE ${ko} IS NOT NULL)::int AS lost,
              count(*) FILTER (WHERE ${ko} IS NOT NULL AND online IS NOT NULL)::int AS both
         FROM data.orders`,
    );
    expect(check.n).to.equal(60_000);
    expect(check.differ, `seed ${seed}: rows whose value differs from the one-transaction change's`).to.equal(0);
    expect(check.kept_differ, `seed ${seed}: the kept values differ`).to.equal(0);
    expect(check.dangling, `seed ${seed}`).to.equal(0);
    expect(check.both, `seed ${seed}: a value is in one place`).to.equal(0);
    expect(check.lost, `seed ${seed}: some values were lost, as generated`).to.be.greaterThan(5000);
    expect(job.result.changes.type_change.lost, `seed ${seed}: the job counts what was lost`).to.equal(check.lost);
    expect(sync.body.changes.type_change.lost).to.equal(check.lost);
    expect(await onlineObjects('data.orders', online), 'nothing of the change is left').to.deep.equal({ kept_column: 0, triggers: 0, fk: 0, ix: 0, fn: 0 });
    const names = await sql.rows(`SELECT conname FROM pg_constraint WHERE conrelid = 'data.orders'::regclass AND contype = 'f' AND convalidated ORDER BY 1`);
    expect(names.map((r) => r.conname)).to.deep.equal([`fk_f${online}`, `fk_f${blocking}`]);
    expect((await sql.rows(`SELECT 1 FROM pg_indexes WHERE tablename = 'orders' AND indexname = $1`, [`ix_f${online}`])).length, 'its index').to.equal(1);
    // the trashed copy restores as the number it was: every value back where the link is empty
    const restored = await app.request('POST', `/tables/${t.id}/fields/${(await sql.one(`SELECT id FROM tablewright.fields WHERE trash_name = $1`, [ko])).id}/restore`);
    expect(restored.status, restored.text).to.equal(200);
    expect(restored.body.type).to.equal('number');
    await expectClean(app);
  });

  /**
   * Starts the change (confirm_loss, its sweep a page a statement: slow on purpose) and
   * holds it before its VALIDATE: a DBA's SHARE UPDATE EXCLUSIVE lock on the table, taken
   * once the first brief step is in (the trigger and the foreign key there) while the
   * sweep runs (its row locks do not conflict with it; VALIDATE's lock does).
   */
  async function startHeld(tableId: number, fid: number, body: Record<string, unknown>, rel: string): Promise<{ job: number; holder: Sql }> {
    const holder = await Sql.connect(db.url);
    const res = await app.request('PATCH', `/tables/${tableId}/fields/${fid}?batch_pages=1`, { json: { ...body, confirm_loss: 1, online: 1 } });
    expect(res.status, res.text).to.equal(202);
    for (let i = 0; !(await sql.rows(`SELECT 1 FROM pg_trigger WHERE tgname = $1`, [`tw_sync_f${fid}`])).length; i++) {
      if (i > 4000) throw new Error('the change never started');
      await new Promise((r) => setTimeout(r, 2));
    }
    await holder.exec('BEGIN');
    await holder.exec(`LOCK TABLE ${rel} IN SHARE UPDATE EXCLUSIVE MODE`);
    expect((await sql.one(`SELECT step FROM tablewright.online_changes WHERE job_id = $1`, [res.body.id])).step, 'held before VALIDATE').to.be.oneOf(['add_shadow', 'backfill', 'backfilled']);
    return { job: res.body.id, holder };
  }

  it('while it runs: an id of no row is refused (422 naming the field), an id of a row is taken, a row of the other table deleted empties its links and their values are kept; at the end they are in the trashed copy', async () => {
    const target = await createTable(app, 'Depots', [{ name: 'Name', type: 'text' }]);
    await sql.exec(`INSERT INTO data.depots (name) SELECT 'd' || g FROM generate_series(1, 50) g`);
    const t = await createTable(app, 'Parcels', [{ name: 'Depot', type: 'number', column: 'depot' }, { name: 'Note', type: 'text' }]);
    await sql.exec(`INSERT INTO data.parcels (depot) SELECT 1 + g % 50 FROM generate_series(1, 100000) g`);
    // the last row names no depot: an edit of its note comes before the sweep reaches its page
    await sql.exec(`UPDATE data.parcels SET depot = 60 WHERE id = 100000`);
    const fid = t.fields[0]!.id;
    const { job, holder } = await startHeld(t.id, fid, { type: 'link', options: { table_id: target.id } }, 'data.parcels');
    try {
      const refused = await app.request('POST', `/tables/${t.id}/rows`, { json: { depot: 999 } });
      expect([refused.status, refused.body.error?.code], refused.text).to.deep.equal([422, 'would_not_convert']);
      expect(refused.body.error.message).to.match(/Depot: the field is being changed to a link/);
      const edit = await app.request('PATCH', `/tables/${t.id}/rows/5`, { json: { depot: -3 } });
      expect(edit.status, edit.text).to.equal(422);
      const taken = await app.request('POST', `/tables/${t.id}/rows`, { json: { depot: 7, note: 'new' } });
      expect(taken.status, taken.text).to.equal(201);
      const other = await app.request('PATCH', `/tables/${t.id}/rows/6`, { json: { note: 'other field' } });
      expect(other.status, other.text).to.equal(200);
      // an edit of another field of a row whose value names no depot, before the sweep got
      // there: the value is moved aside by the trigger (the edit may move the row behind the sweep)
      const swept = Number((await sql.one(`SELECT backfill_page FROM tablewright.online_changes WHERE job_id = $1`, [job])).backfill_page);
      const lastPage = Number((await sql.one(`SELECT (ctid::text::point)[0] AS p FROM data.parcels WHERE id = 100000`)).p);
      const edited = await app.request('PATCH', `/tables/${t.id}/rows/100000`, { json: { note: 'edited' } });
      expect(edited.status, edited.text).to.equal(200);
      expect(await sql.one(`SELECT depot, _tw_new_f${fid}::text AS kept FROM data.parcels WHERE id = 100000`)).to.deep.equal({ depot: null, kept: '60' });
      expect(swept, 'the sweep had not reached the row').to.be.lessThan(lastPage);
      // 2,000 parcels at depot 9: emptied by the new foreign key, their 9 kept aside
      await sql.exec(`DELETE FROM data.depots WHERE id = 9`);
      expect((await sql.one(`SELECT count(*)::int AS n FROM data.parcels WHERE depot = 9`)).n).to.equal(0);
      expect((await sql.one(`SELECT count(*)::int AS n FROM data.parcels WHERE _tw_new_f${fid} = 9`)).n).to.equal(2000);
      // the linked table is named by the trigger and the foreign key: not renamed in PostgreSQL meanwhile
      const renamed = await app.request('PATCH', `/tables/${target.id}`, { json: { table_name: 'depots_renamed' } });
      expect([renamed.status, renamed.body.error?.code], renamed.text).to.deep.equal([409, 'change_in_flight']);
      expect((await app.request('GET', `/jobs/${job}`)).body.status, 'all of it while the change ran').to.be.oneOf(['queued', 'running']);
    } finally {
      await holder.exec('ROLLBACK');
      await holder.end();
    }
    const done = await waitForJob(app, job, 60_000);
    expect(done.status, JSON.stringify(done.error)).to.equal('done');
    const kept = (await sql.one(`SELECT trash_name FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change'`, [t.id])).trash_name;
    expect(await sql.one(`SELECT count(*) FILTER (WHERE ${kept} = 9)::int AS nine, count(*) FILTER (WHERE ${kept} IS NOT NULL)::int AS kept, count(*) FILTER (WHERE depot IS NULL)::int AS empty FROM data.parcels`)).to.deep.equal({
      nine: 2000,
      kept: 2001,
      empty: 2001,
    });
    expect((await sql.one(`SELECT ${kept}::text AS v FROM data.parcels WHERE id = 100000`)).v).to.equal('60');
    // the depot deleted during the change, restored after it: its links come back, as after any delete of a linked row
    const restored = await app.request('POST', `/tables/${target.id}/rows/9/restore`);
    expect(restored.status, restored.text).to.be.within(200, 201);
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.parcels WHERE depot = 9`)).n).to.equal(2000);
    expect((await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body.type).to.equal('link');
    await expectClean(app);
  });

  it('cancelled: every value is back as it was, those moved aside (confirm_loss) and those the new foreign key emptied, and nothing of the change is left', async () => {
    const target = await createTable(app, 'Hubs', [{ name: 'Name', type: 'text' }]);
    await sql.exec(`INSERT INTO data.hubs (name) SELECT 'h' || g FROM generate_series(1, 40) g`);
    const t = await createTable(app, 'Routes', [{ name: 'Hub', type: 'number', column: 'hub' }]);
    // 1..40 are hubs, 41..50 none, and some empty
    await sql.exec(`INSERT INTO data.routes (hub) SELECT CASE WHEN g % 11 = 0 THEN NULL ELSE g % 50 + 1 END FROM generate_series(1, 100000) g`);
    const original = await sql.one(`SELECT sum(hub)::text AS s, count(hub)::int AS n, md5(string_agg(coalesce(hub::text, '-'), ',' ORDER BY id)) AS h FROM data.routes`);
    const fid = t.fields[0]!.id;
    const { job, holder } = await startHeld(t.id, fid, { type: 'link', options: { table_id: target.id } }, 'data.routes');
    // rows 43 and 45 to 47 hold 44 and 46 to 48 (no hub), row 1 holds 2
    const expected = new Map([[45, '5'], [46, null], [47, '48'], [1, '2'], [43, '44']]);
    try {
      for (let i = 0; Number((await sql.one(`SELECT count(*) AS n FROM data.routes WHERE _tw_new_f${fid} IS NOT NULL AND id IN (43, 45, 46, 47)`)).n) < 4; i++) {
        if (i > 4000) throw new Error('the sweep never moved rows 43, 45 to 47 aside');
        await new Promise((r) => setTimeout(r, 5));
      }
      // a write of the field over a value moved aside is the field's value from now on: a
      // cancel does not put the old one back over it (45: 46 -> 5; 46: 47 -> 7 -> empty)
      expect((await app.request('PATCH', `/tables/${t.id}/rows/45`, { json: { hub: 5 } })).status).to.equal(200);
      expect((await app.request('PATCH', `/tables/${t.id}/rows/46`, { json: { hub: 7 } })).status).to.equal(200);
      expect((await app.request('PATCH', `/tables/${t.id}/rows/46`, { json: { hub: null } })).status).to.equal(200);
      // a row deleted while its value is moved aside keeps it in the row trash
      expect((await app.request('DELETE', `/tables/${t.id}/rows/47`)).status).to.be.within(200, 204);
      const trashed = (await app.request('GET', `/tables/${t.id}/rows/trash`)).body.rows.find((r: { id: number }) => r.id === 47);
      expect(String(trashed.values.hub), 'the row trash shows the number it had').to.equal('48');
      // one deleted and restored while the change runs comes back as the others are: its value aside, the field empty
      expect((await app.request('DELETE', `/tables/${t.id}/rows/43`)).status).to.be.within(200, 204);
      const back = await app.request('POST', `/tables/${t.id}/rows/43/restore`);
      expect(back.status, back.text).to.be.within(200, 201);
      expect(await sql.one(`SELECT hub, _tw_new_f${fid}::text AS kept FROM data.routes WHERE id = 43`)).to.deep.equal({ hub: null, kept: '44' });
      // one emptied by a delete meanwhile (ON DELETE SET NULL of the new foreign key)
      await sql.exec(`DELETE FROM data.hubs WHERE id = 12`);
      const cancel = await app.request('POST', `/jobs/${job}/cancel`);
      expect(cancel.status, cancel.text).to.be.within(200, 299);
    } finally {
      await holder.exec('ROLLBACK');
      await holder.end();
    }
    const done = await waitForJob(app, job, 60_000);
    expect([done.status, done.error?.code]).to.deep.equal(['failed', 'cancelled']);
    // every value as it was, but for the writes made meanwhile
    const restored = await app.request('POST', `/tables/${t.id}/rows/47/restore`);
    expect(restored.status, restored.text).to.be.within(200, 201);
    expect((await sql.rows(`SELECT id, hub::text FROM data.routes WHERE id IN (1, 43, 45, 46, 47) ORDER BY id`)).map((r) => [r.id, r.hub])).to.deep.equal([...expected.entries()].sort((a, b) => a[0] - b[0]));
    await sql.exec(`UPDATE data.routes SET hub = 46 WHERE id = 45; UPDATE data.routes SET hub = 47 WHERE id = 46`);
    expect(await sql.one(`SELECT sum(hub)::text AS s, count(hub)::int AS n, md5(string_agg(coalesce(hub::text, '-'), ',' ORDER BY id)) AS h FROM data.routes`), 'every other value as it was').to.deep.equal(original);
    expect(await onlineObjects('data.routes', fid), 'nothing of the change is left').to.deep.equal({ kept_column: 0, triggers: 0, fk: 0, ix: 0, fn: 0 });
    expect((await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body.type).to.equal('number');
    // a number again: any value goes
    expect((await app.request('POST', `/tables/${t.id}/rows`, { json: { hub: 999 } })).status).to.equal(201);
    await expectClean(app);
  });

  for (const confirm of [false, true]) {
    it(`a value of no row written after the loss report and before the trigger is found: ${confirm ? 'with confirm_loss, the sweep moves it aside and it is kept' : 'without confirm_loss, by the validation: the change is refused (422, found_at validate) and rolled back, the value intact'}`, async () => {
      const target = await createTable(app, `Yards ${confirm}`, [{ name: 'Name', type: 'text' }]);
      const yards = `data.${target.table_name}`;
      await sql.exec(`INSERT INTO ${yards} (name) SELECT 'y' || g FROM generate_series(1, 10) g`);
      const t = await createTable(app, `Crates ${confirm}`, [{ name: 'Yard', type: 'number', column: 'yard' }]);
      const crates = `data.${t.table_name}`;
      await sql.exec(`INSERT INTO ${crates} (yard) SELECT 1 + g % 10 FROM generate_series(1, 100000) g`);
      const fid = t.fields[0]!.id;
      const body = { type: 'link', options: { table_id: target.id }, ...(confirm ? { confirm_loss: 1 } : {}) };
      // A write to the linked table keeps the first brief step (its foreign key locks that
      // table) trying again, after the loss report: the window a write can come in.
      const blocker = await Sql.connect(db.url);
      let job: any;
      try {
        await blocker.exec('BEGIN');
        await blocker.exec(`UPDATE ${yards} SET name = name WHERE id = 1`);
        const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { ...body, online: 1 } });
        expect(res.status, res.text).to.equal(202);
        job = res.body.id;
        for (let i = 0; !(await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE status = 'running' AND payload ? 'target'`)).length; i++) {
          if (i > 4000) throw new Error('the loss report never came');
          await new Promise((r) => setTimeout(r, 5));
        }
        await sql.exec(`UPDATE ${crates} SET yard = 777 WHERE id = 100000`);
        expect((await sql.rows(`SELECT 1 FROM pg_trigger WHERE tgname = $1`, [`tw_sync_f${fid}`])).length, 'written before the trigger').to.equal(0);
      } finally {
        await blocker.exec('ROLLBACK');
        await blocker.end();
      }
      const done = await waitForJob(app, job, 60_000);
      const row = await sql.one(`SELECT yard::text FROM ${crates} WHERE id = 100000`);
      if (!confirm) {
        expect([done.status, done.error?.code], JSON.stringify(done.error)).to.deep.equal(['failed', 'lossy_conversion']);
        expect(done.error.details?.found_at, JSON.stringify(done.error)).to.equal('validate');
        expect(done.error.details.examples).to.deep.equal([{ id: 100000, value: '777' }]);
        expect(row.yard).to.equal('777');
        expect((await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body.type).to.equal('number');
        expect(await onlineObjects(crates, fid)).to.deep.equal({ kept_column: 0, triggers: 0, fk: 0, ix: 0, fn: 0 });
      } else {
        expect(done.status, JSON.stringify(done.error)).to.equal('done');
        expect(row.yard).to.equal(null);
        const kept = (await sql.one(`SELECT trash_name FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change'`, [t.id])).trash_name;
        expect((await sql.one(`SELECT ${kept}::text AS v FROM ${crates} WHERE id = 100000`)).v).to.equal('777');
      }
      await expectClean(app);
    });
  }
});
