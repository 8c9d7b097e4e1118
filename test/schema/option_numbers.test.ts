// Field options written as JSON numbers a double reads differently from their text
// (`2.0`, `-0`, `1e1`) reach the options as RawJson (the body reader keeps every digit).
// Whole ones are the whole numbers they say; others are a 400 naming the option in words a
// person can act on (it used to read "expected number, received RawJson"), and a number past
// 2^53 is never rounded into an id.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { exactWholeNumber } from '../../server/fields/registry.js';

describe('field options: whole numbers however JSON writes them', () => {
  let db: TestDatabase;
  let app: TestApp;
  useApp((s) => ({ db, app } = s));

  let tableId: number;
  before(async () => {
    const res = await app.request('POST', '/tables', { json: { name: 'Opts' } });
    expect(res.status, res.text).to.equal(201);
    tableId = res.body.id;
  });

  const addRaw = (body: string) => app.request('POST', `/tables/${tableId}/fields`, { body, headers: { 'Content-Type': 'application/json' } });

  it('2.0, -0, 1e1 and 10.00e0 are the whole numbers they say', async () => {
    const cases: Array<[string, string, Record<string, unknown>]> = [
      ['{"name":"A","type":"number","options":{"decimals":2.0}}', 'numeric(30,2)', { decimals: 2 }],
      ['{"name":"B","type":"number","options":{"decimals":-0}}', 'bigint', { decimals: 0 }],
      ['{"name":"C","type":"number","options":{"decimals":1e1}}', 'numeric(30,10)', { decimals: 10 }],
      ['{"name":"D","type":"rating","options":{"max":10.00e0}}', 'smallint', { max: 10 }],
      [`{"name":"E","type":"link","options":{"table_id":${'1.0'}}}`, 'bigint', { table_id: 1 }],
    ];
    for (const [body, pgType, options] of cases) {
      const res = await addRaw(body.replace('"table_id":1.0', `"table_id":${tableId}.0`));
      expect(res.status, `${body}: ${res.text}`).to.equal(201);
      expect(res.body.options, body).to.deep.include(options.table_id ? { table_id: tableId } : options);
      const sql = await Sql.connect(db.url);
      try {
        const col = await sql.one(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'data.opts'::regclass AND attname = $1`, [res.body.column]);
        expect(col.t, body).to.equal(pgType);
      } finally {
        await sql.end();
      }
    }
  });

  it('a fraction, or an id past 2^53, is a 400 naming the option in plain words; nothing is added', async () => {
    const before = (await app.request('GET', `/tables/${tableId}`)).body.version;
    for (const [body, where] of [
      ['{"name":"F","type":"number","options":{"decimals":2.50000000000000000001}}', 'options.decimals'],
      ['{"name":"G","type":"link","options":{"table_id":9007199254740993}}', 'options.table_id'],
      ['{"name":"H","type":"text","options":{"max_length":1e400}}', 'options.max_length'],
    ] as const) {
      const res = await addRaw(body);
      expect(res.status, `${body}: ${res.text}`).to.equal(400);
      expect(res.body.error.field).to.equal(where);
      expect(res.body.error.message).to.include('expected a whole number').and.not.include('RawJson');
    }
    expect((await app.request('GET', `/tables/${tableId}`)).body.version).to.equal(before);
  });

  it('exactWholeNumber: only what a double holds exactly', () => {
    const cases: Array<[string, number | undefined]> = [
      ['2.0', 2], ['-0', 0], ['-0.000', 0], ['1e1', 10], ['10.00e0', 10], ['0e999', undefined], ['0.0e5', 0], ['-3.0', -3],
      ['9007199254740991.0', 9007199254740991], ['9007199254740993', undefined], ['2.5', undefined], ['1e16', undefined], ['1e400', undefined], ['abc', undefined],
    ];
    for (const [text, want] of cases) expect(exactWholeNumber(text), text).to.equal(want);
    expect(Object.is(exactWholeNumber('-0'), -0)).to.equal(false);
  });
});
