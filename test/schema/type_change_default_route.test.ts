// A field's default through a type change goes as the column's values go (a hostile review
// found twelve ways it did not: each `it` failed on 61d4080, when the default was re-parsed
// in JavaScript). Proves, pair by pair: a row inserted with the old default before the change,
// then converted, equals a row inserted after it (the column's new DEFAULT); the default is
// refused as lost exactly when the values' conversion loses it; the metadata matches the
// catalog (no drift), on both paths.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { Sql } from '../helpers/sql.js';
import { waitForJob } from '../helpers/jobs.js';
import { QUIET } from '../introspect/lib.js';

describe('a default through a type change goes as the values go', function () {
  this.timeout(120_000);
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ app, sql } = s), QUIET);
  let n = 0;
  async function run(field: string, change: string, opts: { online?: boolean; extra?: string[] } = {}) {
    const res = await app.request('POST', '/tables', { body: `{"name":"R${++n}","fields":[{"name":"F","column":"f",${field}}]}`, headers: { 'Content-Type': 'application/json' } });
    expect(res.status, res.text).to.equal(201);
    const t = res.body; const fid = t.fields[0].id; const rel = `data.${t.table_name}`;
    const old = (await sql.one(`INSERT INTO ${rel} DEFAULT VALUES RETURNING id`)).id;
    for (const e of opts.extra ?? []) await sql.exec(`INSERT INTO ${rel} (f) VALUES (${e})`);
    const p = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { body: `{${change},"online":${opts.online ? 1 : 0}}`, headers: { 'Content-Type': 'application/json' } });
    const status = p.status === 202 ? (await waitForJob(app, p.body.id, 60_000)).status : p.status;
    const fresh = (await sql.one(`INSERT INTO ${rel} DEFAULT VALUES RETURNING id`)).id;
    const v = async (id: number) => (await sql.one(`SELECT f::text AS v FROM ${rel} WHERE id = $1`, [id])).v;
    const meta = (await sql.one(`SELECT default_value::text AS d FROM tablewright.fields WHERE id = $1`, [fid])).d;
    const drift = ((await app.request('GET', '/reconcile')).body.items as any[]).filter((i) => i.field?.id === fid).map((i) => i.kind);
    return { status, error: p.body?.error?.field, oldRow: await v(old), freshRow: await v(fresh), meta, drift };
  }

  it('number 2 -> single select (options made from values 1, 2, 10): the default is the option "2", as the row holding 2 (was: the option with id 2, "10")', async () => {
    const r = await run('"type":"number","default":2', '"type":"single_select"', { extra: ['1', '10'] });
    expect(r.status).to.equal(200);
    expect(r.freshRow, `meta ${r.meta}`).to.equal(r.oldRow);
  });
  it('number 9 -> single select (values 9, 10): the default converts as the row holding 9 does (was: refused as lost)', async () => {
    const r = await run('"type":"number","default":9', '"type":"single_select"', { extra: ['10'] });
    expect([r.status, r.error]).to.deep.equal([200, undefined]);
  });
  it('text "42" -> json: the default is the number 42, as the row (was: the JSON string "42")', async () => {
    const r = await run('"type":"text","default":"42"', '"type":"json"');
    expect(r.freshRow).to.equal(r.oldRow);
  });
  it('single select "a" -> json: the default converts to "a" as the row does (was: refused as lost)', async () => {
    const r = await run('"type":"single_select","options":{"choices":[{"label":"a"}]},"default":"a"', '"type":"json"');
    expect([r.status, r.error]).to.deep.equal([200, undefined]);
  });
  it('number (2 decimals) 1.5 -> text: the default reads 1.50, as the row (was: 1.5)', async () => {
    const r = await run('"type":"number","options":{"decimals":2},"default":1.5', '"type":"text"');
    expect(r.freshRow).to.equal(r.oldRow);
  });
  it('datetime 10:00+02:00 -> text: the default is the row\'s text, in UTC (was: +02:00 kept)', async () => {
    const r = await run('"type":"datetime","default":"2024-01-02T10:00:00+02:00"', '"type":"text"');
    expect(r.freshRow).to.equal(r.oldRow);
  });
  it('text "2024-01-02+05:00" -> datetime: the default is the row\'s instant (was: another)', async () => {
    const r = await run('"type":"text","default":"2024-01-02+05:00"', '"type":"datetime"');
    expect(r.freshRow).to.equal(r.oldRow);
  });
  it('datetime 02:00+02:00 (a UTC midnight) -> date: the default converts as the row does (was: refused as lost)', async () => {
    const r = await run('"type":"datetime","default":"2024-01-02T02:00:00+02:00"', '"type":"date"');
    expect([r.status, r.error]).to.deep.equal([200, undefined]);
  });
  it('text "★★★" -> rating (confirm_loss): the default goes as the row\'s value does (was: kept as 3)', async () => {
    const r = await run('"type":"text","default":"★★★"', '"type":"rating","confirm_loss":1');
    expect(r.freshRow).to.equal(r.oldRow);
  });
  it('online number 42 -> json: the metadata default is the number 42, as the catalog\'s (was: the string "42", drift)', async () => {
    const r = await run('"type":"number","default":42', '"type":"json"', { online: true });
    expect(r.status).to.equal('done');
    expect([r.meta, r.drift]).to.deep.equal(['42', []]);
  });
  it('online number 9007199254740993 -> currency: the metadata default is that number exactly, as the catalog\'s (was: a string, drift)', async () => {
    const r = await run('"type":"number","default":9007199254740993', '"type":"currency"', { online: true });
    expect([r.meta, r.drift]).to.deep.equal(['9007199254740993', []]);
  });
  it('long_text "hello world" -> text max_length 5 (confirm_loss): the default goes from the metadata and the column alike (was: kept in the column, drift)', async () => {
    const r = await run('"type":"long_text","default":"hello world"', '"type":"text","options":{"max_length":5},"confirm_loss":1');
    expect([r.status, r.meta, r.freshRow, r.drift]).to.deep.equal([200, null, null, []]);
  });
});
