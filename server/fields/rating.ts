// rating: a whole number from 1 to `max` (default 5, at most 10), in a smallint. 0 or
// empty is no rating (NULL). The range is checked by the parser and by conversions.
import { z } from 'zod';
import { asText, isEmpty, wholeNumberInput } from './common.js';
import { formInt } from './form_int.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

const options = z
  .object({ max: formInt(z.number().int().min(1, 'max is at least 1').max(10, 'max is at most 10')) })
  .strict()
  .transform((o) => ({ max: o.max ?? 5 }));
type Opts = { max: number };

export const ratingType: FieldTypeDef<Opts> = {
  name: 'rating',
  label: 'Rating',
  options: options as unknown as z.ZodType<Opts>,
  sqlType: () => 'smallint',
  parse(raw, opts) {
    const input = wholeNumberInput(raw);
    if (isEmpty(input)) return null;
    const text = typeof input === 'number' ? String(input) : asText(input, 100).trim();
    // '★★★' counts stars, as the grid shows them
    const n = /^★{1,10}$/.test(text) ? text.length : /^\d{1,2}$/.test(text) ? Number(text) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > opts.max) throw new FieldValueError(`must be a whole number from 1 to ${opts.max}`);
    return n;
  },
  toJson: (v) => (v == null ? null : Number(v)),
  display: (v, o) => (v == null ? '' : `${'★'.repeat(Number(v))}${'☆'.repeat(Math.max(0, o.max - Number(v)))}`),
  filterOps: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'empty', 'not_empty', 'in'],
  searchable: false,
  toText: (e) => `(${e})::text`,
  // 1..max, written as a whole number (3, 3.0); anything else is NULL (lost, and reported)
  fromText: (t, o) =>
    `CASE WHEN btrim(${t}) ~ '^[0-9]{1,2}(\\.0*)?$' THEN CASE WHEN split_part(btrim(${t}), '.', 1)::int BETWEEN 1 AND ${o.max} THEN split_part(btrim(${t}), '.', 1)::smallint END END`,
};
