// number: `decimals` places; 0 is an integer (bigint), otherwise numeric(30, decimals).
// Values are read as text (selectCast) and never pass through a float on the way in.
import { z } from 'zod';
import { isEmpty } from './common.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

const options = z.object({ decimals: z.number().int().min(0).max(10).default(0) }).strict();
type Opts = z.infer<typeof options>;

export const NUMERIC_PRECISION = 30;
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$/;
const SQL_NUMBER_RE = `'^[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]{1,3})?$'`;
const BIGINT_MAX = 9223372036854775807n;

/** Digits before the point that fit: bigint's range, or the numeric's precision. */
function limitSql(opts: Opts): string {
  return opts.decimals === 0 ? '9223372036854775807' : `1e${NUMERIC_PRECISION - opts.decimals}`;
}

function parse(input: unknown, opts: Opts): string | null {
  if (isEmpty(input)) return null;
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new FieldValueError('must be a finite number');
    text = String(input);
  } else if (typeof input === 'string') {
    text = input.trim();
  } else {
    throw new FieldValueError('must be a number');
  }
  if (!NUMBER_RE.test(text)) throw new FieldValueError(`"${text.slice(0, 40)}" is not a number`);
  const normalised = expandExponent(text);
  const [intPart = '0', frac = ''] = normalised.replace(/^[+-]/, '').split('.');
  const fracDigits = frac.replace(/0+$/, '');
  if (fracDigits.length > opts.decimals) {
    throw new FieldValueError(opts.decimals === 0 ? 'must be a whole number' : `has more than ${opts.decimals} decimal places`);
  }
  const intDigits = intPart.replace(/^0+/, '');
  if (opts.decimals === 0) {
    const big = BigInt(normalised.split('.')[0]!.replace(/^\+/, '') || '0');
    if (big > BIGINT_MAX || big < -BIGINT_MAX - 1n) throw new FieldValueError('is too large');
    return big.toString();
  }
  if (intDigits.length > NUMERIC_PRECISION - opts.decimals) throw new FieldValueError('is too large');
  return normalised;
}

/** '1.5e3' -> '1500' without floating point. */
function expandExponent(text: string): string {
  const m = /^([+-]?)(\d*)\.?(\d*)[eE]([+-]?\d+)$/.exec(text);
  if (!m) return text;
  const [, sign, i = '', f = '', e] = m;
  const exp = Number(e);
  let digits = i + f;
  let point = i.length + exp;
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits += '0'.repeat(point - digits.length);
  const whole = digits.slice(0, point).replace(/^0+(?=\d)/, '') || '0';
  const frac = digits.slice(point);
  return `${sign}${whole}${frac ? `.${frac}` : ''}`;
}

/** A JSON number when it survives the trip through a double exactly; the exact text otherwise. */
export function numberToJson(v: unknown): number | string | null {
  if (v == null) return null;
  const text = String(v);
  const canonical = text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
  const n = Number(text);
  return String(n) === canonical ? n : text;
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
  selectCast: 'text',
  toText: (e) => `(${e})::text`,
  fromText: (t, o) =>
    `CASE WHEN btrim(${t}) ~ ${SQL_NUMBER_RE} THEN CASE WHEN abs(tablewright.try_numeric(${t})) <= ${limitSql(o)} ` +
    `THEN round(tablewright.try_numeric(${t}), ${o.decimals}) END END`,
};
