// Online schema changes, end to end over HTTP: the plan a dry run answers, the online path
// of each operation (UNIQUE, index, NOT NULL, type change) with what it leaves behind,
// refusals that roll back with nothing left, and the guard against a second change of the
// same table while one is in flight.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';
import { createTable, expectClean, QUIET } from '../introspect/lib.js';

describe('online schema changes', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { ...QUIET, JOB_POLL_MS: '50' });
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  /** Our objects on a table that only an online change in flight has: none may be left. */
  const leftovers = async (table: string) =>
    sql.rows(
      `SELECT 'index ' || c.relname AS what FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass AND (NOT i.indisvalid OR c.relname ~ '_new_')
       UNION ALL SELECT 'constraint ' || conname FROM pg_constraint WHERE conrelid = $1::regclass AND (NOT convalidated OR conname ~ '^nn_|_new_')
       UNION ALL SELECT 'column ' || attname FROM pg_attribute WHERE attrelid = $1::regclass AND attname ~ '^_tw_new_' AND NOT attisdropped
       UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname ~ '^tw_sync_'`,
      [`data.${table}`],
    );

  async function patchOnline(t: { id: number }, fid: number, body: Record<string, unknown>) {
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { ...body, online: 1 } });
    expect(res.status, res.text).to.equal(202);
    expect(res.headers.get('location')).to.equal(`/jobs/${res.body.id}`);
    return waitForJob(app, res.body.id);
  }

  it('dry_run=1 answers the plan: the blocking statement on a small table, the online steps with online=1; nothing changes', async () => {
    const t = await createTable(app, 'Planned', [{ name: 'Code', type: 'text' }, { name: 'Qty', type: 'number' }]);
    const code = t.fields[0]!.id;
    const qty = t.fields[1]!.id;
    await sql.exec(`INSERT INTO data.planned (code, qty) SELECT 'c' || g, g FROM generate_series(1, 1000) g`);
    await sql.exec('ANALYZE data.planned');
    const before = await sql.snapshot();

    const blocking = await app.request('PATCH', `/tables/${t.id}/fields/${code}`, { json: { unique: true, dry_run: 1 } });
    expect(blocking.status, blocking.text).to.equal(200);
    expect(blocking.body.plan.online).to.equal(false);
    expect(blocking.body.plan.steps).to.have.length(1);
    expect(blocking.body.plan.steps[0]).to.include({ lock: 'ACCESS EXCLUSIVE', class: 'scan', blocks: 'reads and writes' });
    expect(blocking.body.plan.steps[0].sql).to.match(/ADD CONSTRAINT "uq_f\d+" UNIQUE \("code"\)/);
    expect(blocking.body.plan.table.rows).to.equal(1000);
    expect(blocking.body.plan.estimate_ms).to.be.a('number').and.be.greaterThan(0);
    expect(blocking.body.plan.summary).to.match(/blocks reads and writes/);

    const online = await app.request('PATCH', `/tables/${t.id}/fields/${code}?dry_run=1&online=1`, { json: { unique: true } });
    expect(online.body.plan.online).to.equal(true);
    expect(online.body.plan.steps.map((s: any) => [s.class, s.lock, s.blocks])).to.deep.equal([
      ['scan', 'SHARE UPDATE EXCLUSIVE', 'nothing'],
      ['brief', 'ACCESS EXCLUSIVE', 'reads and writes'],
    ]);
    expect(online.body.plan.steps[0].sql).to.match(/^CREATE UNIQUE INDEX CONCURRENTLY/);
    expect(online.body.plan.summary).to.match(/the table keeps serving/);

    const nn = await app.request('PATCH', `/tables/${t.id}/fields/${qty}`, { json: { not_null: true, dry_run: 1, online: 1 } });
    expect(nn.body.plan.steps.map((s: any) => s.class)).to.deep.equal(['brief', 'scan', 'brief', 'brief']);
    expect(nn.body.plan.steps[1].sql).to.match(/VALIDATE CONSTRAINT/);

    // a type change: the loss report and its plan side by side
    const retype = await app.request('PATCH', `/tables/${t.id}/fields/${qty}`, { json: { type: 'text', dry_run: 1, online: 0 } });
    expect(retype.body).to.include({ dry_run: true, rows: 1000, lost: 0 });
    expect(retype.body.plan.steps[0]).to.include({ class: 'rewrite', lock: 'ACCESS EXCLUSIVE' });
    const shadow = await app.request('PATCH', `/tables/${t.id}/fields/${qty}`, { json: { type: 'text', dry_run: 1, online: 1 } });
    expect(shadow.body.plan.steps.map((s: any) => s.class)).to.include('rewrite');
    expect(shadow.body.plan.steps.filter((s: any) => s.class === 'rewrite').every((s: any) => s.blocks === 'nothing')).to.equal(true);

    // the console's plan beside Save: an htmx fragment with the class and the estimate
    const fragment = await app.request('PATCH', `/tables/${t.id}/fields/${qty}?dry_run=1&plan_only=1`, {
      form: { type: 'text', online: '1' },
      headers: { 'HX-Request': 'true', Accept: 'text/html' },
    });
    expect(fragment.status, fragment.text).to.equal(200);
    expect(fragment.text).to.match(/class="plan-class plan-rewrite">rewrite</);
    expect(fragment.text).to.match(/the table keeps serving \(online\)/);
    const page = await app.request('GET', `/tables/${t.id}?tab=fields`, { headers: { Accept: 'text/html' } });
    expect(page.text).to.include(`hx-patch="/tables/${t.id}/fields/${qty}?dry_run=1&plan_only=1"`);

    const add = await app.request('POST', `/tables/${t.id}/fields`, { json: { name: 'Extra', type: 'text', unique: true, dry_run: 1 } });
    expect(add.status, add.text).to.equal(200);
    expect(add.body.plan.steps.every((s: any) => s.class === 'brief')).to.equal(true);
    expect(await sql.snapshot(), 'a dry run changes nothing').to.deep.equal(before);
  });

  it('UNIQUE online: built concurrently, attached as the constraint; duplicates refuse it with the report, nothing left', async () => {
    const t = await createTable(app, 'Members', [{ name: 'Email', type: 'text', indexed: true }]);
    const email = t.fields[0]!.id;
    await sql.exec(`INSERT INTO data.members (email) SELECT 'm' || g || '@x' FROM generate_series(1, 3000) g`);
    const job = await patchOnline(t, email, { unique: true });
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(await sql.one(`SELECT is_unique, indexed FROM tablewright.fields WHERE id = $1`, [email])).to.deep.equal({ is_unique: true, indexed: true });
    const cons = await sql.rows(`SELECT conname, contype FROM pg_constraint WHERE conrelid = 'data.members'::regclass AND contype = 'u'`);
    expect(cons).to.deep.equal([{ conname: `uq_f${email}`, contype: 'u' }]);
    // one btree serves both (its own ix_f index went)
    expect(await sql.rows(`SELECT indexrelid::regclass::text AS ix FROM pg_index WHERE indrelid = 'data.members'::regclass AND NOT indisprimary`)).to.deep.equal([{ ix: `data.uq_f${email}` }]);
    const audit = await sql.rows(`SELECT operation, ddl FROM tablewright.audit WHERE field_id = $1 AND operation LIKE 'online_%' ORDER BY id`, [email]);
    expect(audit.map((a) => a.operation)).to.deep.equal(['online_set_unique:build_index', 'online_set_unique:attach']);
    expect(audit[0].ddl).to.match(/CREATE UNIQUE INDEX CONCURRENTLY/);
    expect(audit[1].ddl).to.match(/UNIQUE USING INDEX/);
    await expectClean(app);

    const dup = await createTable(app, 'Dups', [{ name: 'Code', type: 'text' }]);
    await sql.exec(`INSERT INTO data.dups (code) SELECT 'c' || (g % 100) FROM generate_series(1, 500) g`);
    const failed = await patchOnline(dup, dup.fields[0]!.id, { unique: true });
    expect(failed.status).to.equal('failed');
    expect(failed.error.code).to.equal('has_duplicates');
    expect(failed.error.details).to.include({ duplicate_values: 100, rows: 500 });
    expect(await leftovers('dups')).to.deep.equal([]);
    expect(await sql.rows(`SELECT 1 FROM pg_index WHERE indrelid = 'data.dups'::regclass AND NOT indisprimary`)).to.deep.equal([]);
    expect((await sql.one(`SELECT status FROM tablewright.online_changes WHERE table_id = $1`, [dup.id])).status).to.equal('rolled_back');
  });

  it('an index online; an invalid index left by a crashed build is dropped and built again', async () => {
    const t = await createTable(app, 'Events', [{ name: 'Kind', type: 'text' }]);
    const kind = t.fields[0]!.id;
    await sql.exec(`INSERT INTO data.events (kind) SELECT 'k' || (g % 7) FROM generate_series(1, 2000) g`);
    // What a CREATE INDEX CONCURRENTLY that did not finish leaves: the index, marked invalid
    // (here a unique build that met duplicates; a killed build leaves the same).
    await sql.exec(`CREATE UNIQUE INDEX CONCURRENTLY ix_f${kind} ON data.events (kind)`).catch(() => undefined);
    expect(await sql.rows(`SELECT indisvalid, indisunique FROM pg_index WHERE indexrelid = 'data.ix_f${kind}'::regclass`)).to.deep.equal([{ indisvalid: false, indisunique: true }]);
    const job = await patchOnline(t, kind, { indexed: true });
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(await sql.rows(`SELECT indisvalid, indisunique FROM pg_index WHERE indexrelid = 'data.ix_f${kind}'::regclass`)).to.deep.equal([{ indisvalid: true, indisunique: false }]);
    expect((await sql.one(`SELECT indexed FROM tablewright.fields WHERE id = $1`, [kind])).indexed).to.equal(true);
    expect(await leftovers('events')).to.deep.equal([]);
    await expectClean(app);
  });

  it("the console's field form (every input sent, name, column and default as they are) ticking Indexed goes online; with a new name it is one transaction", async () => {
    const t = await createTable(app, 'Visits', [{ name: 'Page', type: 'text', column: 'page', default: 'home' }, { name: 'Ref', type: 'text', column: 'ref' }]);
    const [page, ref] = [t.fields[0]!.id, t.fields[1]!.id];
    await sql.exec(`INSERT INTO data.visits (page, ref) SELECT 'p' || g, 'r' || g FROM generate_series(1, 500) g`);
    const form = (name: string, column: string, dflt: string) => ({ name, column, type: '', default: dflt, not_null: '0', unique: '0', indexed: '1', online: '1' });
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${page}`, { json: form('Page', 'page', 'home') });
    expect(res.status, res.text).to.equal(202);
    expect((await waitForJob(app, res.body.id)).status).to.equal('done');
    expect(await sql.one(`SELECT indexed FROM tablewright.fields WHERE id = $1`, [page])).to.deep.equal({ indexed: true });
    // a rename with it: not one online change, so the single transaction (200)
    const both = await app.request('PATCH', `/tables/${t.id}/fields/${ref}`, { json: form('Referrer', 'ref', '') });
    expect(both.status, both.text).to.equal(200);
    expect(both.body.indexed).to.equal(true);
    await expectClean(app);
  });

  it('NOT NULL online: CHECK NOT VALID, VALIDATE, SET NOT NULL, the CHECK dropped; empty values refuse it, nothing left', async () => {
    const t = await createTable(app, 'Orders', [{ name: 'Ref', type: 'text' }, { name: 'Note', type: 'text' }]);
    const ref = t.fields[0]!.id;
    const note = t.fields[1]!.id;
    await sql.exec(`INSERT INTO data.orders (ref, note) SELECT 'r' || g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'n' END FROM generate_series(1, 2000) g`);
    const ok = await patchOnline(t, ref, { not_null: true });
    expect(ok.status, JSON.stringify(ok.error)).to.equal('done');
    expect(await sql.one(`SELECT attnotnull FROM pg_attribute WHERE attrelid = 'data.orders'::regclass AND attname = 'ref'`)).to.deep.equal({ attnotnull: true });
    expect((await sql.one(`SELECT not_null FROM tablewright.fields WHERE id = $1`, [ref])).not_null).to.equal(true);
    const ops = (await sql.rows(`SELECT operation FROM tablewright.audit WHERE field_id = $1 AND operation LIKE 'online_%' ORDER BY id`, [ref])).map((r) => r.operation);
    expect(ops).to.deep.equal(['online_set_not_null:add_check', 'online_set_not_null:validate', 'online_set_not_null:set_not_null']);

    const refused = await patchOnline(t, note, { not_null: true });
    expect(refused.status).to.equal('failed');
    expect(refused.error.code).to.equal('has_empty_values');
    expect(refused.error.details.count).to.equal(200);
    expect(await leftovers('orders')).to.deep.equal([]);
    expect((await sql.one(`SELECT not_null FROM tablewright.fields WHERE id = $1`, [note])).not_null).to.equal(false);
    await expectClean(app);
  });

  it('number -> text online: a shadow column, backfilled and swapped; the old column is the trashed copy, restorable', async () => {
    const t = await createTable(app, 'Prices', [{ name: 'Amount', type: 'number', options: { decimals: 2 } }]);
    const amount = t.fields[0]!.id;
    await sql.exec(`INSERT INTO data.prices (amount) SELECT (g * 1.25)::numeric(20,2) FROM generate_series(1, 12000) g`);
    await sql.exec(`INSERT INTO data.prices (amount) VALUES (NULL), (12345678901234567.89)`);
    const job = await patchOnline(t, amount, { type: 'text' });
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    const col = await sql.one(`SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'data.prices'::regclass AND attname = 'amount'`);
    expect(col.type).to.equal('text');
    expect(await sql.one(`SELECT count(*)::int AS n, count(amount)::int AS filled FROM data.prices`)).to.deep.equal({ n: 12002, filled: 12001 });
    expect((await sql.one(`SELECT amount FROM data.prices WHERE id = 12002`)).amount).to.equal('12345678901234567.89');
    expect((await sql.one(`SELECT amount FROM data.prices WHERE id = 4`)).amount).to.equal('5.00');
    const field = (await app.request('GET', `/tables/${t.id}/fields/${amount}`)).body;
    expect(field.type).to.equal('text');
    const trashed = (await app.request('GET', `/tables/${t.id}/fields?trashed=1`)).body.fields;
    expect(trashed).to.have.length(1);
    expect(trashed[0].type).to.equal('number');
    expect(await leftovers('prices')).to.deep.equal([]);
    // the API serves the new field
    const rows = (await app.request('GET', `/tables/${t.id}/rows?size=2&sort=id`)).body.rows;
    expect(rows[0].amount).to.equal('1.25');
    await expectClean(app);
  });

  it('text -> number online with values that do not convert: refused without confirm_loss; with it, they are empty and kept in the old column', async () => {
    const t = await createTable(app, 'Readings', [{ name: 'Value', type: 'text' }]);
    const value = t.fields[0]!.id;
    await sql.exec(`INSERT INTO data.readings (value) SELECT CASE WHEN g % 100 = 0 THEN 'n/a ' || g ELSE g::text END FROM generate_series(1, 6000) g`);
    const refused = await patchOnline(t, value, { type: 'number' });
    expect(refused.status).to.equal('failed');
    expect(refused.error.code).to.equal('lossy_conversion');
    expect(refused.error.details.lost).to.equal(60);
    expect(await leftovers('readings')).to.deep.equal([]);

    const job = await patchOnline(t, value, { type: 'number', confirm_loss: 1 });
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(await sql.one(`SELECT count(value)::int AS filled FROM data.readings`)).to.deep.equal({ filled: 5940 });
    const kept = await sql.one(`SELECT trash_name FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change'`, [t.id]);
    expect((await sql.one(`SELECT ${kept.trash_name} AS old FROM data.readings WHERE id = 100`)).old).to.equal('n/a 100');
    await expectClean(app);
  });

  it('reconcile reports what an online change in flight left (a shadow column) as in flight, not as drift', async () => {
    const t = await createTable(app, 'Flying', [{ name: 'A', type: 'number' }]);
    const a = t.fields[0]!.id as number;
    await sql.exec(`INSERT INTO tablewright.online_changes (table_id, field_id, kind, created_by, step, objects) VALUES ($1, $2, 'change_type', 'test', 'backfill', $3)`, [
      t.id,
      a,
      JSON.stringify({ column: `_tw_new_f${a}` }),
    ]);
    try {
      await sql.exec(`ALTER TABLE data.flying ADD COLUMN _tw_new_f${a} text`);
      const res = await app.request('GET', '/reconcile');
      expect(res.status, res.text).to.equal(200);
      expect(res.body.items, JSON.stringify(res.body.items)).to.deep.equal([]);
      expect(res.body.in_flight).to.have.length(1);
      expect(res.body.in_flight[0]).to.include({ kind: 'change_type', table_id: t.id, field_id: a, step: 'backfill' });
      expect(res.body.in_flight[0].set_aside, 'the shadow column would have been drift').to.have.length(1);
    } finally {
      await sql.exec(`UPDATE tablewright.online_changes SET status = 'rolled_back' WHERE table_id = $1`, [t.id]);
      await sql.exec(`ALTER TABLE data.flying DROP COLUMN IF EXISTS _tw_new_f${a}`);
    }
    const after = await app.request('GET', '/reconcile');
    expect(after.body.in_flight).to.deep.equal([]);
  });

  it('while an online change is in flight, any other change of that table is refused with 409 change_in_flight', async () => {
    const t = await createTable(app, 'Guarded', [{ name: 'A', type: 'text' }]);
    const a = t.fields[0]!.id as number;
    await sql.exec(`INSERT INTO tablewright.online_changes (table_id, field_id, kind, created_by, step) VALUES ($1, $2, 'create_index', 'test', 'build_index')`, [t.id, a]);
    try {
      const add = await app.request('POST', `/tables/${t.id}/fields`, { json: { name: 'B', type: 'text' } });
      expect(add.status, add.text).to.equal(409);
      expect(add.body.error.code).to.equal('change_in_flight');
      const online = await app.request('PATCH', `/tables/${t.id}/fields/${a}`, { json: { unique: true, online: 1 } });
      expect(online.status, online.text).to.equal(409);
      expect(online.body.error.code).to.equal('change_in_flight');
    } finally {
      await sql.exec(`UPDATE tablewright.online_changes SET status = 'rolled_back' WHERE table_id = $1`, [t.id]);
    }
    expect((await app.request('POST', `/tables/${t.id}/fields`, { json: { name: 'B', type: 'text' } })).status).to.equal(201);
  });
});
