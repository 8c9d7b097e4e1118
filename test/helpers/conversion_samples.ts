// The conversion matrix's types and sample values (test/schema/conversion.test.ts, the
// one-transaction change; test/online/lost_count.test.ts, the online one).
import { fieldType } from '../../server/fields/registry.js';
import { FIELD_TYPES, type FieldTypeName } from '../../server/fields/types.js';
import type { TestApp } from './app.js';
import type { Sql } from './sql.js';

/**
 * The types a value can be written to and converted into: system fields (autonumber,
 * created_at...) are PostgreSQL's to fill; their conversions are in system_fields.test.ts.
 * A formula converts to nothing and nothing to it (test/formula/formula.test.ts); nor does a
 * lookup or rollup, which has no column (test/links/lookup_rollup.test.ts).
 */
export const COMPUTED = new Set(['formula', 'lookup', 'rollup']);
export const MATRIX = FIELD_TYPES.filter((t) => !fieldType(t).system && !COMPUTED.has(t));

/** Sample values per source type, as they are inserted (SQL text; NULL is null). */
export const SAMPLES: Partial<Record<FieldTypeName, Array<string | null>>> = {
  text: [
    '3.50', ' 42 ', '1.005', '-9223372036854775808', '9223372036854775808', 'yes', 'no', '2024-02-29', '2024-02-30', '0005-03-01',
    '2024-03-01T10:00:00Z', '2024-03-01T10:00:00.123456Z', '2024-03-01T10:00:00.1234567Z', 'abc', '', '   ', 'héllo ✓ 日本',
    '12345678901234567890123456789012', 'a@b.co', 'https://example.com/x', '{"a":1}', '{"big":12345678901234567890}', '1e3', 'Red', 'red', null,
  ],
  long_text: ['line one\nline two', '7', 'true', '', null],
  number: ['0', '1', '-2.5', '3.50', '123456789012345678.25', '-9223372036854775808', null],
  boolean: ['true', 'false', null],
  date: ['2024-02-29', '1999-12-31', null],
  datetime: ['2024-03-01T10:00:00Z', '2024-03-01T23:30:00-02:00', '2024-03-01T10:00:00.123456Z', '2024-03-02T00:00:00Z', null],
  email: ['a@b.co', 'x.y@example.org', null],
  url: ['https://example.com/a?b=c', 'http://x.org', null],
  // 7 and {7}: an option id no option has (a DBA's write): a value, lost when converted
  single_select: ['1', '2', '7', null],
  json: ['{"a":1}', '"just text"', '42', '12345678901234567890', '1.50', 'true', '[1,2]', 'null', null],
  link: ['1', '2', null],
  rating: ['1', '3', '5', null],
  percent: ['0', '12.5', '-3', '100', null],
  currency: ['0', '9.99', '-12.5', '12345678.1234', null],
  duration: ['1:30', '90 minutes', '00:00:00.5', '36:00:00', '-0:15', '1 day', null],
  phone: ['+44 20 7946 0958', '(555) 010-9999 x12', '112', null],
  multiple_select: ['{1}', '{1,2}', '{2}', '{7}', '{1,7}', null],
};

export const OPTIONS: Partial<Record<FieldTypeName, Record<string, unknown>>> = {
  number: { decimals: 2 },
  single_select: { choices: [{ id: 1, label: 'Red' }, { id: 2, label: 'Green' }] },
  multiple_select: { choices: [{ id: 1, label: 'Red' }, { id: 2, label: 'Green' }] },
  rating: { max: 5 },
  percent: { decimals: 1 },
  currency: { code: 'EUR', decimals: 4 },
};

/** Makes the table the matrix's link fields point at (rows 1 and 2 exist); answers its id. */
export async function matrixLinkTarget(app: TestApp, sql: Sql): Promise<number> {
  const target = await app.request('POST', '/tables', { json: { name: 'Targets', table_name: 'targets' } });
  await sql.exec(`INSERT INTO data.targets (name) VALUES ('one'), ('two')`);
  return target.body.id;
}

/** A type's options in the matrix: a link to `targetTableId`. */
export const matrixOptions = (t: FieldTypeName, targetTableId: number): Record<string, unknown> => (t === 'link' ? { table_id: targetTableId } : OPTIONS[t] ?? {});
