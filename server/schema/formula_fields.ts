// The schema side of formula fields (server/fields/formula.ts, server/formula/): parsing
// and checking an expression against the table's live fields, the generated column's
// expression, and keeping the expressions' text right when a field it uses is renamed.
import { ident } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import { AppError, unprocessable } from '../errors.js';
import type { FormulaOpts } from '../fields/formula.js';
import { FormulaError, type Node } from '../formula/ast.js';
import { compileFormula } from '../formula/compile.js';
import { fieldIds, parseFormula, printFormula } from '../formula/parse.js';
import type { Change } from './change.js';
import { listFields, type FieldMeta, type TableMeta } from './metadata.js';

export interface PreparedFormula {
  options: FormulaOpts;
  /** the generated column's expression, over bare quoted column names */
  sql: string;
}

/** Parses and checks `expression` against the live fields of the table (not `selfId`). */
export async function prepareFormula(db: Queryable, table: TableMeta, expression: string, selfId?: number): Promise<PreparedFormula> {
  const fields = (await listFields(db, table.id)).filter((f) => f.id !== selfId);
  const byName = new Map(fields.map((f) => [f.name.toLowerCase(), f]));
  const byId = new Map(fields.map((f) => [f.id, f]));
  try {
    const ast = parseFormula(expression, (name) => byName.get(name.toLowerCase())?.id);
    const compiled = compileFormula(ast, (id) => {
      const f = byId.get(id);
      return f && { name: f.name, type: f.type, ref: String(ident(f.column_name)) };
    });
    if (!compiled.immutable) {
      throw new FormulaError('today() changes every day, so it cannot be in a stored formula (a formula computed at read time is not built yet)', expression.toLowerCase().indexOf('today'));
    }
    const text = printFormula(ast, (id) => byId.get(id)!.name);
    return { options: { expression: text, ast, result: compiled.type as FormulaOpts['result'], stored: true }, sql: compiled.sql };
  } catch (err) {
    if (err instanceof FormulaError) throw unprocessable('invalid_formula', `formula: ${err.message}`, 'options.expression');
    throw err;
  }
}

/** Formula fields refuse what a computed column cannot have. */
export function assertFormulaSpec(spec: { not_null?: unknown; unique?: unknown; default?: unknown }, prefix = ''): void {
  const on = (v: unknown) => v !== undefined && v !== null && v !== '' && v !== false && v !== '0' && v !== 'false';
  if (on(spec.not_null)) throw new AppError(400, 'invalid_constraint', 'a formula cannot be required: its value is computed', `${prefix}not_null`);
  if (on(spec.unique)) throw new AppError(400, 'invalid_constraint', 'a formula cannot be unique', `${prefix}unique`);
  if (on(spec.default)) throw new AppError(400, 'invalid_default', 'a formula has no default: its value is computed', `${prefix}default`);
}

/**
 * A new expression for a formula field: the generated column's expression is replaced
 * (ALTER COLUMN ... SET EXPRESSION, which recomputes every row). Its result type stays.
 */
export async function changeFormula(c: Change, relation: string, table: TableMeta, field: FieldMeta, expression: unknown): Promise<boolean> {
  if (typeof expression !== 'string') throw new AppError(400, 'invalid_options', 'options.expression: a formula needs an expression', 'options.expression');
  const prepared = await prepareFormula(c.tx, table, expression, field.id);
  const old = field.options as FormulaOpts;
  if (JSON.stringify(prepared.options.ast) === JSON.stringify(old.ast)) return false;
  if (prepared.options.result !== old.result) {
    throw unprocessable('invalid_formula', `formula: the new expression gives ${prepared.options.result}, this field holds ${old.result}; add a new formula field for it`, 'options.expression');
  }
  // SET EXPRESSION came with PostgreSQL 17; before it a generated column's expression is fixed
  const { rows } = await c.tx.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
  if (rows[0]!.v < 170000) {
    throw new AppError(409, 'unsupported_by_server', 'options.expression: changing a formula needs PostgreSQL 17 or later (ALTER COLUMN ... SET EXPRESSION); add a new formula field and trash this one', 'options.expression');
  }
  await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${ident(field.column_name)} SET EXPRESSION AS (${prepared.sql})`);
  await c.tx.query(`UPDATE tablewright.fields SET options = $2, updated_at = now() WHERE id = $1`, [field.id, prepared.options]);
  return true;
}

/** After a field's display name changed: the formulas that use it print it anew. */
export async function refreshFormulaTexts(db: Queryable, tableId: number): Promise<void> {
  const all = [...(await listFields(db, tableId)), ...(await listFields(db, tableId, { trashed: true }))];
  const names = new Map(all.map((f) => [f.id, f.name]));
  for (const f of all) {
    if (f.type !== 'formula' || !f.options?.ast) continue;
    const text = printFormula(f.options.ast as Node, (id) => names.get(id) ?? `#${id}`);
    if (text !== f.options.expression) {
      await db.query(`UPDATE tablewright.fields SET options = options || jsonb_build_object('expression', $2::text) WHERE id = $1`, [f.id, text]);
    }
  }
}

/**
 * The fields a formula uses that are not live (trashed, or gone): a formula using one is
 * broken. Its stored column still computes (PostgreSQL refers to columns by number), but the
 * listing reads it as empty until the field is restored, and reconcile reports it.
 */
export function missingInputs(formula: { options: any }, live: Map<number, unknown>): number[] {
  const ast = formula.options?.ast as Node | undefined;
  if (!ast) return [];
  return fieldIds(ast).filter((id) => !live.has(id));
}
