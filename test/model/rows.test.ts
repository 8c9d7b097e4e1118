// Rows through the compiled model, over real HTTP on real PostgreSQL.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('rows', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let companies: number;
  let people: number;
  let fields: Record<string, { id: number }>;

  const rows = (path: string) => app.request('GET', `/tables/${people}/rows${path}`);

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    companies = (await app.request('POST', '/tables', { json: { name: 'Companies' } })).body.id;
    await sql.exec(`INSERT INTO data.companies (name) VALUES ('Acme'), ('Globex')`);
    const t = await app.request('POST', '/tables', {
      json: {
        name: 'People',
        fields: [
          { name: 'Name', type: 'text', not_null: true, default: 'anon' },
          { name: 'Age', type: 'number' },
          { name: 'Score', type: 'number', options: { decimals: 2 } },
          { name: 'Active', type: 'boolean' },
          { name: 'Born', type: 'date' },
          { name: 'Seen', type: 'datetime' },
          { name: 'Email', type: 'email', unique: true },
          { name: 'Site', type: 'url' },
          { name: 'Size', type: 'single_select', options: { choices: ['Small', 'Medium', 'Large'] } },
          { name: 'Extra', type: 'json' },
          { name: 'Employer', type: 'link', options: { table_id: companies } },
          { name: 'Notes', type: 'long_text' },
        ],
      },
    });
    expect(t.status, t.text).to.equal(201);
    people = t.body.id;
    fields = Object.fromEntries(t.body.fields.map((f: { column: string; id: number }) => [f.column, f]));
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('creates a row from JSON, parsing every type, and answers it as reads do (link as {id,label})', async () => {
    const res = await app.request('POST', `/tables/${people}/rows`, {
      json: {
        name: 'Ann', age: '42', score: 3.5, active: 'yes', born: '1990-02-28', seen: '2024-03-01T10:00:00+02:00',
        email: 'ann@example.com', site: 'https://ann.example', size: 'medium', extra: { tags: ['a'] }, employer: 1, notes: 'x'.repeat(300),
      },
    });
    expect(res.status, res.text).to.equal(201);
    expect(res.headers.get('location')).to.equal(`/tables/${people}/rows/${res.body.id}`);
    expect(res.body).to.deep.include({
      name: 'Ann', age: 42, score: 3.5, active: true, born: '1990-02-28', seen: '2024-03-01T08:00:00.000Z',
      email: 'ann@example.com', site: 'https://ann.example', extra: { tags: ['a'] }, employer: { id: 1, label: 'Acme' },
    });
    expect(res.body.size).to.include({ label: 'Medium' });
    const again = await app.request('GET', `/tables/${people}/rows/${res.body.id}`);
    expect(again.body).to.deep.equal(res.body);
  });

  it('creates a row from a form too, with a default for a missing required field', async () => {
    const res = await app.request('POST', `/tables/${people}/rows`, { form: { age: '7', active: 'on' } });
    expect(res.status, res.text).to.equal(201);
    expect(res.body).to.include({ name: 'anon', age: 7, active: true });
  });

  for (const [label, body, field, re] of [
    ['a word in a number', { age: 'old' }, 'age', /not a number/],
    ['too many decimals', { score: '1.234' }, 'score', /more than 2 decimal places/],
    ['an invalid date', { born: '2023-02-29' }, 'born', /not a date/],
    ['a bad email', { email: 'nope' }, 'email', /not an email/],
    ['a javascript: URL', { site: 'javascript:alert(1)' }, 'site', /http/],
    ['an unknown option', { size: 'Huge' }, 'size', /not one of the options/],
    ['invalid JSON text', { extra: '{nope' }, 'extra', /not valid JSON/],
    ['an empty required field', { name: '' }, 'name', /required/],
    ['a column that does not exist', { salary: 1 }, 'salary', /no field has the column/],
    ['an id', { id: 5 }, 'id', /assigned by the database/],
  ] as const) {
    it(`refuses ${label} with 422 naming "${field}", and writes nothing`, async () => {
      const before = await sql.one(`SELECT count(*)::int AS n FROM data.people`);
      const res = await app.request('POST', `/tables/${people}/rows`, { json: body });
      expect(res.status, res.text).to.equal(422);
      expect(res.body.error.field).to.equal(field);
      expect(res.body.error.message).to.match(re);
      expect((await sql.one(`SELECT count(*)::int AS n FROM data.people`)).n).to.equal(before.n);
    });
  }

  it('a link to a missing row is a 422 naming the field; a duplicate unique value a 409 naming it', async () => {
    const link = await app.request('POST', `/tables/${people}/rows`, { json: { employer: 999 } });
    expect(link.status).to.equal(422);
    expect(link.body.error).to.include({ code: 'invalid_link', field: 'employer' });
    const dup = await app.request('POST', `/tables/${people}/rows`, { json: { email: 'ann@example.com' } });
    expect(dup.status).to.equal(409);
    expect(dup.body.error).to.include({ code: 'duplicate_value', field: 'email' });
  });

  it('updates only the columns sent; deletes answer 204, then 404', async () => {
    const created = (await app.request('POST', `/tables/${people}/rows`, { json: { name: 'Bo', age: 30 } })).body;
    const res = await app.request('PATCH', `/tables/${people}/rows/${created.id}`, { json: { age: 31 } });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ name: 'Bo', age: 31 });
    const form = await app.request('POST', `/tables/${people}/rows/${created.id}`, { form: { _method: 'PATCH', age: '32' }, headers: { Accept: 'text/html' } });
    expect(form.status).to.equal(303);
    expect((await app.request('GET', `/tables/${people}/rows/${created.id}`)).body.age).to.equal(32);
    expect((await app.request('DELETE', `/tables/${people}/rows/${created.id}`)).status).to.equal(204);
    expect((await app.request('GET', `/tables/${people}/rows/${created.id}`)).status).to.equal(404);
    expect((await app.request('DELETE', `/tables/${people}/rows/${created.id}`)).status).to.equal(404);
  });

  describe('listing', () => {
    before(async () => {
      await sql.exec(`DELETE FROM data.people`);
      const many = Array.from({ length: 57 }, (_, i) => ({
        name: `P${String(i).padStart(2, '0')}`,
        age: i % 5 === 0 ? null : i % 7,
        score: (i * 1.25).toFixed(2),
        size: ['Small', 'Medium', 'Large', null][i % 4],
        active: i % 2 === 0,
        employer: i % 3 === 0 ? 2 : 1,
      }));
      const res = await app.request('POST', `/tables/${people}/rows`, { json: many });
      expect(res.status, res.text).to.equal(201);
      expect(res.body.rows).to.have.length(57);
    });

    it('pages with size and page, with an exact count', async () => {
      const res = await rows('?size=10&page=6');
      expect(res.status, res.text).to.equal(200);
      expect(res.body.rows).to.have.length(7);
      expect(res.body).to.include({ count: 57, count_exact: true, page: 6, size: 10 });
      expect((await rows('?size=1001')).status).to.equal(400);
      expect((await rows('?size=0')).body.error.field).to.equal('size');
    });

    it('past 100,000 rows (as PostgreSQL estimates them) a count is the estimate (filtered: the plan\'s, at least the rows seen), unless the page shows the last row', async () => {
      // The planner's row estimate, as a big table's ANALYZE would leave it.
      await sql.exec(`UPDATE pg_class SET reltuples = 2500000 WHERE oid = 'data.people'::regclass`);
      try {
        const big = await rows('?page=1&size=5');
        expect(big.body).to.include({ count: 2500000, count_exact: false });
        expect(big.body.rows).to.have.length(5);
        // the whole match fits the page: that is its exact count, with no second scan
        expect((await rows('?filter[employer][eq]=2&count=1')).body).to.include({ count: 19, count_exact: true });
        const some = (await rows('?filter[employer][eq]=2&size=5&page=2')).body;
        expect(some.count_exact, 'a filtered count of a big table is estimated').to.equal(false);
        expect(some.count, 'never fewer than the rows seen').to.be.at.least(11);
        expect((await rows('?filter[employer][eq]=2&size=5&page=4')).body).to.include({ count: 19, count_exact: true });
      } finally {
        await sql.exec('ANALYZE data.people');
      }
      expect((await rows('?page=1&size=5')).body).to.include({ count: 57, count_exact: true });
    });

    it('a later page (its ids chosen first) is the same slice as one long page, for any sort and filter', async () => {
      for (const q of ['', '&sort=-age', '&sort=age,-score', '&sort=size', '&filter[active][eq]=true&sort=-score', '&sort=employer,-name']) {
        const all = (await rows(`?size=57${q}`)).body.rows.map((r: { id: number }) => r.id);
        for (const [size, page] of [[10, 2], [10, 6], [7, 3], [25, 2]] as const) {
          const got = await rows(`?size=${size}&page=${page}${q}`);
          expect(got.status, got.text).to.equal(200);
          expect(got.body.rows.map((r: { id: number }) => r.id), `${q} size ${size} page ${page}`).to.deep.equal(all.slice((page - 1) * size, page * size));
        }
      }
    });

    it('filters per type, AND-ed, and searches text', async () => {
      const r1 = await rows('?filter[age][gte]=5&filter[active][eq]=true&size=1000&count=1');
      expect(r1.body.rows.every((r: { age: number; active: boolean }) => r.age >= 5 && r.active)).to.equal(true);
      expect(r1.body.count).to.equal(r1.body.rows.length);
      const expected = (await sql.rows(`SELECT id FROM data.people WHERE age >= 5 AND active ORDER BY id`)).map((r) => r.id);
      expect(r1.body.rows.map((r: { id: number }) => r.id)).to.deep.equal(expected);
      expect((await rows('?filter[age][empty]=1&size=1000&count=1')).body.count).to.equal(12);
      expect((await rows('?filter[size][in]=Small,Large&size=1000&count=1')).body.count).to.equal(29);
      expect((await rows('?filter[employer][eq]=2&size=1000&count=1')).body.count).to.equal(19);
      expect((await rows('?filter[name][contains]=P1&count=1')).body.count).to.equal(10);
      expect((await rows('?search=p0&count=1')).body.count).to.equal(10);
      expect((await rows('?filter[name][contains]=%25&count=1')).body.count, 'a % is a literal, not a wildcard').to.equal(0);
      const plain = (await rows('?filter[name][contains]=P1')).body;
      expect(plain.rows, 'a plain listing has its rows').to.have.length(10);
      expect(plain, 'but no count: counting is a second scan, taken when asked or for a numbered page').to.not.have.property('count');
      expect((await rows('?filter[name][contains]=P1&page=1')).body.count, 'a numbered page counts').to.equal(10);
      expect((await rows('?filter[name][contains]=P1&page=1&count=0')).body, 'count=0 skips it').to.not.have.property('count');
    });

    it('refuses filters and sorts that name no field, or an operator the type lacks, with 400 naming the parameter', async () => {
      for (const [q, field] of [
        ['?filter[salary][eq]=1', 'filter[salary]'],
        ['?filter[active][gt]=true', 'filter[active][gt]'],
        ['?filter[age][like]=1', 'filter[age][like]'],
        ['?filter[age][eq]=old', 'filter[age][eq]'],
        ['?sort=xmin', 'sort'],
        ['?sort=-nope', 'sort'],
        ['?filter[tablewright.tables][eq]=1', 'filter[tablewright.tables]'],
      ]) {
        const res = await rows(q!);
        expect(res.status, q).to.equal(400);
        expect(res.body.error.field, q).to.equal(field);
      }
    });

    it('sorts by several fields with a stable id tie-break; select options sort by label, links by label', async () => {
      const res = await rows('?sort=-age,name&size=1000');
      const expected = (await sql.rows(`SELECT id FROM data.people ORDER BY age DESC NULLS LAST, name, id`)).map((r) => r.id);
      expect(res.body.rows.map((r: { id: number }) => r.id)).to.deep.equal(expected);
      const bySize = (await rows('?sort=size&size=1000')).body.rows.map((r: { size: { label: string } | null }) => r.size?.label ?? null);
      const labels = bySize.filter(Boolean);
      expect(labels).to.deep.equal([...labels].sort());
      expect(bySize.slice(-14).every((l: string | null) => l === null), 'empty last').to.equal(true);
      const byEmployer = (await rows('?sort=-employer&size=1000')).body.rows.map((r: { employer: { label: string } }) => r.employer.label);
      expect(byEmployer[0]).to.equal('Globex');
    });

    it('NULLs sort last in both directions (also for select options and links), with the cursor too', async () => {
      expect((await sql.one(`SELECT count(*)::int AS n FROM data.people WHERE age IS NULL`)).n, 'the data has empty ages').to.be.greaterThan(0);
      for (const sort of ['age', '-age', 'size', '-size', '-employer', 'employer']) {
        const listed = (await rows(`?sort=${sort}&size=1000`)).body.rows as Array<Record<string, unknown>>;
        const col = sort.replace('-', '');
        const empty = listed.map((r) => r[col] === null);
        const firstEmpty = empty.indexOf(true);
        if (firstEmpty < 0) continue;
        expect(empty.slice(firstEmpty).every(Boolean), `sort=${sort}: once empty, empty to the end`).to.equal(true);
        expect(empty.slice(0, firstEmpty).some(Boolean), `sort=${sort}`).to.equal(false);
        // the last page of a cursor walk ends with the empty values too
        const half = Math.max(1, firstEmpty - 2);
        const page1 = await rows(`?sort=${sort}&size=${half}`);
        const page2 = await rows(`?sort=${sort}&size=1000&after=${page1.body.next}`);
        expect([...page1.body.rows, ...page2.body.rows].map((r: { id: number }) => r.id), `sort=${sort}`).to.deep.equal(listed.map((r) => r.id));
      }
    });

    it('a keyset walk (after=) visits every row once, in order, for mixed directions with NULLs', async () => {
      for (const sort of ['', 'age', '-age', 'size,-score', '-size,age,name']) {
        const all = (await rows(`?sort=${sort}&size=1000`)).body.rows.map((r: { id: number }) => r.id);
        const walked: number[] = [];
        let after: string | null = null;
        for (let i = 0; i < 20; i++) {
          const res: { status: number; body: { rows: Array<{ id: number }>; next: string | null; count?: number } } = await rows(
            `?sort=${sort}&size=7${after ? `&after=${after}` : ''}`,
          );
          expect(res.status, `sort=${sort} after=${after}`).to.equal(200);
          if (after) expect(res.body.count, 'a cursor page skips the count').to.equal(undefined);
          walked.push(...res.body.rows.map((r) => r.id));
          after = res.body.next;
          if (!after) break;
        }
        expect(walked, `sort=${sort}`).to.deep.equal(all);
      }
      expect((await rows('?after=garbage')).status).to.equal(400);
    });
  });

  it('bulk create is all or nothing, with errors per row and field', async () => {
    const before = await sql.one(`SELECT count(*)::int AS n FROM data.people`);
    const res = await app.request('POST', `/tables/${people}/rows`, { json: [{ name: 'ok' }, { age: 'x' }, { born: 'never', name: 'y' }] });
    expect(res.status).to.equal(422);
    expect(res.body.error.code).to.equal('invalid_rows');
    expect(res.body.error.details.errors.map((e: { index: number; field: string }) => [e.index, e.field])).to.deep.equal([[1, 'age'], [2, 'born']]);
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.people`)).n).to.equal(before.n);
    const tooMany = await app.request('POST', `/tables/${people}/rows`, { json: Array.from({ length: 1001 }, () => ({})) });
    expect(tooMany.status).to.equal(400);
  });

  it('bulk update and delete are all or nothing', async () => {
    const created = (await app.request('POST', `/tables/${people}/rows`, { json: [{ name: 'u1' }, { name: 'u2' }] })).body.rows;
    const upd = await app.request('PATCH', `/tables/${people}/rows`, { json: created.map((r: { id: number }) => ({ id: r.id, age: 99 })) });
    expect(upd.status, upd.text).to.equal(200);
    expect(upd.body.rows.map((r: { age: number }) => r.age)).to.deep.equal([99, 99]);
    const missing = await app.request('PATCH', `/tables/${people}/rows`, { json: [{ id: created[0].id, age: 1 }, { id: 999999, age: 1 }] });
    expect(missing.status).to.equal(422);
    expect((await app.request('GET', `/tables/${people}/rows/${created[0].id}`)).body.age, 'the first update rolled back').to.equal(99);
    const del = await app.request('DELETE', `/tables/${people}/rows`, { json: { ids: [created[0].id, 999999] } });
    expect(del.status).to.equal(404);
    expect((await app.request('GET', `/tables/${people}/rows/${created[0].id}`)).status).to.equal(200);
    const ok = await app.request('DELETE', `/tables/${people}/rows`, { json: { ids: created.map((r: { id: number }) => r.id) } });
    expect(ok.body).to.deep.equal({ deleted: 2, ids: created.map((r: { id: number }) => r.id) });
  });

  it('a trashed field never appears in rows and never blocks an insert', async () => {
    const f = (await app.request('POST', `/tables/${people}/fields`, { json: { name: 'Badge', type: 'text', default: 'b' } })).body;
    await app.request('PATCH', `/tables/${people}/fields/${f.id}`, { json: { not_null: true } });
    expect((await app.request('DELETE', `/tables/${people}/fields/${f.id}`)).status).to.equal(200);
    const listed = await rows('?size=1');
    expect(listed.body.rows[0]).to.not.have.property('badge');
    const created = await app.request('POST', `/tables/${people}/rows`, { json: { name: 'after trash' } });
    expect(created.status, created.text).to.equal(201);
    expect(created.body).to.not.have.property('badge');
    const refused = await app.request('POST', `/tables/${people}/rows`, { json: { badge: 'x' } });
    expect(refused.status).to.equal(422);
  });

  it('unknown tables and rows answer 404; a trashed table 404', async () => {
    expect((await app.request('GET', `/tables/999999/rows`)).status).to.equal(404);
    expect((await app.request('GET', `/tables/${people}/rows/999999`)).status).to.equal(404);
    const t = await app.request('POST', '/tables', { json: { name: 'Gone' } });
    await app.request('DELETE', `/tables/${t.body.id}`);
    expect((await app.request('GET', `/tables/${t.body.id}/rows`)).status).to.equal(404);
  });
});
