// One column's cells -> COPY text, at speed and exactly: the import's hot loop.
//
// The field type's own parser (server/fields/*) decides every value; the encoder only
// avoids asking it twice. Two shortcuts, both checked by property against the parser
// (test/import/cells.test.ts):
//   - a cell already in the exact form the parser would return (a plain number within the
//     field's digits, an ISO date, an ISO datetime in UTC) is its own COPY text: the parser
//     would hand back the same characters, and none of them needs escaping;
//   - a column whose values repeat (booleans, selects, days, codes) remembers the answer
//     for each value it met (bounded; dropped when values turn out not to repeat).
// Anything else goes through the parser, as every other write does.
import { validDay } from '../fields/date.js';
import { numberPrecision } from '../fields/number.js';
import { FieldValueError } from '../fields/types.js';
import type { ModelField } from '../model/compile.js';
import { copyText, escapeCopy } from './copy.js';

/** COPY's NULL. */
export const COPY_NULL = '\\N';

/** The COPY text of a non-empty cell (COPY_NULL when the parser reads it as empty); throws FieldValueError. */
export type CellEncoder = (cell: string) => string;

const MEMO_ENTRIES = 4096;
/** Lookups after which a memo that hits less than half the time is dropped. */
const MEMO_TRIAL = 8192;

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Whether `s` is a number exactly as the number parser writes it back (no sign but a
 * leading -, no leading zero, no trailing zero after the point, no exponent, no spaces),
 * with at most `maxWhole` digits before the point and `maxFrac` after it. -0... is left to
 * the parser.
 */
export function canonicalNumber(s: string, maxWhole: number, maxFrac: number): boolean {
  const n = s.length;
  let i = 0;
  if (n === 0) return false;
  if (s.charCodeAt(0) === 45) i = 1;
  const w0 = i;
  const first = s.charCodeAt(i);
  if (first === 48) {
    if (i === 1) return false;
    i++;
  } else {
    while (i < n && isDigit(s.charCodeAt(i))) i++;
  }
  const whole = i - w0;
  if (whole === 0 || whole > maxWhole) return false;
  if (i === n) return true;
  if (s.charCodeAt(i) !== 46 || maxFrac === 0) return false;
  const f0 = ++i;
  while (i < n && isDigit(s.charCodeAt(i))) i++;
  const frac = i - f0;
  return i === n && frac > 0 && frac <= maxFrac && s.charCodeAt(n - 1) !== 48;
}

const two = (s: string, at: number) => (s.charCodeAt(at) - 48) * 10 + (s.charCodeAt(at + 1) - 48);
const digitsAt = (s: string, from: number, to: number) => {
  for (let i = from; i < to; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
};

/** YYYY-MM-DD, a real day of the years 1000-9999: the date parser's own answer. */
export function canonicalDate(s: string): boolean {
  return s.length === 10 && dateAt(s);
}

/** s starts with YYYY-MM-DD, a real day of the years 1000-9999. */
function dateAt(s: string): boolean {
  return (
    s.charCodeAt(4) === 45 &&
    s.charCodeAt(7) === 45 &&
    digitsAt(s, 0, 4) &&
    digitsAt(s, 5, 7) &&
    digitsAt(s, 8, 10) &&
    s.charCodeAt(0) !== 48 &&
    validDay(two(s, 0) * 100 + two(s, 2), two(s, 5), two(s, 8))
  );
}

/** YYYY-MM-DDTHH:MM:SS[.ffffff]Z (years 1000-9999): the datetime parser's own answer. */
export function canonicalDatetime(s: string): boolean {
  const n = s.length;
  if (n < 20 || n > 27 || n === 21 || s.charCodeAt(n - 1) !== 90 /* Z */) return false;
  if (!dateAt(s) || s.charCodeAt(10) !== 84 /* T */ || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
  if (!digitsAt(s, 11, 13) || !digitsAt(s, 14, 16) || !digitsAt(s, 17, 19)) return false;
  if (two(s, 11) > 23 || two(s, 14) > 59 || two(s, 17) > 59) return false;
  if (n === 20) return true;
  return s.charCodeAt(19) === 46 && digitsAt(s, 20, n - 1);
}

/** The shortcut for values already in their stored form, when the type has one. */
function exactForm(f: ModelField): ((s: string) => boolean) | null {
  const o = f.options as { decimals?: number; any_precision?: boolean };
  switch (f.meta.type) {
    case 'number': {
      if (o.any_precision) return (s) => s.length <= 1000 && canonicalNumber(s, 1000, 1000);
      const d = o.decimals ?? 0;
      if (d === 0) return (s) => canonicalNumber(s, 18, 0); // 18 digits always fit a bigint
      const whole = numberPrecision(d) - d;
      return (s) => canonicalNumber(s, whole, d);
    }
    case 'date':
      return canonicalDate;
    case 'datetime':
      return canonicalDatetime;
    default:
      return null;
  }
}

/** The parser's answer as COPY text. */
export function slowEncode(f: ModelField, parse: (cell: string) => unknown, cell: string): string {
  const v = parse(cell);
  if (v === null || v === undefined) return COPY_NULL;
  // a multiple select's option ids: an integer[] literal, not JSON
  if (Array.isArray(v) && f.meta.type === 'multiple_select') return `{${v.map(Number).join(',')}}`;
  return copyText(v);
}

/**
 * The encoder of one column. `parse` is the field's parser with its options (or, with
 * add_options, one that grows the options: it has side effects, so it is never memoised).
 */
export function cellEncoder(f: ModelField, parse: (cell: string) => unknown, pure: boolean): CellEncoder {
  const exact = exactForm(f);
  const slow = (cell: string) => slowEncode(f, parse, cell);
  if (!pure) return slow;
  // Text is its own parser's answer (or refused by it): only COPY's escaping is left, and a
  // memo would cost as much as the parser (most text does not repeat).
  if (f.meta.type === 'text' || f.meta.type === 'long_text') return (cell) => {
      const v = parse(cell);
      return v == null ? COPY_NULL : escapeCopy(v as string);
    };
  const memo = new Map<string, string | FieldValueError>();
  let lookups = 0;
  let hits = 0;
  let memoOn = true;
  return (cell) => {
    if (exact !== null && exact(cell)) return cell;
    if (!memoOn) return slow(cell);
    lookups++;
    const known = memo.get(cell);
    if (known !== undefined) {
      hits++;
      if (typeof known === 'string') return known;
      throw new FieldValueError(known.message);
    }
    if (lookups === MEMO_TRIAL && hits * 2 < lookups) {
      memoOn = false;
      memo.clear();
    }
    let out: string | FieldValueError;
    try {
      out = slow(cell);
    } catch (err) {
      if (!(err instanceof FieldValueError)) throw err;
      out = err;
    }
    // a key of its own: a cell cut out of a chunk's text would keep the whole chunk alive
    if (memoOn && memo.size < MEMO_ENTRIES) memo.set(cell.length < 13 ? cell : `${cell} `.slice(0, -1), out);
    if (typeof out === 'string') return out;
    throw out;
  };
}
