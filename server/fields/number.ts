// number: `decimals` places; 0 is an integer (bigint), otherwise numeric(30, decimals).
// Values are read as text (selectSql) and never pass through a float, either way.
import { z } from 'zod';
import { isEmpty } from './common.js';
import { decimalText, isJsonNumber, MAX_NUMBER_TEXT, parseDecimal, survivesDouble } from './decimal.js';
import { RawJson } from './exact_json.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

const options = z.object({ decimals: z.number().int().min(0).max(10).default(0) }).strict();
type Opts = z.infer<typeof options>;

export const NUMERIC_PRECISION = 30;

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
  const d = parseDecimal(text);
  if (!d) {
    if (text.length > MAX_NUMBER_TEXT) throw new FieldValueError(`is not a number (longer than ${MAX_NUMBER_TEXT} characters)`);
    throw new FieldValueError(`"${text.trim().slice(0, 40)}" is not a number`);
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
  if (d.whole.length > NUMERIC_PRECISION - opts.decimals) throw new FieldValueError('is too large');
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
  sqlType: (o) => (o.decimals === 0 ? 'bigint' : `numeric(${NUMERIC_PRECISION},${o.decimals})`),
  parse,
  toJson: numberToJson,
  display: (v) => (v == null ? '' : String(v)),
  filterOps: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'empty', 'not_empty', 'in'],
  searchable: false,
  selectSql: (e) => `(${e})::text`,
  toText: (e) => `(${e})::text`,
  // NULL (lost, and reported) for a number that would be rounded or does not fit.
  fromText: (t, o) => `tablewright.try_number(${t}, ${o.decimals})`,
};
