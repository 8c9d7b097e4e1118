// The schema side of formula fields (server/fields/formula.ts, server/formula/): parsing
// and checking an expression against the table's live fields, the generated column's
// expression, and keeping the expressions' text right when a field it uses is renamed.
import { ident, literal } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import { AppError, unprocessable } from '../errors.js';
import type { FormulaOpts } from '../fields/formula.js';
import { FormulaError, type Node } from '../formula/ast.js';
import { compileFormula, resultSqlType } from '../formula/compile.js';
import { fieldIds, parseFormula, printFormula } from '../formula/parse.js';
import type { Change } from './change.js';
import { listFields, type FieldCore, type FieldMeta, type TableMeta } from './metadata.js';

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
    const text = printFormula(ast, (id) => byId.get(id)!.name);
    // A formula using today() is no stored generated column (PostgreSQL takes only immutable
    // expressions there, and the value changes every day): it is computed in the listing
    // query instead (virtualFormulaRef), with no column of its own.
    return { options: { expression: text, ast, result: compiled.type as FormulaOpts['result'], stored: compiled.immutable }, sql: compiled.sql };
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
  if (old.stored === false) {
    // computed at read time: only the metadata changes (its result type too: no column holds it)
    await c.tx.query(`UPDATE tablewright.fields SET options = $2, updated_at = now() WHERE id = $1`, [field.id, { ...prepared.options, stored: false }]);
    return true;
  }
  if (prepared.options.result !== old.result) {
    throw unprocessable('invalid_formula', `formula: the new expression gives ${prepared.options.result}, this field holds ${old.result}; add a new formula field for it`, 'options.expression');
  }
  if (!prepared.options.stored) {
    throw new AppError(
      409,
      'not_storable',
      'options.expression: this formula is a stored column and today() changes every day, so it cannot be stored; add a new formula field with this expression (it is computed when rows are read) and trash this one',
      'options.expression',
    );
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

/**
 * A formula computed at read time (it uses today()): its expression over the row's live
 * columns as `rowAlias`, or null when a field it uses is not live (it is broken: reads empty).
 */
export function virtualFormulaRef(formula: FieldCore, live: Map<number, FieldCore>, rowAlias: string): string | null {
  const ast = formula.options?.ast as Node | undefined;
  if (!ast || missingInputs(formula, live).length > 0) return null;
  try {
    const compiled = compileFormula(ast, (id) => {
      const f = live.get(id);
      return f && { name: f.name, type: f.type, ref: `${rowAlias}.${ident(f.column_name)}` };
    });
    return `(${compiled.sql})`;
  } catch (err) {
    // a field it uses changed to a type a formula cannot read: broken, never a failing query
    if (err instanceof FormulaError) return null;
    throw err;
  }
}

/** A formula with no column: computed by the listing query (it uses today()). */
export const isVirtualFormula = (f: { type: string; options?: any }): boolean => f.type === 'formula' && f.options?.stored === false;

/** The formulas of a table (live or in the trash) that use a field. */
export async function formulaUsers(db: Queryable, tableId: number, fieldId: number): Promise<FieldMeta[]> {
  const all = [...(await listFields(db, tableId)), ...(await listFields(db, tableId, { trashed: true }))];
  return all.filter((f) => f.type === 'formula' && f.id !== fieldId && f.options?.ast && fieldIds(f.options.ast as Node).includes(fieldId));
}

/**
 * Purging a field that a formula of its table uses (live or in the trash) is refused with a
 * 409 naming the formulas: a stored formula's generated column depends on the column
 * (PostgreSQL would refuse the DROP, or take the formula with it under CASCADE), and a
 * formula computed at read time would stay broken for good. Trashing such a field is
 * allowed (the formula reads empty, reconcile reports it) because restore repairs it.
 */
export async function assertNoFormulaUses(db: Queryable, tableId: number, fieldId: number, fieldName: string): Promise<void> {
  const users = await formulaUsers(db, tableId, fieldId);
  if (!users.length) return;
  const names = users.map((f) => `"${f.name}"${f.trashed_at ? ' (in the trash)' : ''}`).join(', ');
  throw new AppError(
    409,
    'used_by_formula',
    `field "${fieldName}" cannot be purged: the formula${users.length > 1 ? 's' : ''} ${names} ${users.length > 1 ? 'use' : 'uses'} it. Restore it, or change or purge the formula${users.length > 1 ? 's' : ''} first`,
    undefined,
    { formulas: users.map((f) => ({ id: f.id, name: f.name })) },
  );
}

/** The plain field a formula's values become when it is converted away: its result's type. */
export const PLAIN_OF: Record<string, { type: string; options: object }> = {
  number: { type: 'number', options: { decimals: 0, any_precision: true } },
  text: { type: 'text', options: {} },
  boolean: { type: 'boolean', options: {} },
  date: { type: 'date', options: {} },
};

/**
 * Converting a formula to another type, step one: its current values become a plain column
 * of the result's type (nothing lost): a stored formula's generated column keeps its values
 * (DROP EXPRESSION, PostgreSQL 13+); a formula computed at read time gets a column filled
 * with what it reads now (today's values for today()). The caller's type change then
 * converts that plain field as any other, with its loss report.
 */
export async function materialiseFormula(c: Change, relation: string, table: TableMeta, field: FieldMeta, columnComment: (f: FieldMeta) => string): Promise<FieldMeta> {
  const opts = field.options as FormulaOpts;
  const plain = PLAIN_OF[opts.result ?? 'text']!;
  const col = ident(field.column_name);
  if (opts.stored === false) {
    const live = new Map((await listFields(c.tx, table.id)).map((f) => [f.id, f]));
    const expr = virtualFormulaRef(field, live, 't');
    await c.ddl(`ALTER TABLE ${relation} ADD COLUMN ${col} ${resultSqlType(opts.result ?? 'text')}`);
    if (expr) await c.ddl(`UPDATE ${relation} AS t SET ${col} = ${expr}`);
  } else {
    await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} DROP EXPRESSION`);
  }
  const { rows } = await c.tx.query<{ attnum: number }>(`SELECT attnum FROM pg_attribute WHERE attrelid = $1 AND attname = $2 AND NOT attisdropped`, [table.table_oid, field.column_name]);
  await c.tx.query(`UPDATE tablewright.fields SET type = $2, options = $3, attnum = $4, read_only = false, pg_default = NULL, updated_at = now() WHERE id = $1`, [field.id, plain.type, plain.options, rows[0]?.attnum ?? null]);
  const now = { ...field, type: plain.type, options: plain.options } as FieldMeta;
  await c.ddl(`COMMENT ON COLUMN ${relation}.${col} IS ${literal(columnComment(now))}`);
  return now;
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
