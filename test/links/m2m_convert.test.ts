// Converting a link between one-to-many and many-to-many (PATCH options.multiple) on real
// PostgreSQL: to many keeps every link as a pair; back to one keeps each row's first link,
// reports the rows that had several (confirm_loss), and keeps the many-to-many in the
// trash, from where restoring both sides gives every pair back.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('link conversions: one-to-many <-> many-to-many', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let people: number;
  let teams: number;
  let fid: number;
  const tid: number[] = [];

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    teams = (await app.request('POST', '/tables', { json: { name: 'Teams', fields: [{ name: 'Name', type: 'text' }] } })).body.id;
    const made = await app.request('POST', `/tables/${teams}/rows`, { json: [{ name: 'Red' }, { name: 'Blue' }, { name: 'Green' }] });
    tid.push(...made.body.rows.map((r: any) => r.id));
    const p = await app.request('POST', '/tables', { json: { name: 'People', fields: [{ name: 'Name', type: 'text' }, { name: 'Team', type: 'link', options: { table_id: teams } }] } });
    people = p.body.id;
    fid = p.body.fields.find((f: any) => f.name === 'Team').id;
    await app.request('POST', `/tables/${people}/rows`, { json: [{ name: 'a', team: tid[0] }, { name: 'b', team: tid[1] }, { name: 'c' }] });
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const list = async () => (await app.request('GET', `/tables/${people}/rows?sort=id`)).body.rows as any[];

  it('another type straight to a many-to-many link (dry run, one transaction, online) is a 400 naming options.multiple, and changes nothing: two steps (a hostile review found a column with many-to-many metadata, every listing a 500)', async () => {
    const p = await app.request('POST', `/tables/${people}/fields`, { json: { name: 'Team no', type: 'number' } });
    expect(p.status, p.text).to.equal(201);
    await sql.exec(`UPDATE data.people SET team_no = 1`);
    for (const q of ['?dry_run=1', '?online=0', '?online=1']) {
      const res = await app.request('PATCH', `/tables/${people}/fields/${p.body.id}${q}`, { json: { type: 'link', options: { table_id: teams, multiple: true } } });
      expect(res.status, `${q}: ${res.text}`).to.equal(400);
      expect(res.body.error.field).to.equal('options.multiple');
    }
    expect((await app.request('GET', `/tables/${people}/fields/${p.body.id}`)).body.type).to.equal('number');
    const listed = await app.request('GET', `/tables/${people}/rows`);
    expect(listed.status, listed.text).to.equal(200);
    expect((await app.request('DELETE', `/tables/${people}/fields/${p.body.id}`)).status).to.be.oneOf([200, 204]);
  });

  it('to many-to-many: every link becomes a pair, the column goes, nothing is lost', async () => {
    const dry = await app.request('PATCH', `/tables/${people}/fields/${fid}?dry_run=1`, { json: { options: { table_id: teams, multiple: true } } });
    expect(dry.status, dry.text).to.equal(200);
    expect(dry.body).to.include({ rows: 3, non_empty: 2, lost: 0 });
    const res = await app.request('PATCH', `/tables/${people}/fields/${fid}`, { json: { options: { table_id: teams, multiple: true, reverse_name: 'Members' } } });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.options).to.include({ multiple: true, junction: 'people_teams' });
    expect((await list()).map((r) => r.team.map((x: any) => x.label))).to.deep.equal([['Red'], ['Blue'], []]);
    const col = await sql.rows(`SELECT 1 FROM information_schema.columns WHERE table_schema = 'data' AND table_name = 'people' AND column_name = 'team'`);
    expect(col).to.have.length(0);
    const members = (await app.request('GET', `/tables/${teams}/rows?sort=id`)).body.rows;
    expect(members[0].members.map((x: any) => x.label)).to.deep.equal(['a']);
  });

  it('back to one-to-many: rows with several links are counted, refused without confirm_loss, kept in the trash', async () => {
    const a = (await list())[0];
    expect((await app.request('PATCH', `/tables/${people}/rows/${a.id}`, { json: { team: ['Green', 'Red'] } })).status).to.equal(200);
    const refused = await app.request('PATCH', `/tables/${people}/fields/${fid}`, { json: { options: { table_id: teams, multiple: false } } });
    expect(refused.status, refused.text).to.equal(422);
    expect(refused.body.error.code).to.equal('lossy_conversion');
    const dry = await app.request('PATCH', `/tables/${people}/fields/${fid}?dry_run=1`, { json: { options: { table_id: teams, multiple: false } } });
    expect(dry.body).to.include({ non_empty: 2, lost: 1 });
    expect(dry.body.examples[0].id).to.equal(a.id);
    const ok = await app.request('PATCH', `/tables/${people}/fields/${fid}`, { json: { options: { table_id: teams, multiple: false }, confirm_loss: 1 } });
    expect(ok.status, ok.text).to.equal(200);
    const rows = await list();
    // the first link (smallest id): Red
    expect(rows.map((r) => r.team?.label ?? null)).to.deep.equal(['Red', 'Blue', null]);
    const fk = await sql.one(`SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conname = $1`, [`fk_f${fid}`]);
    expect(fk.d).to.match(/ON DELETE SET NULL/);
    // the pairs are still there, the many-to-many in the trash on both tables
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.people_teams`)).n).to.equal(3);
    const trashed = (await app.request('GET', `/tables/${people}/fields?trashed=1`)).body;
    const copy = (trashed.fields ?? trashed).find((f: any) => /many-to-many/.test(f.name));
    expect(copy, JSON.stringify(trashed)).to.exist;
    const restored = await app.request('POST', `/tables/${people}/fields/${copy.id}/restore`, { json: { name: 'All teams', column: 'all_teams' } });
    expect(restored.status, restored.text).to.equal(200);
    const again = await list();
    expect(again[0].all_teams.map((x: any) => x.label)).to.deep.equal(['Red', 'Green']);
    expect(again[0].team.label).to.equal('Red');
  });
});
