// lookup and rollup: values read through a link field of the same table (one-to-many or
// many-to-many), computed by the listing query (server/model/linked.ts); no column, and
// read-only everywhere. A lookup is the list of a linked table's field's non-empty values
// (ordered by linked row id); a rollup one aggregate of them:
//   count   the linked rows (with field_id: the non-empty values)    0 when none
//   sum     the values' sum                                           0 when none
//   avg, min, max                                                      null when none
//   concat  the values' text, ", "-separated, by linked row id         null when none
import { z } from 'zod';
import { asText, isEmpty } from './common.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

export const ROLLUP_FUNCTIONS = ['count', 'sum', 'avg', 'min', 'max', 'concat'] as const;
export type RollupFn = (typeof ROLLUP_FUNCTIONS)[number];

/** Field types whose values sum and average. */
export const NUMERIC_TYPES = new Set(['number', 'percent', 'currency', 'rating', 'autonumber']);
/** Field types with an order for min and max (besides the numeric ones). */
export const ORDERED_TYPES = new Set(['date', 'datetime', 'created_at', 'updated_at', 'text', 'long_text', 'email', 'url', 'phone', 'duration']);

const lookupOptions = z.object({ link_field_id: z.number().int().min(1), field_id: z.number().int().min(1) }).strict();
const rollupOptions = z
  .object({ link_field_id: z.number().int().min(1), field_id: z.number().int().min(1).optional(), fn: z.enum(ROLLUP_FUNCTIONS) })
  .strict();

const readOnly = (): never => {
  throw new FieldValueError('is computed from linked rows (read-only)');
};
const noColumn = (): never => {
  throw new Error('a computed field has no column');
};

export const lookupType: FieldTypeDef<z.infer<typeof lookupOptions>> = {
  name: 'lookup',
  label: 'Lookup (through a link)',
  options: lookupOptions,
  sqlType: noColumn,
  // a filter value: text compared with each value's text
  parse: (input) => (isEmpty(input) ? null : asText(input, 10_000)),
  toJson: (v) => (Array.isArray(v) ? v : []),
  display: (v) => (Array.isArray(v) ? v.map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x))).join(', ') : ''),
  filterOps: ['contains', 'eq', 'empty', 'not_empty'],
  searchable: false,
  toText: noColumn,
  fromText: noColumn,
};

export const rollupType: FieldTypeDef<z.infer<typeof rollupOptions>> = {
  name: 'rollup',
  label: 'Rollup (through a link)',
  options: rollupOptions,
  sqlType: noColumn,
  // a filter value: PostgreSQL reads it as the rollup's own type (a number, a date, text)
  parse(input) {
    if (isEmpty(input)) return null;
    const text = asText(input, 10_000).trim();
    if (text.length > 1000) throw new FieldValueError('is too long to compare');
    return text;
  },
  toJson: (v) => v ?? null,
  display: (v) => (v == null ? '' : String(v)),
  filterOps: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'contains', 'empty', 'not_empty'],
  searchable: false,
  toText: noColumn,
  fromText: noColumn,
};

export const isComputedType = (type: string): boolean => type === 'lookup' || type === 'rollup';
export { readOnly as computedWrite };
