// dry_run=1 of a conversion to a formula or from one: the loss report and the plan, as the
// conversion itself would make them (formula_convert.ts, materialiseFormula()), changing
// nothing. To a formula, every non-empty value is lost. From one, its values as they are now
// (a stored formula's column; a formula using today() computed into a temporary table that
// the preview's rolled-back transaction drops) go through the ordinary conversion report.
//
// Neither runs online: PostgreSQL fills a new stored generated column by rewriting the table
// under ACCESS EXCLUSIVE (no shadow column and backfill can stand in for it), and a formula
// becomes a plain column in the same transaction as its conversion. Past JOB_THRESHOLD_ROWS
// the change is a job (one transaction); the plan says so.
import { ident, qualified } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import type { FormulaOpts } from '../fields/formula.js';
import { fieldType } from '../fields/registry.js';
import { resultSqlType } from '../formula/compile.js';
import type { EditorDeps } from './change.js';
import { prepareToFormula, toFormulaReport } from './formula_convert.js';
import { PLAIN_OF, prepareFormula, virtualFormulaRef } from './formula_fields.js';
import { planTypeChange, type FieldUpdate, type LossReport } from './fields.js';
import { listFields, type FieldMeta, type TableMeta } from './metadata.js';
import { step, type PlanStep, type TableSize } from './plan.js';

const set = (v: unknown) => v !== undefined && v !== '';

export const convertsToFormula = (field: FieldMeta, update: FieldUpdate) => update.type === 'formula' && field.type !== 'formula';
export const convertsFromFormula = (field: FieldMeta, update: FieldUpdate) => field.type === 'formula' && set(update.type) && update.type !== 'formula';

/** The field as the plain column a formula becomes before it converts (materialiseFormula). */
export function asPlain(field: FieldMeta): FieldMeta {
  const plain = PLAIN_OF[(field.options as FormulaOpts).result ?? 'text']!;
  return { ...field, type: plain.type, options: plain.options, read_only: false } as FieldMeta;
}

/** The loss report of a conversion to or from a formula, in the caller's transaction (rolled back after). */
export async function previewFormulaConversion(db: Queryable, deps: EditorDeps, table: TableMeta, field: FieldMeta, update: FieldUpdate): Promise<LossReport> {
  const relation = String(qualified(deps.config.dataSchema, table.table_name));
  if (convertsToFormula(field, update)) {
    const prepared = await prepareToFormula(db, table, field, update.options);
    const r = await toFormulaReport(db, relation, field);
    return { ...r, from: { type: field.type, options: field.options }, to: { type: 'formula', options: prepared.options } };
  }
  const plain = asPlain(field);
  const opts = field.options as FormulaOpts;
  let report: LossReport;
  if (opts.stored !== false) report = (await planTypeChange(db, deps, table, plain, update)).report;
  else {
    // Computed at read time: its values now, into a temporary copy the conversion report reads.
    const live = new Map((await listFields(db, table.id)).map((f) => [f.id, f]));
    const expr = virtualFormulaRef(field, live, 't') ?? 'NULL';
    const copy = 'tw_formula_preview';
    await db.query(`CREATE TEMP TABLE ${ident(copy)} ON COMMIT DROP AS SELECT t.id, (${expr})::${resultSqlType(opts.result ?? 'text')} AS ${ident(field.column_name)} FROM ${relation} AS t`);
    // (the link target of a change to a link is still looked up in the data schema)
    report = (await planTypeChange(db, deps, table, plain, update, String(qualified('pg_temp', copy)))).report;
  }
  return { ...report, from: { type: 'formula', options: field.options } };
}

/** The plan's steps for a conversion to or from a formula (before the plain conversion's, for the latter). */
export async function formulaSteps(db: Queryable, table: TableMeta, field: FieldMeta, update: FieldUpdate, relation: string, size: TableSize): Promise<PlanStep[]> {
  const col = String(ident(field.column_name));
  if (convertsToFormula(field, update)) {
    const expression = (update.options as { expression?: unknown } | undefined)?.expression;
    const prepared = typeof expression === 'string' ? await prepareFormula(db, table, expression, field.id).catch(() => undefined) : undefined;
    const steps = [
      step(`-- when values are lost: ALTER TABLE ${relation} ADD COLUMN <trashed copy> ${fieldType(field.type).sqlType(field.options)}; UPDATE ${relation} SET <trashed copy> = ${col} WHERE ${col} IS NOT NULL`, 'ACCESS EXCLUSIVE', 'rewrite', size),
      step(`ALTER TABLE ${relation} DROP COLUMN ${col}`, 'ACCESS EXCLUSIVE', 'instant', size),
    ];
    if (!prepared || prepared.options.stored) {
      const type = prepared ? fieldType('formula').sqlType(prepared.options) : '<result type>';
      steps.push(step(`ALTER TABLE ${relation} ADD COLUMN ${col} ${type} GENERATED ALWAYS AS (${prepared?.sql ?? '<expression>'}) STORED`, 'ACCESS EXCLUSIVE', 'rewrite', size));
    }
    return steps;
  }
  const opts = field.options as FormulaOpts;
  if (opts.stored === false) {
    return [
      step(`ALTER TABLE ${relation} ADD COLUMN ${col} ${resultSqlType(opts.result ?? 'text')}`, 'ACCESS EXCLUSIVE', 'brief', size),
      step(`UPDATE ${relation} AS t SET ${col} = <the formula, computed now>`, 'ROW EXCLUSIVE', 'rewrite', size),
    ];
  }
  return [step(`ALTER TABLE ${relation} ALTER COLUMN ${col} DROP EXPRESSION`, 'ACCESS EXCLUSIVE', 'instant', size)];
}

export const FORMULA_NOT_ONLINE =
  'a conversion to or from a formula runs in one transaction (a job past JOB_THRESHOLD_ROWS), never online: PostgreSQL fills a stored generated column by rewriting the table under ACCESS EXCLUSIVE';
