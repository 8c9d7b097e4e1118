// Adding a lookup or rollup field: its options are checked against the metadata (a live
// link field of this table, a live field of the linked table that the function can
// aggregate), and the field is a metadata row alone: no column, no DDL, read-only.
import { unprocessable } from '../errors.js';
import { isComputedType, NUMERIC_TYPES, ORDERED_TYPES } from '../fields/computed.js';
import type { Change } from './change.js';
import { getField, type FieldCore, type FieldMeta, type TableMeta } from './metadata.js';
import { isManyLink } from './m2m.js';

/** What a lookup or rollup reads, or why it cannot: checked on creation, and by the model on every compile. */
export function checkComputedSource(link: FieldCore | undefined, target: FieldCore | undefined, opts: { field_id?: number; fn?: string }, type: 'lookup' | 'rollup'): { field: string; message: string } | null {
  if (!link || link.trashed_at) return { field: 'options.link_field_id', message: 'is not a live field of this table' };
  if (link.type !== 'link') return { field: 'options.link_field_id', message: `"${link.name}" is not a link field` };
  if (opts.field_id === undefined) return type === 'rollup' && opts.fn === 'count' ? null : { field: 'options.field_id', message: 'is required (the linked table\'s field to read)' };
  if (!target || target.trashed_at) return { field: 'options.field_id', message: `is not a live field of the linked table` };
  if (isComputedType(target.type) || isManyLink(target)) return { field: 'options.field_id', message: `"${target.name}" is itself computed from links; pick a field with a column` };
  if (type === 'rollup') {
    const numeric = NUMERIC_TYPES.has(target.type) || target.type === 'duration';
    if ((opts.fn === 'sum' || opts.fn === 'avg') && !numeric) return { field: 'options.fn', message: `${opts.fn} needs a number field; "${target.name}" is ${target.type}` };
    if ((opts.fn === 'min' || opts.fn === 'max') && !numeric && !ORDERED_TYPES.has(target.type)) return { field: 'options.fn', message: `${opts.fn} needs a field with an order; "${target.name}" is ${target.type}` };
  }
  return null;
}

export async function addComputedField(
  c: Change,
  table: TableMeta,
  spec: { name: string; column: string; type: 'lookup' | 'rollup'; options: { link_field_id: number; field_id?: number; fn?: string }; position: number },
  prefix = '',
): Promise<FieldMeta> {
  const link = await getField(c.tx, table.id, spec.options.link_field_id).catch(() => undefined);
  const target = link && link.type === 'link' && spec.options.field_id !== undefined ? await getField(c.tx, link.options.table_id, spec.options.field_id).catch(() => undefined) : undefined;
  const problem = checkComputedSource(link, target, spec.options, spec.type);
  if (problem) throw unprocessable('invalid_options', `${problem.field}: ${problem.message}`, `${prefix}${problem.field}`);
  c.reached('validate');
  const { rows } = await c.tx.query<{ id: number }>(
    /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position, read_only) VALUES ($1, $2, $3, $4, $5, $6, true) RETURNING id`,
    [table.id, spec.name, spec.column, spec.type, spec.options, spec.position],
  );
  return getField(c.tx, table.id, rows[0]!.id);
}

/**
 * Adding a formula computed at read time (it uses today(), which a stored generated column
 * cannot): a metadata row alone, like a lookup; the listing query computes it.
 */
export async function addVirtualFormula(
  c: Change,
  table: TableMeta,
  spec: { name: string; column: string; options: object; position: number },
): Promise<FieldMeta> {
  c.reached('validate');
  const { rows } = await c.tx.query<{ id: number }>(
    /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position, read_only) VALUES ($1, $2, $3, 'formula', $4, $5, false) RETURNING id`,
    [table.id, spec.name, spec.column, spec.options, spec.position],
  );
  return getField(c.tx, table.id, rows[0]!.id);
}
