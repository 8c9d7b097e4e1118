// Converting a field to a formula: its values are replaced by computed ones, so every
// non-empty value is a loss. Like any lossy conversion it answers the loss report (a dry
// run, or 422 lossy_conversion without confirm_loss) and, confirmed, keeps the values in
// a trashed copy (server/schema/lost_values.ts) before the column is replaced by the
// formula's generated column (or, for a formula using today(), by none). One transaction.
import { ident, literal } from '../db/ident.js';
import { AppError, unprocessable } from '../errors.js';
import { isComputedType } from '../fields/computed.js';
import { fieldType } from '../fields/registry.js';
import { assertNoDependents, attnumOf } from './catalog.js';
import type { Change } from './change.js';
import { assertFormulaSpec, formulaUsers, prepareFormula, type PreparedFormula } from './formula_fields.js';
import type { Queryable } from '../db/pool.js';
import { keepLostValues, type KeptValues } from './lost_values.js';
import { hasNoColumn } from './m2m.js';
import { getField, type FieldMeta, type TableMeta } from './metadata.js';

export interface ToFormulaReport {
  field_id: number;
  rows: number;
  non_empty: number;
  lost: number;
  examples: Array<{ id: number; value: string | null }>;
  /** the field's default goes too (a formula has none): refused without confirm_loss like a lost value */
  default_lost?: true;
}

/** What converting `field` to a formula would lose: every non-empty value. */
export async function toFormulaReport(db: Queryable, relation: string, field: FieldMeta): Promise<ToFormulaReport> {
  const col = ident(field.column_name);
  const text = fieldType(field.type).toText(String(col), field.options);
  const { rows } = await db.query<{ rows: number; non_empty: number; examples: Array<{ id: number; value: string | null }> | null }>(
    `SELECT count(*)::int AS rows, count(${col})::int AS non_empty,
            (SELECT json_agg(json_build_object('id', e.id, 'value', e.v)) FROM (SELECT id, ${text} AS v FROM ${relation} WHERE ${col} IS NOT NULL ORDER BY id LIMIT 5) e) AS examples
       FROM ${relation}`,
  );
  const r = rows[0]!;
  return { field_id: field.id, rows: r.rows, non_empty: r.non_empty, lost: r.non_empty, examples: r.examples ?? [], ...(field.default_value != null ? { default_lost: true as const } : {}) };
}

/** The checks of a conversion to a formula, and its expression parsed against the table (a dry run's too). */
export async function prepareToFormula(db: Queryable, table: TableMeta, field: FieldMeta, options: unknown): Promise<PreparedFormula> {
  if (hasNoColumn(field) || isComputedType(field.type) || field.type === 'link' || fieldType(field.type).system || field.read_only) {
    throw unprocessable('invalid_conversion', `"${field.name}" (${field.type.replace(/_/g, ' ')}) cannot become a formula: add a new formula field`, 'type');
  }
  // a formula reads no other formula (PostgreSQL's generated columns cannot read each other)
  const users = await formulaUsers(db, table.id, field.id);
  if (users.length) {
    const names = users.map((f) => `"${f.name}"${f.trashed_at ? ' (in the trash)' : ''}`).join(', ');
    throw new AppError(409, 'used_by_formula', `"${field.name}" cannot become a formula: the formula${users.length > 1 ? 's' : ''} ${names} ${users.length > 1 ? 'use' : 'uses'} it, and a formula reads no other formula; change ${users.length > 1 ? 'them' : 'it'} first`, 'type', {
      formulas: users.map((f) => ({ id: f.id, name: f.name })),
    });
  }
  const expression = (options as { expression?: unknown } | null | undefined)?.expression;
  if (typeof expression !== 'string') throw new AppError(400, 'invalid_options', 'options.expression: a formula needs an expression', 'options.expression');
  return prepareFormula(db, table, expression, field.id);
}

export async function convertToFormula(
  c: Change,
  relation: string,
  table: TableMeta,
  field: FieldMeta,
  update: { options?: unknown; dry_run?: boolean; confirm: boolean; version: number },
  columnComment: (f: FieldMeta) => string,
): Promise<{ field: FieldMeta; report: ToFormulaReport; kept?: KeptValues; dryRun: boolean }> {
  const prepared = await prepareToFormula(c.tx, table, field, update.options);
  const report = await toFormulaReport(c.tx, relation, field);
  if (update.dry_run) return { field, report, dryRun: true };
  if (report.lost > 0 && !update.confirm) {
    throw unprocessable(
      'lossy_conversion',
      `${report.lost} values of "${field.name}" would be replaced by the formula's; send confirm_loss=1 to convert anyway (the old values are kept in the trash)`,
      'type',
      report,
    );
  }
  if (report.default_lost && !update.confirm) {
    throw unprocessable(
      'lossy_conversion',
      `the default of "${field.name}" (${JSON.stringify(field.default_value)}) goes with the change (a formula has no default); remove the default first, or send confirm_loss=1 to drop it with the change`,
      'default',
      report,
    );
  }
  const col = ident(field.column_name);
  await assertNoDependents(c.tx, relation, field.column_name, `converting field "${field.name}" to a formula`);
  const kept =
    report.lost > 0
      ? await keepLostValues(
          c,
          { tableId: table.id, tableOid: table.table_oid!, relation },
          field,
          { sqlType: fieldType(field.type).sqlType(field.options), shape: { type: field.type, options: field.options, pg_type: null, read_only: false }, why: 'before change to Formula', version: update.version, lost: report.lost },
          `${col} IS NOT NULL`,
        )
      : undefined;
  // its constraints and index go with the old column
  await c.ddl(`ALTER TABLE ${relation} DROP COLUMN ${col}`);
  let attnum: number | null = null;
  if (prepared.options.stored) {
    await c.ddl(`ALTER TABLE ${relation} ADD COLUMN ${col} ${fieldType('formula').sqlType(prepared.options)} GENERATED ALWAYS AS (${prepared.sql}) STORED`);
    attnum = await attnumOf(c.tx, table.table_oid!, field.column_name);
  }
  await c.tx.query(
    `UPDATE tablewright.fields SET type = 'formula', options = $2, attnum = $3, not_null = false, is_unique = false, indexed = false, default_value = NULL, pg_default = NULL, pg_type = NULL, updated_at = now() WHERE id = $1`,
    [field.id, prepared.options, attnum],
  );
  // reconcile expects a generated column's expression as PostgreSQL prints it
  if (attnum !== null) {
    await c.tx.query(
      `UPDATE tablewright.fields SET pg_default = (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d WHERE d.adrelid = $2 AND d.adnum = $3) WHERE id = $1`,
      [field.id, table.table_oid, attnum],
    );
  }
  const now = await getField(c.tx, table.id, field.id);
  if (prepared.options.stored) await c.ddl(`COMMENT ON COLUMN ${relation}.${col} IS ${literal(columnComment(now))}`);
  return { field: now, report, kept, dryRun: false };
}

export { assertFormulaSpec };
