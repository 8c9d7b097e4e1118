// A restore simulated in place, so that it runs on every server: the metadata keeps the
// oids and attnums of another database, and they name other tables now (after a restore
// into a fresh cluster, table A's old oid may be table B's). Reconcile must not trust
// them: one "this database was restored" item, one safe action, no bogus drift; a
// schema change on a table it can recognise by its comment goes ahead, one it cannot
// answers 409 (never 500).
import { expect } from 'chai';
import { parseColumnComment } from '../../server/schema/comments.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { act, createTable, QUIET, report } from '../introspect/lib.js';
import { expectRestoredReport, expectWorking, makeDataSet, type DataSet } from './lib.js';

describe('after a restore: identities are confirmed, never taken from an oid alone', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let set: DataSet;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, QUIET);
    sql = await Sql.connect(db.url);
    set = await makeDataSet(app, sql);
    // What a restore into a fresh cluster does to the numbers: the two live tables hold
    // each other's oids, the trashed one a live table's, every attnum is off by one, and
    // the database is another one.
    const oid = async (rel: string) => (await sql.one(`SELECT $1::regclass::oid::int8 AS o`, [rel])).o;
    const zebra = await oid('data.zebra');
    const apple = await oid('data.apple');
    await sql.exec(`UPDATE tablewright.tables SET table_oid = CASE id WHEN $1 THEN $3::oid WHEN $2 THEN $4::oid ELSE $3::oid END WHERE id IN ($1, $2, $5)`, [
      set.zebra.id, set.apple.id, apple, zebra, set.old.id,
    ]);
    await sql.exec(`UPDATE tablewright.fields SET attnum = attnum + 1`);
    await sql.exec(`UPDATE tablewright.database_identity SET identity = '1/1'`);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('the report says "this database was restored: 3 tables to re-identify" with only the reidentify action, and nothing else', async () => {
    await expectRestoredReport(app, 3);
  });

  it('a schema change on a table whose comment names it refreshes its identity and goes ahead; without that comment it answers 409 pointing at the drift report', async () => {
    const added = await app.request('POST', `/tables/${set.zebra.id}/fields`, { json: { name: 'Early', type: 'text' } });
    expect(added.status, added.text).to.equal(201);
    expect((await sql.one(`SELECT table_oid::int8 AS o FROM tablewright.tables WHERE id = $1`, [set.zebra.id])).o).to.equal(
      (await sql.one(`SELECT 'data.zebra'::regclass::oid::int8 AS o`)).o,
    );
    const comment = (await sql.one(`SELECT obj_description('data.apple'::regclass, 'pg_class') AS c`)).c;
    await sql.exec(`COMMENT ON TABLE data.apple IS NULL`);
    try {
      const refused = await app.request('POST', `/tables/${set.apple.id}/fields`, { json: { name: 'Early', type: 'text' } });
      expect(refused.status, refused.text).to.equal(409);
      expect(refused.body.error.code).to.equal('schema_drift');
      expect(refused.body.error.message).to.match(/drift report/);
      const renamed = await app.request('PATCH', `/tables/${set.apple.id}/fields/${set.apple.status}`, { json: { name: 'State' } });
      expect(renamed.status, renamed.text).to.equal(409);
    } finally {
      await sql.exec(`SELECT set_config('tw.c', $1, false)`, [comment]);
      await sql.exec(`DO $$ BEGIN EXECUTE format('COMMENT ON TABLE data.apple IS %L', current_setting('tw.c')); END $$`);
    }
    await expectRestoredReport(app, 2);
  });

  it('"reidentify" records every identity in one transaction: the report is clean, rows intact, and every table (the trashed one too) can be changed again', async () => {
    await expectWorking(app, set);
    const r = await report(app);
    expect(r.clean).to.equal(true);
    const audit = await sql.one(`SELECT operation, details FROM tablewright.audit WHERE operation = 'reidentify_database'`);
    expect(audit.details.tables.map((t: { id: number }) => t.id).sort()).to.deep.equal([set.apple.id, set.old.id].sort());
  });
});

describe('identity under a DBA\'s hand: copies and misleading comments', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, QUIET);
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('a copy made WITH its comments (LIKE ... INCLUDING ALL) is an untracked table, never mistaken for the original; adopted, it gets comments of its own', async () => {
    const t = await createTable(app, 'People', [{ name: 'Name', type: 'text' }, { name: 'Level', type: 'single_select', options: { choices: [{ label: 'Low' }, { label: 'High' }] } }]);
    await sql.exec(`CREATE TABLE data.people_copy (LIKE data.people INCLUDING ALL)`);
    // and its table comment too, by hand: now two relations claim to be "People"
    await sql.exec(`COMMENT ON TABLE data.people_copy IS 'People (tablewright table ${t.id})'`);
    const r = await report(app);
    expect(r.items.map((i) => i.id)).to.deep.equal(['untracked_table:data:people_copy']);
    const adopted = (await act(app, 'untracked_table:data:people_copy', 'adopt')).result;
    const level = (await app.request('GET', `/tables/${adopted.id}`)).body.fields.find((f: { column: string }) => f.column === 'level');
    expect(level).to.include({ type: 'single_select', read_only: false });
    const comments = await sql.rows(`SELECT col_description('data.people_copy'::regclass, attnum) AS c FROM pg_attribute WHERE attrelid = 'data.people_copy'::regclass AND attnum > 1 AND NOT attisdropped ORDER BY attnum`);
    for (const c of comments) expect(c.c).to.match(new RegExp(`of table ${adopted.id}\\)`));
    expect((await report(app)).items).to.deep.equal([]);
  });

  it('a comment that names another table is not believed: the table is missing, and "recreate" answers 409 (not 500) instead of clobbering it', async () => {
    const a = await createTable(app, 'Alpha', [{ name: 'Name', type: 'text' }]);
    const b = await createTable(app, 'Beta', [{ name: 'Name', type: 'text' }]);
    await sql.exec(`COMMENT ON TABLE data.alpha IS 'Beta (tablewright table ${b.id})'`);
    const r = await report(app);
    const ids = r.items.map((i) => i.id).sort();
    expect(ids).to.deep.equal([`missing_table:t${a.id}`, 'untracked_table:data:alpha'].sort());
    const res = await app.request('POST', '/reconcile/actions', { json: { item: `missing_table:t${a.id}`, action: 'recreate' } });
    expect(res.status, res.text).to.equal(409);
    // a schema change on it answers 409 pointing at the drift report
    const change = await app.request('POST', `/tables/${a.id}/fields`, { json: { name: 'More', type: 'text' } });
    expect(change.status, change.text).to.equal(409);
    expect(change.body.error.message).to.match(/drift report/);
    await sql.exec(`COMMENT ON TABLE data.alpha IS 'Alpha (tablewright table ${a.id})'`);
    expect((await report(app)).items).to.deep.equal([]);
  });
});

describe('comments made by an older version are brought to the current format at start', function () {
  this.timeout(60_000);
  it('a restart rewrites "Name (tablewright field N of table M)" with the field type and options, leaving a DBA\'s own comment alone', async () => {
    const db = await freshDatabase();
    const sql = await Sql.connect(db.url);
    let app = await startApp(db.url, QUIET, 'before');
    try {
      const t = await createTable(app, 'Tasks', [
        { name: 'State', type: 'single_select', options: { choices: [{ label: 'Todo' }, { label: 'Done' }] } },
        { name: 'Note', type: 'text' },
      ]);
      await app.stop();
      const [state, note] = t.fields;
      await sql.exec(`COMMENT ON COLUMN data.tasks.state IS 'State (tablewright field ${state!.id} of table ${t.id})'`);
      await sql.exec(`COMMENT ON COLUMN data.tasks.note IS 'what the DBA wrote'`);
      app = await startApp(db.url, QUIET, 'after');
      const comment = async (col: string) => (await sql.one(`SELECT col_description('data.tasks'::regclass, attnum) AS c FROM pg_attribute WHERE attrelid = 'data.tasks'::regclass AND attname = $1`, [col])).c as string;
      for (let i = 0; i < 50 && !(await comment('state')).includes('"type"'); i++) await new Promise((r) => setTimeout(r, 100));
      const full = parseColumnComment(await comment('state'));
      expect(full).to.deep.include({ name: 'State', fieldId: state!.id, tableId: t.id });
      expect(full!.meta.type).to.equal('single_select');
      expect((full!.meta.options as { choices: Array<{ id: number; label: string }> }).choices.map((c) => [c.id, c.label])).to.deep.equal([[1, 'Todo'], [2, 'Done']]);
      expect(await comment('note')).to.equal('what the DBA wrote');
      expect(note).to.be.an('object');
    } finally {
      await app.stop();
      await sql.end();
      await db.drop();
    }
  });
});
