// Adopting a junction table a DBA made by hand in psql as a many-to-many link: reported
// as an untracked table with "adopt_link", adopted over its pairs (none copied), then read
// and written through the API as any link the console made. Also the junctions it refuses
// (a required column without a default) or asks about (no unique pair: add_unique=1).
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { act, createTable, expectClean, QUIET, report, type Item } from './lib.js';

describe('reconcile: a hand-made junction table adopted as a many-to-many link', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let students: { id: number; table_name: string };
  let courses: { id: number; table_name: string };
  const sid: Record<string, number> = {};
  const cid: Record<string, number> = {};

  const itemFor = async (table: string): Promise<Item> => {
    const r = await report(app);
    const item = r.items.find((i) => i.id === `untracked_table:data:${table}`);
    expect(item, JSON.stringify(r.items.map((i) => i.id))).to.exist;
    return item!;
  };
  const rows = async (tableId: number) => {
    const res = await app.request('GET', `/tables/${tableId}/rows?limit=100`);
    expect(res.status, res.text).to.equal(200);
    return res.body.rows as any[];
  };
  const constraints = async (table: string) =>
    sql.rows(`SELECT conname, contype, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype <> 'n' ORDER BY conname`, [`data.${table}`]);

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, QUIET);
    sql = await Sql.connect(db.url);
    students = await createTable(app, 'Students', [{ name: 'Name', type: 'text' }]);
    courses = await createTable(app, 'Courses', [{ name: 'Title', type: 'text' }]);
    for (const [t, names, ids] of [[students, ['Ann', 'Bob', 'Cy'], sid], [courses, ['Maths', 'Art'], cid]] as const) {
      const res = await app.request('POST', `/tables/${t.id}/rows`, { json: names.map((n) => (t === students ? { name: n } : { title: n })) });
      expect(res.status, res.text).to.equal(201);
      for (const r of res.body.rows) ids[r.name ?? r.title] = r.id;
    }
  });
  beforeEach(async () => {
    await expectClean(app, 'each test starts from a clean report');
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('a junction with its pair as primary key and plain foreign keys: adopted over its pairs, named ours, cascading, read and written by the API', async () => {
    await sql.exec(`CREATE TABLE data.enrolment (
      student bigint NOT NULL REFERENCES data.students (id),
      course  bigint NOT NULL REFERENCES data.courses (id),
      PRIMARY KEY (student, course))`);
    await sql.exec(`INSERT INTO data.enrolment VALUES ($1, $3), ($1, $4), ($2, $4)`, [sid.Ann, sid.Bob, cid.Maths, cid.Art]);
    const item = await itemFor('enrolment');
    expect(item.actions.map((a) => a.name)).to.include('adopt_link');
    expect(item.message).to.match(/joins "Students" \(student\) and "Courses" \(course\)/).and.match(/ON DELETE CASCADE/);
    expect((item.actual as any).junction.pair).to.deep.include({ kind: 'primary key' });

    const out = await act(app, item.id, 'adopt_link', { name: 'Courses taken', reverse_name: 'Enrolled' });
    const { field, reverse } = out.result;
    expect(out.result).to.deep.include({ junction: 'data.enrolment', pairs: 3, kept_columns: [] });
    expect(field).to.include({ table_id: students.id, name: 'Courses taken' });
    expect(reverse).to.include({ table_id: courses.id, name: 'Enrolled' });

    // both sides read the pairs that were there, nothing copied
    const s = await rows(students.id);
    const ann = s.find((r) => r.id === sid.Ann);
    expect(ann[field.column].map((x: any) => x.label).sort()).to.deep.equal(['Art', 'Maths']);
    const c = await rows(courses.id);
    expect(c.find((r) => r.id === cid.Art)[reverse.column].map((x: any) => x.id).sort()).to.deep.equal([sid.Ann, sid.Bob].sort());

    // the junction as psql sees it: our constraint names, ON DELETE CASCADE, an index per side
    const cons = await constraints('enrolment');
    expect(cons.map((k) => k.conname).sort()).to.deep.equal([`fk_m2m_f${field.id}`, `fk_m2m_f${reverse.id}`, `uq_m2m_f${field.id}`].sort());
    for (const k of cons.filter((x) => x.contype === 'f')) expect(k.def).to.match(/ON DELETE CASCADE/);
    const ix = await sql.rows(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'data' AND tablename = 'enrolment'`);
    expect(ix.map((i) => i.indexdef).join('\n')).to.match(/\(course, student\)/);
    const trig = await sql.rows(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'data.enrolment'::regclass AND NOT tgisinternal ORDER BY 1`);
    expect(trig.map((t) => t.tgname)).to.deep.equal(['tablewright_link_history_del', 'tablewright_link_history_ins']);

    // writing a list through the API sets the pairs; the history of both rows shows it
    const put = await app.request('PATCH', `/tables/${students.id}/rows/${sid.Cy}`, { json: { [field.column]: [cid.Maths] } });
    expect(put.status, put.text).to.equal(200);
    expect(await sql.rows(`SELECT course::int FROM data.enrolment WHERE student = $1`, [sid.Cy])).to.deep.equal([{ course: cid.Maths }]);
    const h = await sql.one(`SELECT new_values FROM tablewright.row_history WHERE table_id = $1 AND row_id = $2 AND new_values ? $3 ORDER BY id DESC LIMIT 1`, [courses.id, cid.Maths, reverse.column]);
    expect(h.new_values[reverse.column]).to.include(sid.Cy);
    // a row deleted takes its pairs with it
    const del = await app.request('DELETE', `/tables/${students.id}/rows/${sid.Bob}`);
    expect(del.status, del.text).to.be.oneOf([200, 204]);
    expect(await sql.one(`SELECT count(*)::int AS n FROM data.enrolment WHERE student = $1`, [sid.Bob])).to.deep.equal({ n: 0 });
    await expectClean(app, 'the junction is claimed by its link');
    const audit = await sql.one(`SELECT table_id, ddl FROM tablewright.audit WHERE operation = 'adopt_link'`);
    expect(audit.table_id).to.equal(students.id);
    expect(audit.ddl).to.match(/RENAME CONSTRAINT "enrolment_pkey" TO "uq_m2m_f\d+"/).and.match(/ON DELETE CASCADE/);
  });

  it('no unique pair: refused without add_unique (422), refused while pairs repeat (409), then adds it', async () => {
    await sql.exec(`CREATE TABLE data.wishlist (
      course_ref bigint REFERENCES data.courses (id) ON DELETE CASCADE,
      student_ref bigint REFERENCES data.students (id) ON DELETE CASCADE)`);
    await sql.exec(`INSERT INTO data.wishlist VALUES ($1, $2), ($1, $2), ($3, $2)`, [cid.Maths, sid.Ann, cid.Art]);
    const item = await itemFor('wishlist');
    expect(item.message).to.match(/no unique pair/).and.match(/sets NOT NULL/);
    const adopt = item.actions.find((a) => a.name === 'adopt_link') as any;
    expect(adopt.params).to.deep.equal(['add_unique']);

    // the Drift page offers it, with the checkbox the action needs
    const page = await app.request('GET', '/reconcile', { headers: { Accept: 'text/html' } });
    expect(page.status).to.equal(200);
    expect(page.text).to.match(/name="action" value="adopt_link"/).and.match(/name="add_unique" value="1" required/);
    const noFlag = await act(app, item.id, 'adopt_link', {}, 422);
    expect(noFlag.error.code).to.equal('unique_pair_required');
    const dup = await act(app, item.id, 'adopt_link', { add_unique: true }, 409);
    expect(dup.error.code).to.equal('duplicate_pairs');
    expect(dup.error.message).to.match(/1 pairs/);
    expect(await sql.one(`SELECT count(*)::int AS n FROM tablewright.fields WHERE options->>'junction' = 'wishlist'`)).to.deep.equal({ n: 0 });

    await sql.exec(`DELETE FROM data.wishlist WHERE ctid = (SELECT max(ctid) FROM data.wishlist WHERE course_ref = $1)`, [cid.Maths]);
    const out = await act(app, item.id, 'adopt_link', { add_unique: '1' });
    // the first foreign key's column (course_ref) is the side the link field is on
    expect(out.result.field.table_id).to.equal(courses.id);
    expect(out.result.changed.join('; ')).to.match(/NOT NULL/).and.match(/unique pair/);
    const cons = await constraints('wishlist');
    expect(cons.find((k) => k.contype === 'u')?.def).to.equal('UNIQUE (course_ref, student_ref)');
    const nn = await sql.rows(`SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'data.wishlist'::regclass AND attnum > 0 ORDER BY attnum`);
    expect(nn.every((r) => r.attnotnull)).to.equal(true);
    // writing the same pair again keeps one (ON CONFLICT finds the new unique pair)
    const put = await app.request('PATCH', `/tables/${courses.id}/rows/${cid.Maths}`, { json: { [out.result.field.column]: [sid.Ann, sid.Cy] } });
    expect(put.status, put.text).to.equal(200);
    expect(await sql.rows(`SELECT student_ref::int AS s FROM data.wishlist WHERE course_ref = $1 ORDER BY 1`, [cid.Maths])).to.deep.equal([sid.Ann!, sid.Cy!].sort((a, b) => a - b).map((s) => ({ s })));
    await expectClean(app);
  });

  it('extra columns: kept as they are (new pairs take their defaults); a required one without a default is refused with its reason', async () => {
    await sql.exec(`CREATE TABLE data.grades (
      id bigserial PRIMARY KEY,
      student_id bigint NOT NULL REFERENCES data.students (id),
      course_id bigint NOT NULL REFERENCES data.courses (id),
      grade text,
      noted_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (student_id, course_id))`);
    await sql.exec(`INSERT INTO data.grades (student_id, course_id, grade) VALUES ($1, $2, 'A')`, [sid.Cy, cid.Art]);
    await sql.exec(`CREATE TABLE data.seats (
      student_id bigint NOT NULL REFERENCES data.students (id),
      course_id bigint NOT NULL REFERENCES data.courses (id),
      seat int NOT NULL,
      PRIMARY KEY (student_id, course_id))`);
    const seats = await itemFor('seats');
    expect(seats.actions.map((a) => a.name)).to.not.include('adopt_link');
    expect(seats.message).to.match(/cannot be adopted as a many-to-many link: its column seat is required and without a default/);
    const refused = await act(app, seats.id, 'adopt_link', {}, 400);
    expect(refused.error.message).to.match(/does not resolve this item/);
    await act(app, seats.id, 'ignore');

    const item = await itemFor('grades');
    expect(item.message).to.match(/its other columns id, grade, noted_at are kept as they are/);
    const out = await act(app, item.id, 'adopt_link', { name: 'Graded in' });
    expect(out.result.kept_columns).to.deep.equal(['id', 'grade', 'noted_at']);
    expect((await constraints('grades')).find((k) => k.contype === 'u')?.conname).to.equal(`uq_m2m_f${out.result.field.id}`);
    const put = await app.request('PATCH', `/tables/${students.id}/rows/${sid.Cy}`, { json: { [out.result.field.column]: [cid.Art, cid.Maths] } });
    expect(put.status, put.text).to.equal(200);
    const g = await sql.rows(`SELECT course_id::int AS c, grade, noted_at IS NOT NULL AS noted FROM data.grades WHERE student_id = $1 ORDER BY id`, [sid.Cy]);
    expect(g).to.deep.equal([{ c: cid.Art, grade: 'A', noted: true }, { c: cid.Maths, grade: null, noted: true }]);
    // the row as the API reads it has the link, not the junction's other columns
    const cy = (await rows(students.id)).find((r) => r.id === sid.Cy);
    expect(cy[out.result.field.column].map((x: any) => x.id).sort()).to.deep.equal([cid.Art, cid.Maths].sort());
    expect(cy).to.not.have.property('grade');
    // the adopted link trashes and restores as one the console made: the junction, its pairs and its other columns stay
    const f = out.result.field;
    expect((await app.request('DELETE', `/tables/${students.id}/fields/${f.id}`)).status).to.equal(200);
    expect(await sql.one(`SELECT count(*)::int AS n, count(grade)::int AS g FROM data.grades`)).to.deep.equal({ n: 2, g: 1 });
    await expectClean(app, 'a trashed side keeps its junction claimed');
    expect((await app.request('POST', `/tables/${students.id}/fields/${f.id}/restore`)).status).to.equal(200);
    const again = (await rows(students.id)).find((r) => r.id === sid.Cy);
    expect(again[f.column].map((x: any) => x.id).sort()).to.deep.equal([cid.Art, cid.Maths].sort());
    await expectClean(app);
  });

  it('a junction of a table with itself (integer columns, a unique index): both sides on that table', async () => {
    await sql.exec(`CREATE TABLE data.mentoring (
      mentor int NOT NULL REFERENCES data.students (id) ON DELETE CASCADE,
      mentee int NOT NULL REFERENCES data.students (id) ON DELETE CASCADE)`);
    await sql.exec(`CREATE UNIQUE INDEX mentoring_pair ON data.mentoring (mentee, mentor)`);
    await sql.exec(`INSERT INTO data.mentoring VALUES ($1, $2)`, [sid.Ann, sid.Cy]);
    const item = await itemFor('mentoring');
    expect((item.actual as any).junction.pair).to.deep.include({ kind: 'unique index', name: 'mentoring_pair' });
    const out = await act(app, item.id, 'adopt_link', { name: 'Mentees', reverse_name: 'Mentors' });
    expect(out.result.field.table_id).to.equal(students.id);
    expect(out.result.reverse.table_id).to.equal(students.id);
    // the unique index leads with mentee: mentor gets an index of its own
    expect(out.result.changed).to.deep.equal(['indexed mentor']);
    const ix = await sql.rows(`SELECT indexname FROM pg_indexes WHERE schemaname = 'data' AND tablename = 'mentoring' ORDER BY 1`);
    expect(ix.map((i) => i.indexname)).to.deep.equal([`ix_m2m_f${out.result.field.id}`, `uq_m2m_f${out.result.field.id}`].sort());
    const ann = (await rows(students.id)).find((r) => r.id === sid.Ann);
    expect(ann[out.result.field.column].map((x: any) => x.id)).to.deep.equal([sid.Cy]);
    const cy = (await rows(students.id)).find((r) => r.id === sid.Cy);
    expect(cy[out.result.reverse.column].map((x: any) => x.id)).to.deep.equal([sid.Ann]);
    await expectClean(app);
  });
});
