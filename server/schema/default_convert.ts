// A field's default through a type change, converted by the database as the column's values
// are (conversionSql over the old default's value): a row holding the old default and a row
// inserted after the change get the same value, by construction. A re-parse of the stored
// default in JavaScript disagreed with the values' route in many places (a hostile review:
// a number default looked up as an option id, text "42" made the JSON string "42", 1.50
// written 1.5, offsets read differently, stricter parsers refusing what the SQL keeps).
import type { Queryable } from '../db/pool.js';
import { conversionSql, type FieldShape } from '../fields/convert.js';
import { stringifyExact } from '../fields/exact_json.js';
import { fieldType } from '../fields/registry.js';
import type { SqlEnv } from '../fields/types.js';
import type { FieldMeta } from './metadata.js';

export interface ConvertedDefault {
  /** the field's default as its metadata holds it */
  json: unknown;
  /** the column's DEFAULT expression */
  sql: string;
}

/**
 * The default of `field` converted to `to` by the values' conversion, as the new type
 * reads it back (toJson): undefined when the field has none or it would not convert (its
 * value would be lost, as a row's would). `oldDefaultSql` is the old default's SQL
 * (parseDefault of the old type), or null when it no longer parses (lost too).
 */
export async function convertDefaultInDb(db: Queryable, field: FieldMeta, to: FieldShape, env: SqlEnv, oldDefaultSql: string | null): Promise<unknown> {
  if (field.default_value === null || field.default_value === undefined || oldDefaultSql === null) return undefined;
  const from: FieldShape = { type: field.type, options: field.options };
  const type = fieldType(to.type);
  const converted = conversionSql(from, to, 'd.v', env);
  const read = type.selectSql ? type.selectSql(`(${converted})`, to.options) : `(${converted})`;
  const { rows } = await db.query<{ v: unknown }>(`SELECT ${read} AS v FROM (SELECT ${oldDefaultSql} AS v) d`);
  const v = rows[0]?.v;
  return v === null || v === undefined ? undefined : type.toJson(v, to.options);
}

/** The stored default as input for its own type's parse: JSON's as its text (a string there is JSON text). */
export function storedDefaultInput(field: FieldMeta): unknown {
  return field.type === 'json' ? stringifyExact(field.default_value) : field.default_value;
}
