// Small helpers shared by the field type modules.
import { literal } from '../db/ident.js';
import { parseDecimal } from './decimal.js';
import { RawJson } from './exact_json.js';
import { FieldValueError } from './types.js';

/** Form inputs send '' for "no value"; JSON sends null. Both mean empty. */
export function isEmpty(input: unknown): boolean {
  return input === undefined || input === null || (typeof input === 'string' && input.trim() === '');
}

/**
 * A value as text: a string, or a JSON number or boolean as written (a RawJson number
 * keeps its digits). NUL bytes and lone UTF-16 surrogates are refused: PostgreSQL cannot
 * store the one, and the other would silently become U+FFFD on the way.
 */
export function asText(input: unknown, max = 1_000_000): string {
  if (input instanceof RawJson) return input.text;
  if (typeof input === 'number' || typeof input === 'boolean') return String(input);
  if (typeof input !== 'string') throw new FieldValueError('must be text');
  if (input.length > max) throw new FieldValueError(`is longer than ${max} characters`);
  if (input.includes('\0')) throw new FieldValueError('may not contain NUL bytes');
  if (!(input as string & { isWellFormed(): boolean }).isWellFormed()) throw new FieldValueError('is not valid Unicode (half of a UTF-16 surrogate pair)');
  return input;
}

/**
 * A JSON number kept as text because a double would write it differently (2.0, 1e0)
 * -> the JS number it equals when that is a safe integer: for fields that take small
 * whole numbers (a checkbox's 1/0, an option's id). Anything else stays as it came.
 */
export function wholeNumberInput(input: unknown): unknown {
  if (!(input instanceof RawJson)) return input;
  const d = parseDecimal(input.text);
  if (!d || d.fraction !== '' || d.whole.length > 15) return input;
  return Number(`${d.negative ? '-' : ''}${d.whole || '0'}`);
}

/** A CASE over literal pairs, for option ids <-> labels; built from validated options. */
export function caseMap(expr: string, pairs: Array<[string, string]>, elseSql = 'NULL'): string {
  if (pairs.length === 0) return elseSql === 'NULL' ? 'NULL' : elseSql;
  return `CASE ${expr} ${pairs.map(([k, v]) => `WHEN ${k} THEN ${v}`).join(' ')} ELSE ${elseSql} END`;
}

export const lit = literal;
