// json: a jsonb column. Values go to PostgreSQL as JSON text and come back as PostgreSQL's
// own text of the jsonb (a RawJson, written into responses as it is): every digit of
// every number survives both ways (see exact_json.ts).
import { z } from 'zod';
import { isEmpty } from './common.js';
import { JsonSyntaxError, jsonbProblem, parseExactJson, RawJson, stringifyExact } from './exact_json.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

export const MAX_JSON_TEXT = 1_000_000;

/** The JSON text of a value for the grid and CSV: exactly as PostgreSQL holds it. */
export function jsonText(v: unknown): string {
  return v instanceof RawJson ? v.text : stringifyExact(v);
}

export const jsonType: FieldTypeDef<Record<string, never>> = {
  name: 'json',
  label: 'JSON',
  options: z.object({}).strict(),
  sqlType: () => 'jsonb',
  // A string is JSON text (from a form, a CSV cell, or "\"hello\"" for a JSON string),
  // handed to PostgreSQL as it is once it reads as JSON; other JSON values (a body's
  // object, list, number) are written out exactly.
  parse(input) {
    if (isEmpty(input)) return null;
    let text: string;
    if (typeof input === 'string') {
      if (input.length > MAX_JSON_TEXT) throw new FieldValueError('is larger than 1 MB');
      if (!(input as string & { isWellFormed(): boolean }).isWellFormed()) throw new FieldValueError('is not valid Unicode (half of a UTF-16 surrogate pair)');
      try {
        parseExactJson(input);
      } catch (err) {
        if (err instanceof JsonSyntaxError) throw new FieldValueError(`is not valid JSON: ${err.message.slice(0, 80)}`);
        throw err;
      }
      text = input;
    } else {
      text = stringifyExact(input);
      if (text.length > MAX_JSON_TEXT) throw new FieldValueError('is larger than 1 MB');
    }
    const problem = jsonbProblem(text);
    if (problem) throw new FieldValueError(problem);
    return text;
  },
  toJson: (v) => (v == null ? null : v instanceof RawJson ? v : new RawJson(String(v))),
  display: (v) => {
    if (v == null) return '';
    const s = jsonText(v);
    return s.length > 80 ? `${s.slice(0, 79)}…` : s;
  },
  filterOps: ['contains', 'empty', 'not_empty'],
  searchable: false,
  selectSql: (e) => `(${e})::text`,
  toText: (e) => `CASE WHEN jsonb_typeof(${e}) = 'string' THEN ${e} #>> '{}' ELSE (${e})::text END`,
  // Text that is JSON becomes that value; any other text becomes a JSON string: lossless.
  fromText: (t) => `coalesce(tablewright.try_jsonb(NULLIF(${t}, '')), to_jsonb(NULLIF(${t}, '')))`,
};
