// Small helpers shared by the field type modules.
import { literal } from '../db/ident.js';
import { FieldValueError } from './types.js';

/** Form inputs send '' for "no value"; JSON sends null. Both mean empty. */
export function isEmpty(input: unknown): boolean {
  return input === undefined || input === null || (typeof input === 'string' && input.trim() === '');
}

export function asText(input: unknown, max = 1_000_000): string {
  if (typeof input === 'number' || typeof input === 'boolean') return String(input);
  if (typeof input !== 'string') throw new FieldValueError('must be text');
  if (input.includes('\0')) throw new FieldValueError('may not contain NUL bytes');
  if (input.length > max) throw new FieldValueError(`is longer than ${max} characters`);
  return input;
}

/** A CASE over literal pairs, for option ids <-> labels; built from validated options. */
export function caseMap(expr: string, pairs: Array<[string, string]>, elseSql = 'NULL'): string {
  if (pairs.length === 0) return elseSql === 'NULL' ? 'NULL' : elseSql;
  return `CASE ${expr} ${pairs.map(([k, v]) => `WHEN ${k} THEN ${v}`).join(' ')} ELSE ${elseSql} END`;
}

export const lit = literal;
