// Two holes the hostile review found in the schema editor's input:
//   * a yes/no flag sent as an empty list ([] or [[...]]) was read as "not given": a
//     dry_run=[] made the change (and purged the trash) for real;
//   * a multiple select's default (a set of option ids) was written into the DDL as
//     "1,2", which PostgreSQL refuses ("malformed array literal"): a 422 for a valid default.
// Proves: each odd flag is a 400 naming the flag and changes nothing; a multiple select
// default by labels is stored, is the column's default, and fills a new row.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';

describe('schema input: flags that say nothing, multiple select defaults', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tid: number;
  let fid: number;

  useApp((s) => ({ db, app, sql } = s));
  before(async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Posts', table_name: 'posts', fields: [{ name: 'Title', type: 'text', column: 'title' }] } });
    expect(t.status, t.text).to.equal(201);
    tid = t.body.id;
    fid = t.body.fields[0].id;
  });

  it('dry_run as [], [[1]] or [null] is a 400 naming dry_run; the field keeps its type and the trash is not purged', async () => {
    for (const odd of [[], [[1]], [null]]) {
      const res = await app.request('PATCH', `/tables/${tid}/fields/${fid}`, { json: { type: 'long_text', dry_run: odd } });
      expect(res.status, `${JSON.stringify(odd)}: ${res.text}`).to.equal(400);
      expect(res.body.error.field).to.equal('dry_run');
      const purge = await app.request('POST', '/trash/cleanup', { json: { dry_run: odd } });
      expect(purge.status, `cleanup ${JSON.stringify(odd)}: ${purge.text}`).to.equal(400);
    }
    expect((await app.request('GET', `/tables/${tid}/fields/${fid}`)).body.type).to.equal('text');
    // A form's hidden "0" then checkbox "1" still reads as the last one.
    const form = await app.request('PATCH', `/tables/${tid}/fields/${fid}`, { json: { type: 'long_text', dry_run: ['0', '1'] } });
    expect(form.status, form.text).to.equal(200);
    expect((await app.request('GET', `/tables/${tid}/fields/${fid}`)).body.type, 'a dry run changed nothing').to.equal('text');
  });

  it('a multiple select default (labels) is stored, becomes the column default as an id set, and fills a new row', async () => {
    const res = await app.request('POST', `/tables/${tid}/fields`, {
      json: { name: 'Tags', type: 'multiple_select', column: 'tags', options: { choices: [{ label: 'red' }, { label: 'green' }, { label: 'blue' }] }, default: ['blue', 'red'] },
    });
    expect(res.status, res.text).to.equal(201);
    const { d } = await sql.one(`SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef WHERE adrelid = 'data.posts'::regclass AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'data.posts'::regclass AND attname = 'tags')`);
    expect(d).to.match(/'\{1,3\}'/);
    const row = await app.request('POST', `/tables/${tid}/rows`, { json: { title: 'x' } });
    expect(row.status, row.text).to.equal(201);
    expect(row.body.tags.map((t: { label: string }) => t.label)).to.deep.equal(['red', 'blue']);
  });
});

describe('field defaults a double cannot hold keep their digits in answers and changes', function () {
  this.timeout(60_000);
  let app: TestApp;
  let sql: Sql;
  let tid: number;
  useApp((s) => ({ app, sql } = s));
  before(async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Big', table_name: 'big', fields: [{ name: 'Title', type: 'text', column: 'title' }] } });
    expect(t.status, t.text).to.equal(201);
    tid = t.body.id;
  });

  // Proves: the field's answer (create, GET, list) writes the default with every digit; a
  // PATCH to a default that differs only past a double's precision is a change, made in
  // the catalog; the model (compiled from the one-row JSON read) fills new rows exactly.
  it('9007199254740993 as a default: answered exactly, changed to ...992 for real, and used exactly by new rows', async () => {
    const made = await app.request('POST', `/tables/${tid}/fields`, { body: '{"name":"N","type":"number","column":"n","default":9007199254740993}', headers: { 'Content-Type': 'application/json' } });
    expect(made.status, made.text).to.equal(201);
    expect(made.text).to.match(/"default":9007199254740993\b/);
    const fid = made.body.id;
    expect((await app.request('GET', `/tables/${tid}/fields/${fid}`)).text).to.match(/"default":9007199254740993\b/);
    expect((await app.request('GET', `/tables/${tid}`)).text).to.match(/"default":9007199254740993\b/);
    const row = await app.request('POST', `/tables/${tid}/rows`, { json: { title: 'a' } });
    expect(row.text).to.match(/"n":9007199254740993\b/);
    const changed = await app.request('PATCH', `/tables/${tid}/fields/${fid}`, { body: '{"default":9007199254740992}', headers: { 'Content-Type': 'application/json' } });
    expect(changed.status, changed.text).to.equal(200);
    expect(changed.text, 'a change, not "changes":{}').to.match(/"default":9007199254740992\b/);
    const { d } = await sql.one(`SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef WHERE adrelid = 'data.big'::regclass AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'data.big'::regclass AND attname = 'n')`);
    expect(d).to.match(/9007199254740992/);
  });
});
