// Formulas using today(): PostgreSQL takes no such expression in a stored generated column,
// so the formula has no column and the listing query computes it. Proves: the values are
// today's (compared with PostgreSQL's current_date in UTC), filters and sorts work on them,
// the table gets no column, renaming a field it uses keeps it working, trashing one makes
// it read empty and reconcile report it (restore repairs), its expression can change; a
// stored formula cannot take today() (409 naming options.expression); purging a field that
// any formula uses is refused with a 409 naming the formula.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('formulas computed at read time (today())', function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tid: number;
  const F: Record<string, any> = {};
  const iso = (d: Date) => d.toISOString().slice(0, 10);

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    const res = await app.request('POST', '/tables', {
      json: { name: 'Tasks', table_name: 'tasks', fields: [{ name: 'Title', type: 'text', column: 'title' }, { name: 'Due', type: 'date', column: 'due' }, { name: 'Done', type: 'datetime', column: 'done' }] },
    });
    expect(res.status, res.text).to.equal(201);
    tid = res.body.id;
    for (const f of res.body.fields) F[f.name] = f;
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const list = async (q = '') => {
    const res = await app.request('GET', `/tables/${tid}/rows?${q}`);
    expect(res.status, res.text).to.equal(200);
    return res.body.rows as any[];
  };

  it('date_diff(today(), {Due}) is computed when rows are read: no column, values by today, filters and sorts', async () => {
    const res = await app.request('POST', `/tables/${tid}/fields`, { json: { name: 'Days left', type: 'formula', options: { expression: 'date_diff(today(), {Due})' } } });
    expect(res.status, res.text).to.equal(201);
    F.left = res.body.field ?? res.body;
    expect(F.left.options.stored).to.equal(false);
    const overdue = await app.request('POST', `/tables/${tid}/fields`, { json: { name: 'Overdue', type: 'formula', options: { expression: "if({Due} < today(), 'late', 'ok')" } } });
    expect(overdue.status, overdue.text).to.equal(201);
    const cols = await sql.rows(`SELECT attname FROM pg_attribute WHERE attrelid = 'data.tasks'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`);
    expect(cols.map((c) => c.attname)).to.deep.equal(['id', 'title', 'due', 'done']);
    const today = (await sql.one(`SELECT (now() AT TIME ZONE 'UTC')::date::text AS d`)).d as string;
    const base = new Date(`${today}T00:00:00Z`);
    const offsets = [-3, 0, 10, null];
    const made = await app.request('POST', `/tables/${tid}/rows`, {
      json: offsets.map((o, i) => ({ title: `t${i}`, due: o === null ? null : iso(new Date(base.getTime() + o * 86_400_000)) })),
    });
    expect(made.status, made.text).to.equal(201);
    const rows = await list('sort=id');
    expect(rows.map((r) => r.days_left)).to.deep.equal([-3, 0, 10, null]);
    // if(empty, a, b) is b (the language's rule)
    expect(rows.map((r) => r.overdue)).to.deep.equal(['late', 'ok', 'ok', 'ok']);
    expect((await list('filter[days_left][lt]=0')).map((r) => r.title)).to.deep.equal(['t0']);
    expect((await list('filter[overdue][eq]=ok&sort=id')).map((r) => r.title)).to.deep.equal(['t1', 't2', 't3']);
    expect((await list('sort=-days_left&filter[days_left][not_empty]=1')).map((r) => r.title)).to.deep.equal(['t2', 't1', 't0']);
    const write = await app.request('PATCH', `/tables/${tid}/rows/${rows[0].id}`, { json: { days_left: 3 } });
    expect(write.status).to.equal(422);
    const csv = await app.request('GET', `/tables/${tid}/rows.csv`, { headers: { accept: 'text/csv' } });
    expect(csv.status).to.equal(200);
    expect(csv.text.split('\n')[0]).to.include('days_left');
    expect(csv.text).to.match(/,-3,late/);
  });

  it('renaming a field it uses keeps it working; its expression can change (it has no column to rewrite)', async () => {
    const ren = await app.request('PATCH', `/tables/${tid}/fields/${F.Due.id}`, { json: { name: 'Due on', column: 'due_on' } });
    expect(ren.status, ren.text).to.equal(200);
    const f = await app.request('GET', `/tables/${tid}/fields/${F.left.id}`);
    expect((f.body.options ?? f.body.field.options).expression).to.equal('date_diff(today(), {Due on})');
    expect((await list('sort=id')).map((r) => r.days_left)).to.deep.equal([-3, 0, 10, null]);
    const ch = await app.request('PATCH', `/tables/${tid}/fields/${F.left.id}`, { json: { options: { expression: 'date_diff(today(), {Due on}) * 2' } } });
    expect(ch.status, ch.text).to.equal(200);
    expect((await list('sort=id')).map((r) => r.days_left)).to.deep.equal([-6, 0, 20, null]);
    const renSelf = await app.request('PATCH', `/tables/${tid}/fields/${F.left.id}`, { json: { name: 'Left' } });
    expect(renSelf.status, renSelf.text).to.equal(200);
  });

  it('a stored formula cannot take today(): 409 naming options.expression, nothing changes', async () => {
    const stored = await app.request('POST', `/tables/${tid}/fields`, { json: { name: 'Len', type: 'formula', options: { expression: 'len({Title})' } } });
    expect(stored.status, stored.text).to.equal(201);
    expect((stored.body.field ?? stored.body).options.stored).to.equal(true);
    F.len = stored.body.field ?? stored.body;
    const before = await sql.snapshot();
    const res = await app.request('PATCH', `/tables/${tid}/fields/${F.len.id}`, { json: { options: { expression: 'date_diff(today(), {Due on})' } } });
    expect(res.status, res.text).to.equal(409);
    expect(res.body.error.field).to.equal('options.expression');
    expect(await sql.snapshot()).to.deep.equal(before);
  });

  it('trashing a field it uses: it reads empty, reconcile reports it; purging that field is refused naming the formula; restore repairs', async () => {
    const del = await app.request('DELETE', `/tables/${tid}/fields/${F.Due.id}`);
    expect(del.status, del.text).to.equal(200);
    expect((await list('sort=id')).map((r) => r.days_left)).to.deep.equal([null, null, null, null]);
    const rec = await app.request('GET', '/reconcile');
    expect(rec.body.items.filter((i: any) => i.kind === 'broken_formula').map((i: any) => i.message).join('\n')).to.match(/"Left".*"Due on"/);
    const { trash_name } = await sql.one(`SELECT trash_name FROM tablewright.fields WHERE id = $1`, [F.Due.id]);
    const purge = await app.request('POST', `/trash/fields/${F.Due.id}/purge`, { json: { confirm: `data.tasks.${trash_name}` } });
    expect(purge.status, purge.text).to.equal(409);
    expect(purge.body.error.code).to.equal('used_by_formula');
    expect(purge.body.error.message).to.match(/"Left"/).and.match(/"Overdue"/);
    const back = await app.request('POST', `/tables/${tid}/fields/${F.Due.id}/restore`);
    expect(back.status, back.text).to.equal(200);
    expect((await list('sort=id')).map((r) => r.days_left)).to.deep.equal([-6, 0, 20, null]);
    expect((await app.request('GET', '/reconcile')).body.items.filter((i: any) => i.kind === 'broken_formula')).to.deep.equal([]);
  });

  it('purging a field a stored formula uses is refused too (PostgreSQL would drop the formula with it)', async () => {
    expect((await app.request('DELETE', `/tables/${tid}/fields/${F.Title.id}`)).status).to.equal(200);
    const { trash_name } = await sql.one(`SELECT trash_name FROM tablewright.fields WHERE id = $1`, [F.Title.id]);
    const purge = await app.request('POST', `/trash/fields/${F.Title.id}/purge`, { json: { confirm: `data.tasks.${trash_name}` } });
    expect(purge.status, purge.text).to.equal(409);
    expect(purge.body.error.message).to.match(/"Len"/);
    // once the formula is gone, the purge goes through
    expect((await app.request('DELETE', `/tables/${tid}/fields/${F.len.id}`)).status).to.equal(200);
    const { trash_name: lenTrash } = await sql.one(`SELECT trash_name FROM tablewright.fields WHERE id = $1`, [F.len.id]);
    const p1 = await app.request('POST', `/trash/fields/${F.len.id}/purge`, { json: { confirm: `data.tasks.${lenTrash}` } });
    expect(p1.status, p1.text).to.equal(200);
    const p2 = await app.request('POST', `/trash/fields/${F.Title.id}/purge`, { json: { confirm: `data.tasks.${trash_name}` } });
    expect(p2.status, p2.text).to.equal(200);
  });

  it('converting a formula to a plain type keeps its current values as a column (stored: DROP EXPRESSION; today(): filled with today\'s values)', async () => {
    const stored = await app.request('POST', `/tables/${tid}/fields`, { json: { name: 'Code', type: 'formula', options: { expression: "'T' & len('abc')" } } });
    expect(stored.status, stored.text).to.equal(201);
    const code = stored.body.field ?? stored.body;
    const before = (await list('sort=id')).map((r) => [r.id, r.days_left, r.code]);
    const toText = await app.request('PATCH', `/tables/${tid}/fields/${code.id}`, { json: { type: 'text' } });
    expect(toText.status, toText.text).to.equal(200);
    const toNumber = await app.request('PATCH', `/tables/${tid}/fields/${F.left.id}`, { json: { type: 'number' } });
    expect(toNumber.status, toNumber.text).to.equal(200);
    const after = (await list('sort=id')).map((r) => [r.id, r.days_left, r.code]);
    expect(after).to.deep.equal(before);
    const cols = await sql.rows(`SELECT attname, attgenerated FROM pg_attribute WHERE attrelid = 'data.tasks'::regclass AND attname IN ('code', 'days_left') ORDER BY attname`);
    expect(cols).to.deep.equal([{ attname: 'code', attgenerated: '' }, { attname: 'days_left', attgenerated: '' }]);
    expect((await sql.rows(`SELECT days_left::text AS v FROM data.tasks ORDER BY id`)).map((r) => r.v)).to.deep.equal(before.map((b) => (b[1] === null ? null : String(b[1]))));
    // now plain fields: writable
    const w = await app.request('PATCH', `/tables/${tid}/rows/${before[0]![0]}`, { json: { days_left: 99, code: 'x' } });
    expect(w.status, w.text).to.equal(200);
    const rec = await app.request('GET', '/reconcile');
    expect(rec.body.items.filter((i: any) => JSON.stringify(i).includes('days_left') || JSON.stringify(i).includes('"code"'))).to.deep.equal([]);
  });

  it('a field converts to a formula only with confirm_loss (its values are replaced), the old values kept in the trash', async () => {
    const note = await app.request('POST', `/tables/${tid}/fields`, { json: { name: 'Note', type: 'text', column: 'note' } });
    expect(note.status, note.text).to.equal(201);
    const nid = (note.body.field ?? note.body).id;
    await sql.exec(`UPDATE data.tasks SET note = 'n' || id WHERE id IN (SELECT id FROM data.tasks ORDER BY id LIMIT 2)`);
    const before = await sql.snapshot();
    const refused = await app.request('PATCH', `/tables/${tid}/fields/${nid}`, { json: { type: 'formula', options: { expression: "'computed'" } } });
    expect(refused.status, refused.text).to.equal(422);
    expect(refused.body.error.code).to.equal('lossy_conversion');
    expect(refused.body.error.details.lost).to.equal(2);
    expect(await sql.snapshot(), 'nothing changed').to.deep.equal(before);
    const ok = await app.request('PATCH', `/tables/${tid}/fields/${nid}`, { json: { type: 'formula', options: { expression: "'computed'" }, confirm_loss: true } });
    expect(ok.status, ok.text).to.equal(200);
    expect((await list('sort=id')).every((r) => r.note === 'computed')).to.equal(true);
    expect((await sql.one(`SELECT attgenerated FROM pg_attribute WHERE attrelid = 'data.tasks'::regclass AND attname = 'note'`)).attgenerated).to.equal('s');
    const trashed = (await app.request('GET', `/tables/${tid}/fields?trashed=1`)).body.fields.find((f: any) => /^Note \(before change to Formula/.test(f.name));
    expect(trashed, 'a trashed copy of the old values').to.not.equal(undefined);
    const { trash_name } = await sql.one(`SELECT trash_name FROM tablewright.fields WHERE id = $1`, [trashed.id]);
    expect((await sql.rows(`SELECT ${trash_name} AS v FROM data.tasks WHERE ${trash_name} IS NOT NULL ORDER BY id`)).map((r) => r.v)).to.have.length(2);
    const rec = await app.request('GET', '/reconcile');
    expect(rec.body.items.filter((i: any) => JSON.stringify(i).includes('"note"')).map((i: any) => i.message)).to.deep.equal([]);
  });

  it('a link or a system field does not convert to a formula (422 naming type)', async () => {
    const auto = await app.request('POST', `/tables/${tid}/fields`, { json: { name: 'No', type: 'autonumber' } });
    const res = await app.request('PATCH', `/tables/${tid}/fields/${(auto.body.field ?? auto.body).id}`, { json: { type: 'formula', options: { expression: '1' }, confirm_loss: true } });
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error.field).to.equal('type');
  });
});
