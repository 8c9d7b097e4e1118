// percent: the percentage itself (50 is 50 %), exact, with `decimals` places (default 0),
// in numeric(30, decimals) like a number: a DBA reads 50, not 0.5. Input may end in '%'.
import { z } from 'zod';
import { isEmpty } from './common.js';
import { RawJson } from './exact_json.js';
import { formInt } from './form_int.js';
import { NUMERIC_PRECISION, numberToJson, numberType } from './number.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

const options = z
  .object({ decimals: formInt(z.number().int().min(0).max(10)) })
  .strict()
  .transform((o) => ({ decimals: o.decimals ?? 0 }));
type Opts = { decimals: number };

/** '12.5 %' -> '12.5'; anything else as it came. */
export function stripSuffix(input: unknown, suffix: RegExp): unknown {
  if (typeof input !== 'string') return input;
  return input.replace(suffix, '');
}

export const percentType: FieldTypeDef<Opts> = {
  name: 'percent',
  label: 'Percent',
  options: options as unknown as z.ZodType<Opts>,
  sqlType: (o) => `numeric(${NUMERIC_PRECISION},${o.decimals})`,
  parse(input, o) {
    if (isEmpty(input)) return null;
    if (typeof input === 'string' && input.length > 1100) throw new FieldValueError('is not a percentage');
    try {
      return numberType.parse(input instanceof RawJson ? input : stripSuffix(input, /\s*%\s*$/), o);
    } catch (err) {
      if (err instanceof FieldValueError) throw new FieldValueError(err.message.replace('is not a number', 'is not a percentage'));
      throw err;
    }
  },
  toJson: numberToJson,
  display: (v) => (v == null ? '' : `${String(v)} %`),
  filterOps: numberType.filterOps,
  searchable: false,
  selectSql: (e) => `(${e})::text`,
  toText: (e) => `(${e})::text`,
  fromText: (t, o) => `tablewright.try_number(regexp_replace(left(${t}, 1000), '\\s*%\\s*$', ''), ${o.decimals})`,
};
