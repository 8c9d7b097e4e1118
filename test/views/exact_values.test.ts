// A saved view's filter values keep every digit, as row values do: a value past a double
// (9007199254740993) sent in a JSON body used to be refused as "not a value", and sent
// from a form (JSON text) it was saved rounded to ...992, so the view silently matched
// another row; read back, node-postgres rounded the stored jsonb too.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';

describe('saved views: filter values past a double are kept exactly', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;

  useApp((s) => ({ db, app, sql } = s));
  before(async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Serials', fields: [{ name: 'Serial', type: 'number' }] } });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id;
    // two rows a double cannot tell apart
    const rows = await app.request('POST', `/tables/${tableId}/rows`, { body: '[{"serial":9007199254740992},{"serial":9007199254740993}]', headers: { 'Content-Type': 'application/json' } });
    expect(rows.status, rows.text).to.equal(201);
  });

  const serialsThrough = async (viewId: number) => {
    const res = await app.request('GET', `/tables/${tableId}/rows?view=${viewId}`);
    expect(res.status, res.text).to.equal(200);
    return [...res.text.matchAll(/"serial":(\d+)/g)].map((m) => m[1]);
  };

  it('from a JSON body and from a form, eq and in: stored, answered and applied with every digit', async () => {
    const json = await app.request('POST', `/tables/${tableId}/views`, {
      body: '{"name":"Body","filter":[{"column":"serial","op":"eq","value":9007199254740993}]}',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(json.status, json.text).to.equal(201);
    expect(json.text).to.include('"value":9007199254740993');
    const form = await app.request('POST', `/tables/${tableId}/views`, {
      form: { name: 'Form', filter: '[{"column":"serial","op":"in","value":[9007199254740993, 1]}]' },
    });
    expect(form.status, form.text).to.equal(201);
    const stored = await sql.rows(`SELECT name, spec->'filter'->0->>'value' AS v FROM tablewright.views ORDER BY id`);
    expect(stored).to.deep.equal([
      { name: 'Body', v: '9007199254740993' },
      { name: 'Form', v: '[9007199254740993, 1]' },
    ]);
    expect(await serialsThrough(json.body.id)).to.deep.equal(['9007199254740993']);
    expect(await serialsThrough(form.body.id)).to.deep.equal(['9007199254740993']);
    // a change of something else keeps the value as it was
    const renamed = await app.request('PATCH', `/tables/${tableId}/views/${json.body.id}`, { json: { name: 'Body 2' } });
    expect(renamed.status, renamed.text).to.equal(200);
    expect(await serialsThrough(json.body.id)).to.deep.equal(['9007199254740993']);
  });

  it('a form filter nested past the JSON depth limit is a 400 naming filter', async () => {
    const res = await app.request('POST', `/tables/${tableId}/views`, { form: { name: 'Deep', filter: '['.repeat(600) } });
    expect(res.status, res.text).to.equal(400);
    expect(res.body.error.field).to.equal('filter');
  });
});
