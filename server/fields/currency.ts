// currency: an amount in one currency (`code`, ISO 4217, default USD) with `decimals`
// places (default 2, at most 4), exact, in numeric(30, decimals). Input may carry the
// code before or after the amount ('USD 12.50', '12.50 usd'); nothing is converted.
import { z } from 'zod';
import { isEmpty } from './common.js';
import { formInt } from './form_int.js';
import { NUMERIC_PRECISION, numberToJson, numberType } from './number.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

const options = z
  .object({
    code: z.preprocess((v) => (typeof v === 'string' ? v.trim().toUpperCase() || undefined : v), z.string().regex(/^[A-Z]{3}$/, 'code is three letters (ISO 4217), e.g. EUR').optional()),
    decimals: formInt(z.number().int().min(0).max(4)),
  })
  .strict()
  .transform((o) => ({ code: o.code ?? 'USD', decimals: o.decimals ?? 2 }));
type Opts = { code: string; decimals: number };

/**
 * A code of three letters before and/or after the amount ('USD 12.50', '12.50usd').
 * Anchored, fixed-length patterns only: linear in the input, whatever it holds (a single
 * regular expression with optional parts around a lazy middle backtracked for minutes
 * on a thousand spaces).
 */
function splitCode(input: string): { lead?: string; amount: string; trail?: string } {
  let rest = input.trim();
  const head = /^[A-Za-z]{3}(?![A-Za-z])/.exec(rest);
  const lead = head?.[0];
  if (lead) rest = rest.slice(3).trimStart();
  const tail = /(?<![A-Za-z])[A-Za-z]{3}$/.exec(rest);
  const trail = tail?.[0];
  if (trail) rest = rest.slice(0, -3).trimEnd();
  return { lead, amount: rest, trail };
}

export const currencyType: FieldTypeDef<Opts> = {
  name: 'currency',
  label: 'Currency',
  options: options as unknown as z.ZodType<Opts>,
  sqlType: (o) => `numeric(${NUMERIC_PRECISION},${o.decimals})`,
  parse(input, o) {
    if (isEmpty(input)) return null;
    let v = input;
    if (typeof input === 'string') {
      if (input.length > 1100) throw new FieldValueError('is not an amount');
      const { lead, amount, trail } = splitCode(input);
      const code = lead ?? trail;
      if (lead && trail) throw new FieldValueError(`"${input.slice(0, 40)}" is not an amount`);
      if (code && code.toUpperCase() !== o.code) throw new FieldValueError(`is in ${code.toUpperCase()}; this field holds ${o.code}`);
      v = amount;
      if (amount === '') throw new FieldValueError(`"${input.slice(0, 40)}" is not an amount`);
    }
    try {
      return numberType.parse(v, { decimals: o.decimals });
    } catch (err) {
      if (err instanceof FieldValueError) throw new FieldValueError(err.message.replace('is not a number', `is not an amount in ${o.code}`));
      throw err;
    }
  },
  toJson: numberToJson,
  display: (v, o) => (v == null ? '' : `${o.code} ${String(v)}`),
  filterOps: numberType.filterOps,
  searchable: false,
  selectSql: (e) => `(${e})::text`,
  toText: (e) => `(${e})::text`,
  // the code (validated: three letters) may stand before or after the amount
  fromText: (t, o) => `tablewright.try_number(regexp_replace(left(${t}, 1000), '^\\s*${o.code}\\s*|\\s*${o.code}\\s*$', '', 'gi'), ${o.decimals})`,
};
