// Tables a DBA made by hand and the console adopted read-only: a composite key (id, k),
// no primary key, no `id` column at all. Read-only means read-only on every write path
// (409 read_only, nothing written); and such tables are readable everywhere: listing,
// pages, cursors, sort, filter, CSV export and the grid, never a 500.
import { expect } from 'chai';
import { enqueueJob } from '../../server/jobs/queue.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { act, QUIET, report } from '../introspect/lib.js';

const HTML = { Accept: 'text/html' };

describe('tables adopted read-only: no writes get in, every read works', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  const ids: Record<string, number> = {};

  const adopt = async (name: string) => {
    const item = (await report(app)).items.find((i) => i.id === `untracked_table:data:${name}`)!;
    const out = await act(app, item.id, 'adopt');
    expect(out.result.read_only, name).to.equal(true);
    return out.result.id as number;
  };

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, QUIET);
    sql = await Sql.connect(db.url);
    // keyed (id, k): two rows share id 1
    await sql.exec(`CREATE TABLE data.pairs (id bigint, k text, v text, PRIMARY KEY (id, k))`);
    await sql.exec(`INSERT INTO data.pairs VALUES (1, 'a', 'one a'), (1, 'b', 'one b'), (2, 'a', 'two a'), (3, 'c', 'three c')`);
    // no id column, a text primary key
    await sql.exec(`CREATE TABLE data.settings (name text PRIMARY KEY, value text, rank int)`);
    await sql.exec(`INSERT INTO data.settings VALUES ('theme', 'dark', 2), ('lang', 'fr', 1), ('tz', 'UTC', 2), ('font', NULL, 3)`);
    // no primary key and no id: only its ctid tells rows apart (duplicates included)
    await sql.exec(`CREATE TABLE data.readings (sensor text, celsius numeric(5,1))`);
    await sql.exec(`INSERT INTO data.readings VALUES ('s1', 20.5), ('s1', 20.5), ('s2', 18.0), ('s3', NULL), ('s2', 18.0)`);
    for (const name of ['pairs', 'settings', 'readings']) ids[name] = await adopt(name);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const rowsOf = async (table: string) => sql.rows(`SELECT * FROM data.${table} ORDER BY 1, 2`);

  it('every write path answers 409 read_only and writes nothing: API single and bulk, grid, cells, CSV import in the request and as a job', async () => {
    for (const table of ['pairs', 'settings', 'readings']) {
      const t = ids[table]!;
      const before = await rowsOf(table);
      const column = table === 'pairs' ? 'v' : table === 'settings' ? 'value' : 'sensor';
      const attempts: Array<[string, string, Parameters<TestApp['request']>[2]]> = [
        ['POST', `/tables/${t}/rows`, { json: { [column]: 'x' } }],
        ['POST', `/tables/${t}/rows`, { json: [{ [column]: 'x' }, { [column]: 'y' }] }],
        ['PATCH', `/tables/${t}/rows/1`, { json: { [column]: 'x' } }],
        ['PATCH', `/tables/${t}/rows`, { json: [{ id: 1, [column]: 'x' }] }],
        ['DELETE', `/tables/${t}/rows/1`, {}],
        ['DELETE', `/tables/${t}/rows`, { json: { ids: [1, 2] } }],
        ['POST', `/tables/${t}/grid/rows`, { form: { [column]: 'x' } }],
        ['DELETE', `/tables/${t}/grid/rows/1`, {}],
        ['PATCH', `/tables/${t}/rows/1/cells/${column}`, { form: { value: 'x' } }],
        ['GET', `/tables/${t}/rows/1/cells/${column}/edit`, {}],
        ['POST', `/tables/${t}/rows/import`, { body: `${column}\nx\n`, headers: { 'Content-Type': 'text/csv' } }],
        ['POST', `/tables/${t}/rows/import?async=1`, { body: `${column}\nx\n`, headers: { 'Content-Type': 'text/csv' } }],
      ];
      for (const [method, path, opts] of attempts) {
        const res = await app.request(method, path, opts);
        expect(res.status, `${method} ${path}: ${res.text}`).to.equal(409);
        expect(res.body.error.code, `${method} ${path}`).to.equal('read_only');
      }
      expect(await rowsOf(table), `${table} is unchanged`).to.deep.equal(before);
    }
    expect((await sql.one(`SELECT count(*)::int AS n FROM tablewright.jobs`)).n, 'no import job was queued').to.equal(0);
    // the two rows keyed (1, a) and (1, b) are both still there
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.pairs WHERE id = 1`)).n).to.equal(2);
  });

  it('a link field cannot point at a table whose rows have no single id (422, nothing changes)', async () => {
    const t = (await app.request('POST', '/tables', { json: { name: 'Refs' } })).body.id;
    for (const table of ['pairs', 'settings', 'readings']) {
      const res = await app.request('POST', `/tables/${t}/fields`, { json: { name: `To ${table}`, type: 'link', options: { table_id: ids[table] } } });
      expect(res.status, res.text).to.equal(422);
      expect(res.body.error).to.include({ code: 'invalid_link_target', field: 'options.table_id' });
    }
  });

  it('an import job queued for a table before it became read-only fails with read_only and imports nothing', async () => {
    const t = ids.settings!;
    await sql.exec('BEGIN');
    const job = await enqueueJob(sql.raw, { kind: 'import_csv', tableId: t, payload: { tableId: t, ignoreUnknown: false }, actor: 'script' });
    await sql.exec(`INSERT INTO tablewright.job_uploads (job_id, seq, chunk) VALUES ($1, 0, convert_to(E'name,value\\nnew,x\\n', 'UTF8'))`, [job.id]);
    await sql.exec('COMMIT');
    let status = '';
    let body: any;
    for (let i = 0; i < 100 && !['done', 'failed'].includes(status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      body = (await app.request('GET', `/jobs/${job.id}`)).body;
      status = body.status;
    }
    expect(status, JSON.stringify(body)).to.equal('failed');
    expect(body.error.code).to.equal('read_only');
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.settings`)).n).to.equal(4);
  });

  it('lists, counts, pages (page and cursor), sorts and filters a table keyed (id, k): every row once, duplicate ids included', async () => {
    const t = ids.pairs!;
    const all = await app.request('GET', `/tables/${t}/rows?sort=v&count=1`);
    expect(all.status, all.text).to.equal(200);
    expect(all.body.count).to.equal(4);
    expect(all.body.rows.map((r: any) => [r.id, r.k])).to.deep.equal([[1, 'a'], [1, 'b'], [3, 'c'], [2, 'a']]);
    // a cursor walk of one row at a time, by id: the two rows of id 1 both come
    const seen: string[] = [];
    let after = '';
    for (let i = 0; i < 10; i++) {
      const page = await app.request('GET', `/tables/${t}/rows?sort=id&size=1${after ? `&after=${after}` : ''}`);
      expect(page.status, page.text).to.equal(200);
      seen.push(...page.body.rows.map((r: any) => `${r.id}${r.k}`));
      if (!page.body.next) break;
      after = page.body.next;
    }
    expect(seen).to.deep.equal(['1a', '1b', '2a', '3c']);
    const pages = await Promise.all([1, 2, 3, 4].map((p) => app.request('GET', `/tables/${t}/rows?sort=-id&size=1&page=${p}`)));
    expect(pages.map((p) => `${p.body.rows[0].id}${p.body.rows[0].k}`)).to.deep.equal(['3c', '2a', '1a', '1b']);
    const filtered = await app.request('GET', `/tables/${t}/rows?filter[id][eq]=1&filter[k][neq]=a`);
    expect(filtered.body.rows.map((r: any) => r.v)).to.deep.equal(['one b']);
    // one row by id: id 1 names two rows here
    const one = await app.request('GET', `/tables/${t}/rows/1`);
    expect(one.status).to.equal(409);
    expect(one.body.error.code).to.equal('no_row_id');
  });

  for (const table of ['settings', 'readings']) {
    it(`a table without an id column (${table}) lists, pages by page and by cursor, sorts, filters and exports without one`, async () => {
      const t = ids[table]!;
      const sortBy = table === 'settings' ? 'rank' : 'celsius';
      const expected = await sql.rows(
        table === 'settings'
          ? `SELECT name, value, rank FROM data.settings ORDER BY rank, name`
          : `SELECT sensor, celsius FROM data.readings ORDER BY celsius, ctid`,
      );
      const list = await app.request('GET', `/tables/${t}/rows?sort=${sortBy}&count=1`);
      expect(list.status, list.text).to.equal(200);
      expect(list.body.count).to.equal(expected.length);
      expect(list.body.rows[0]).to.not.have.property('id');
      expect(list.body.rows.map((r: any) => r[sortBy])).to.deep.equal(expected.map((r) => (r[sortBy] === null ? null : Number(r[sortBy]))));
      // cursor: rows that tie on the sort key (rank 2 twice; two identical readings) each come once
      const walked: unknown[] = [];
      let after = '';
      for (let i = 0; i < 20; i++) {
        const page = await app.request('GET', `/tables/${t}/rows?sort=${sortBy}&size=1${after ? `&after=${after}` : ''}`);
        expect(page.status, page.text).to.equal(200);
        walked.push(...page.body.rows);
        if (!page.body.next) break;
        after = page.body.next;
      }
      expect(walked).to.deep.equal(list.body.rows);
      const second = await app.request('GET', `/tables/${t}/rows?sort=-${sortBy}&size=2&page=2`);
      expect(second.status, second.text).to.equal(200);
      expect(second.body.rows).to.have.length(2);
      const col = table === 'settings' ? 'name' : 'sensor';
      const filtered = await app.request('GET', `/tables/${t}/rows?filter[${col}][eq]=${table === 'settings' ? 'tz' : 's2'}`);
      expect(filtered.body.rows).to.have.length(table === 'settings' ? 1 : 2);
      // id is not a column here: filtering or sorting by it is the client's mistake (400), not ours
      for (const q of ['filter[id][eq]=1', 'sort=id']) {
        const bad = await app.request('GET', `/tables/${t}/rows?${q}`);
        expect(bad.status, q).to.equal(400);
        expect(bad.body.error.code).to.equal('unknown_field');
      }
      const csv = await app.request('GET', `/tables/${t}/rows.csv?sort=${sortBy}`);
      expect(csv.status, csv.text).to.equal(200);
      const lines = csv.text.trim().split('\r\n');
      expect(lines[0]).to.equal(table === 'settings' ? 'name,value,rank' : 'sensor,celsius');
      expect(lines).to.have.length(expected.length + 1);
      for (const q of ['', '?sort=-' + sortBy + '&page=2&size=25', '?fc=' + col + '&fo=contains&fv=t']) {
        const page = await app.request('GET', `/tables/${t}${q}`, { headers: HTML });
        expect(page.status, `page ${q}: ${page.text.slice(0, 300)}`).to.equal(200);
        expect(page.text).to.include('read-only');
      }
      const grid = await app.request('GET', `/tables/${t}/grid?sort=${sortBy}`, { headers: { ...HTML, 'HX-Request': 'true' } });
      expect(grid.status).to.equal(200);
      expect(grid.text).to.include(table === 'settings' ? 'dark' : 's1');
      expect(grid.text).to.not.include('data-editable');
      const one = await app.request('GET', `/tables/${t}/rows/1`);
      expect(one.status).to.equal(409);
      expect(one.body.error.code).to.equal('no_row_id');
    });
  }
});
