// number: `decimals` places; 0 is an integer (bigint), otherwise numeric(p, decimals) with
// p = 30 up to 10 decimals (the original fields), decimals + 20 past that (at most 1000,
// PostgreSQL's own limit for a declared numeric). `any_precision` is a plain `numeric`:
// any number of digits either side of the point (up to MAX_ANY_TEXT characters of text).
// Values are read as text (selectSql) and never pass through a float, either way.
import { z } from 'zod';
import { isEmpty } from './common.js';
import { decimalText, isJsonNumber, MAX_NUMBER_TEXT, parseDecimal, survivesDouble } from './decimal.js';
import { RawJson } from './exact_json.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

/** PostgreSQL's limit on a declared numeric's precision and scale. */
export const MAX_DECIMALS = 1000;
/** A plain numeric holds 131072 digits before the point and 16383 after; a text this long is read. */
export const MAX_ANY_TEXT = 20_000;
const MAX_ANY_FRACTION = 16_383;

const options = z
  .object({ decimals: z.number().int().min(0).max(MAX_DECIMALS).default(0), any_precision: z.boolean().optional() })
  .strict();
type Opts = z.infer<typeof options>;

export const NUMERIC_PRECISION = 30;

/** The declared precision of a number field with `decimals` places (30 as ever up to 10). */
export const numberPrecision = (decimals: number): number => (decimals <= 10 ? NUMERIC_PRECISION : Math.min(MAX_DECIMALS, decimals + 20));

/** The column type of a number field. */
export function numberSqlType(o: Opts): string {
  if (o.any_precision) return 'numeric';
  return o.decimals === 0 ? 'bigint' : `numeric(${numberPrecision(o.decimals)},${o.decimals})`;
}

function parse(input: unknown, opts: Opts): string | null {
  if (isEmpty(input)) return null;
  let text: string;
  if (input instanceof RawJson) {
    text = input.text;
  } else if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new FieldValueError('must be a finite number');
    text = String(input);
  } else if (typeof input === 'string') {
    text = input;
  } else {
    throw new FieldValueError('must be a number');
  }
  const maxText = opts.any_precision ? MAX_ANY_TEXT : Math.max(MAX_NUMBER_TEXT, opts.decimals + 64);
  const d = parseDecimal(text, maxText);
  if (!d) {
    if (text.length > maxText) throw new FieldValueError(`is not a number (longer than ${maxText} characters)`);
    throw new FieldValueError(`"${text.trim().slice(0, 40)}" is not a number`);
  }
  if (opts.any_precision) {
    if (d.fraction.length > MAX_ANY_FRACTION) throw new FieldValueError(`has more than ${MAX_ANY_FRACTION} decimal places`);
    return decimalText(d);
  }
  // Never rounded: more decimals than the field keeps is a refusal, however they arrive.
  if (d.fraction.length > opts.decimals) {
    throw new FieldValueError(opts.decimals === 0 ? 'must be a whole number' : `has more than ${opts.decimals} decimal places`);
  }
  if (opts.decimals === 0) {
    const big = BigInt(decimalText(d));
    if (big > BIGINT_MAX || big < BIGINT_MIN) throw new FieldValueError('is too large');
    return big.toString();
  }
  if (d.whole.length > numberPrecision(opts.decimals) - opts.decimals) throw new FieldValueError('is too large');
  return decimalText(d);
}

const BIGINT_MAX = 9223372036854775807n;
const BIGINT_MIN = -9223372036854775808n;

/**
 * A number as PostgreSQL writes it (numeric or bigint text) -> its JSON: a JS number when
 * the text reads back the same, else the same digits as a RawJson number token. NaN and
 * Infinity (an adopted float or numeric) are no JSON numbers: their text, as a string.
 */
export function numberToJson(v: unknown): number | RawJson | string | null {
  if (v == null) return null;
  const text = String(v);
  if (survivesDouble(text)) return Number(text);
  return isJsonNumber(text) ? new RawJson(text) : text;
}

export const numberType: FieldTypeDef<Opts> = {
  name: 'number',
  label: 'Number',
  options,
  sqlType: numberSqlType,
  parse,
  toJson: numberToJson,
  display: (v) => (v == null ? '' : String(v)),
  filterOps: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'empty', 'not_empty', 'in'],
  searchable: false,
  selectSql: (e) => `(${e})::text`,
  toText: (e) => `(${e})::text`,
  // NULL (lost, and reported) for a number that would be rounded or does not fit.
  fromText: (t, o) =>
    o.any_precision ? `tablewright.try_numeric(${t})` : o.decimals <= 10 ? `tablewright.try_number(${t}, ${o.decimals})` : `tablewright.try_number(${t}, ${o.decimals}, ${numberPrecision(o.decimals)})`,
};
