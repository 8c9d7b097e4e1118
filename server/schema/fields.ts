// Field operations: add, update (rename, type and options, NOT NULL, UNIQUE, index,
// default), trash, restore, reorder. Each public function is one schemaChange().
//
// Constraint and index names are id-based (uq_f<id>, ix_f<id>, fk_f<id>): they survive
// renames and never collide, whatever users name things.
import { RawJson, stringifyExact } from '../fields/exact_json.js';
import { ident, literal, qualified } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import { AppError, badRequest, conflict, unprocessable } from '../errors.js';
import { conversionSql, displaySql, lossPredicate, lossScan, type FieldShape } from '../fields/convert.js';
import { fieldType, parseOptions } from '../fields/registry.js';
import { assignChoiceIds, type Choice } from '../fields/single_select.js';
import { assertFormulaSpec, changeFormula, formulaUsers, materialiseFormula, prepareFormula, refreshFormulaTexts } from './formula_fields.js';
import { FieldValueError, type FieldTypeDef, type SqlEnv } from '../fields/types.js';
import { assertNoDependents, attnumOf, columnNames, columnSlots, PG_MAX_COLUMNS } from './catalog.js';
import { schemaChange, type Actor, type Change, type EditorDeps } from './change.js';
import { getField, getLiveTable, listFields, liveTableForChange, type FieldMeta, type TableMeta } from './metadata.js';
import { coerceOptions, flag, stableJson } from './input.js';
import { keepLostValues } from './lost_values.js';
import { convertDefaultInDb, storedDefaultInput, type ConvertedDefault } from './default_convert.js';
import { derivePhysicalName, trashName, validateDisplayName, validatePhysicalName } from './names.js';
import { columnComment } from './comments.js';
import { addManyLink, hasNoColumn, isManyLink } from './m2m.js';
import { addComputedField, addVirtualFormula, checkComputedSource } from './computed_fields.js';
import { convertToFormula } from './formula_convert.js';
import { convertsFromFormula, convertsToFormula, previewFormulaConversion } from './formula_preview.js';
import { isComputedType } from '../fields/computed.js';
import { convertMultiplicity, multiplicityChange, multiplicityReport } from './m2m_convert.js';
import { addSystemColumn, assertConvertible, assertSystemConstraints, leaveSystemType } from './system_fields.js';

export interface FieldSpec {
  name: unknown;
  type: unknown;
  options?: unknown;
  column?: unknown;
  not_null?: unknown;
  unique?: unknown;
  indexed?: unknown;
  default?: unknown;
}

export interface FieldUpdate {
  name?: unknown;
  column?: unknown;
  type?: unknown;
  options?: unknown;
  not_null?: unknown;
  unique?: unknown;
  indexed?: unknown;
  /** a value sets the default; null or '' drops it */
  default?: unknown;
  confirm_loss?: unknown;
}

/** How many example rows a refusal or dry run shows. */
export const EXAMPLES = 10;

export { columnComment } from './comments.js';
const uniqueName = (fieldId: number) => `uq_f${fieldId}`;
const indexName = (fieldId: number) => `ix_f${fieldId}`;
const fkName = (fieldId: number) => `fk_f${fieldId}`;

function rel(c: { deps: EditorDeps }, table: TableMeta) {
  return qualified(c.deps.config.dataSchema, table.table_name);
}

export async function sqlEnv(db: Queryable, deps: EditorDeps, shapes: FieldShape[]): Promise<SqlEnv> {
  const targets = new Map<number, string>();
  for (const s of shapes) {
    if (s.type !== 'link') continue;
    const target = await getLiveTable(db, s.options.table_id).catch(() => {
      throw badRequest(`options.table_id: table ${s.options.table_id} does not exist (or is in the trash)`, 'options.table_id');
    });
    const relation = String(qualified(deps.config.dataSchema, target.table_name));
    if (target.read_only) {
      // A table adopted read-only may have no id a foreign key can point at (a key (id, k), no id column).
      const { rows } = await db.query<{ ok: boolean }>(
        /* sql */ `SELECT EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
            WHERE k.conrelid = to_regclass($1) AND k.contype IN ('p', 'u') AND cardinality(k.conkey) = 1 AND a.attname = 'id') AS ok`,
        [relation],
      );
      if (!rows[0]?.ok) throw unprocessable('invalid_link_target', `options.table_id: rows of table "${target.name}" have no single id to link to`, 'options.table_id');
    }
    targets.set(target.id, relation);
  }
  return {
    linkTarget: (id) => {
      const t = targets.get(id);
      if (!t) throw new Error(`link target ${id} not resolved`);
      return t;
    },
  };
}

/** Validates options for a type (after form coercion), giving new select options ids. */
export function normaliseOptions(type: FieldTypeDef, raw: unknown, previous?: any): any {
  const opts = parseOptions(type, coerceOptions(type.name, raw, previous));
  if (type.name === 'link') {
    // a many-to-many link's junction is the schema editor's to name, never a request's
    for (const k of ['junction', 'self_column', 'other_column', 'reverse_field_id'] as const) {
      if (previous?.multiple && opts.multiple) opts[k] = previous[k];
      else delete opts[k];
    }
    if (!opts.multiple) delete opts.multiple;
    if (previous) delete opts.reverse_name;
  }
  if (type.name === 'single_select' || type.name === 'multiple_select') opts.choices = assignChoiceIds(opts.choices, (previous?.choices as Choice[]) ?? []);
  return opts;
}

/** A default value, parsed by the field type: what metadata keeps and the DDL literal. */
export function parseDefault(type: FieldTypeDef, options: any, raw: unknown): { json: unknown; sql: string } | null {
  if (raw === undefined || raw === null || raw === '') return null;
  if (type.name === 'link') throw badRequest('a link field cannot have a default', 'default');
  let value: unknown;
  try {
    value = type.parse(raw, options);
  } catch (err) {
    if (err instanceof FieldValueError) throw unprocessable('invalid_default', `default: ${err.message}`, 'default');
    throw err;
  }
  if (value === null) return null;
  return { json: type.toJson(value, options), sql: `${literal(defaultText(value))}::${type.sqlType(options)}` };
}

/** A parsed value as the text its column type reads: an option-id set as an array literal, JSON as JSON. */
function defaultText(value: unknown): string {
  if (Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isSafeInteger(v))) return `{${value.join(',')}}`;
  if (value instanceof RawJson) return value.text;
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === 'object') return stringifyExact(value);
  return String(value);
}

async function takenColumns(c: Change, table: TableMeta): Promise<(n: string) => boolean> {
  const catalog = await columnNames(c.tx, table.table_oid!);
  const { rows } = await c.tx.query<{ column_name: string }>(
    `SELECT column_name FROM tablewright.fields WHERE table_id = $1 AND trashed_at IS NULL`,
    [table.id],
  );
  const meta = new Set(rows.map((r) => r.column_name));
  return (n) => catalog.has(n) || meta.has(n);
}

async function assertFieldNameFree(c: Change, tableId: number, name: string, exceptId?: number, field = 'name'): Promise<void> {
  const { rows } = await c.tx.query(
    `SELECT 1 FROM tablewright.fields WHERE table_id = $1 AND trashed_at IS NULL AND lower(name) = lower($2) AND id IS DISTINCT FROM $3`,
    [tableId, name, exceptId ?? null],
  );
  if (rows.length) throw conflict('name_taken', `this table already has a field named "${name}"`, field);
}

async function chooseColumn(c: Change, table: TableMeta, display: string, requested: unknown, current?: string): Promise<string> {
  const taken = await takenColumns(c, table);
  if (requested !== undefined && requested !== null && requested !== '') {
    const column = await validatePhysicalName(c.tx, requested, 'column', 'column');
    if (column !== current && taken(column)) throw conflict('column_taken', `table "${table.name}" already has a column named "${column}"`, 'column');
    return column;
  }
  // A display rename never renames the column: SQL outside the console uses its name.
  if (current) return current;
  return derivePhysicalName(c.tx, display, 'field', taken, 'column');
}

async function rowCount(db: Queryable, relation: string, where: string): Promise<{ count: number; ids: number[] }> {
  const { rows } = await db.query<{ count: number; ids: number[] | null }>(
    `SELECT count(*)::int AS count, (array_agg(id ORDER BY id))[1:${EXAMPLES}] AS ids FROM ${relation} WHERE ${where}`,
  );
  return { count: rows[0]!.count, ids: rows[0]!.ids ?? [] };
}

/**
 * Adds one field inside a change, statement by statement: the path of the fields that are
 * more than a column (a lookup or rollup, a many-to-many link with its junction table);
 * plain fields go in batches (add_fields.ts).
 */
export async function addFieldSingly(c: Change, table: TableMeta, spec: FieldSpec, prefix = ''): Promise<FieldMeta> {
  const name = validateDisplayName(spec.name, `${prefix}name`);
  if (typeof spec.type !== 'string') throw badRequest('a field type is required', `${prefix}type`);
  const type = fieldType(spec.type, `${prefix}type`);
  let options = normaliseOptions(type, spec.options);
  let generated: string | undefined;
  if (type.name === 'formula') {
    assertFormulaSpec(spec, prefix);
    const prepared = await prepareFormula(c.tx, table, options.expression);
    options = prepared.options;
    generated = prepared.sql;
  }
  const notNull = flag(spec.not_null, `${prefix}not_null`) ?? false;
  // an autonumber is unique by definition: its constraint says so to psql and the planner
  const unique = type.system === 'identity' || (flag(spec.unique, `${prefix}unique`) ?? false);
  const indexed = type.name === 'link' || (flag(spec.indexed, `${prefix}indexed`) ?? false);
  const dflt = parseDefault(type, options, spec.default);
  const many = isManyLink({ type: type.name, options });
  if (many && (notNull || unique)) throw badRequest('a many-to-many link cannot be required or unique', `${prefix}${notNull ? 'not_null' : 'unique'}`);

  const { rows: counts } = await c.tx.query<{ live: number; next: number }>(
    `SELECT count(*) FILTER (WHERE trashed_at IS NULL)::int AS live, coalesce(max(position), 0) + 1 AS next FROM tablewright.fields WHERE table_id = $1`,
    [table.id],
  );
  const { live, next } = counts[0]!;
  if (live >= c.deps.config.maxFields) {
    throw unprocessable('too_many_fields', `a table has at most ${c.deps.config.maxFields} fields (MAX_FIELDS)`, `${prefix}name`);
  }
  if ((await columnSlots(c.tx, table.table_oid!)) >= PG_MAX_COLUMNS - 1) {
    throw unprocessable(
      'column_limit',
      `table "${table.name}" has used all ${PG_MAX_COLUMNS} column slots PostgreSQL allows (dropped columns count too); rebuild the table first`,
      `${prefix}name`,
    );
  }
  await assertFieldNameFree(c, table.id, name, undefined, `${prefix}name`);
  const column = await chooseColumn(c, table, name, spec.column);
  if (type.name === 'lookup' || type.name === 'rollup') {
    if (notNull || unique || dflt || flag(spec.indexed, `${prefix}indexed`)) throw badRequest('a lookup or rollup is computed: it cannot be required, unique, indexed or have a default', `${prefix}type`);
    return addComputedField(c, table, { name, column, type: type.name, options, position: next }, prefix);
  }
  if (type.name === 'formula' && options.stored === false) {
    if (flag(spec.indexed, `${prefix}indexed`)) throw badRequest('a formula using today() is computed when rows are read: it cannot be indexed', `${prefix}indexed`);
    return addVirtualFormula(c, table, { name, column, options, position: next });
  }
  if (many) {
    c.reached('validate');
    const { field, reverse } = await addManyLink(c, table, { name, column, options, position: next }, prefix);
    c.alsoTables.push(reverse.table_id);
    return field;
  }
  const env = await sqlEnv(c.tx, c.deps, [{ type: type.name, options }]);
  const relation = rel(c, table);
  if ((notNull && !dflt) || (unique && dflt)) {
    const { rows } = await c.tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${relation} LIMIT 2) s`);
    const n = rows[0]!.n;
    if (notNull && !dflt && n > 0) throw unprocessable('needs_default', `"${name}" cannot be required without a default: the table already has rows`, `${prefix}default`);
    if (unique && dflt && n > 1) {
      throw unprocessable('would_duplicate', `"${name}" cannot be unique with a default: every existing row would get the same value`, `${prefix}unique`);
    }
  }
  c.reached('validate');

  const { rows } = await c.tx.query<{ id: number }>(
    /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position, not_null, is_unique, indexed, default_value)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
    [table.id, name, column, type.name, options, next, notNull, unique, indexed, dflt ? stringifyExact(dflt.json) : null],
  );
  const id = rows[0]!.id;
  const col = ident(column);
  let definition = `${col} ${type.sqlType(options)}`;
  if (dflt) definition += ` DEFAULT ${dflt.sql}`;
  if (notNull) definition += ' NOT NULL';
  if (type.name === 'link') definition += ` CONSTRAINT ${ident(fkName(id))} REFERENCES ${env.linkTarget(options.table_id)} (id) ON DELETE SET NULL`;
  // a stored formula: PostgreSQL computes it for every row (adding it rewrites the table)
  if (generated) definition += ` GENERATED ALWAYS AS (${generated}) STORED`;
  // ADD COLUMN with no default or a constant one rewrites no rows (PostgreSQL 11+).
  await c.ddl(`ALTER TABLE ${relation} ADD COLUMN ${definition}`);
  await addSystemColumn(c, String(relation), id, String(col), type);
  if (unique) await c.ddl(`ALTER TABLE ${relation} ADD CONSTRAINT ${ident(uniqueName(id))} UNIQUE (${col})`);
  if (hasOwnIndex({ indexed, is_unique: unique })) await c.ddl(`CREATE INDEX ${ident(indexName(id))} ON ${relation} ${indexUsing(type.name)}(${col})`);
  await c.ddl(`COMMENT ON COLUMN ${relation}.${col} IS ${literal(columnComment({ id, name, type: type.name, options }, table))}`);
  const attnum = await attnumOf(c.tx, table.table_oid!, column);
  await c.tx.query(`UPDATE tablewright.fields SET attnum = $2 WHERE id = $1`, [id, attnum]);
  return getField(c.tx, table.id, id);
}

export { addField, addFieldIn, addFieldsIn } from './add_fields.js';

// ---------------------------------------------------------------- type changes

export interface LossReport {
  field_id: number;
  from: FieldShape;
  to: FieldShape;
  rows: number;
  non_empty: number;
  /** non-empty values that would not convert (they would become empty) */
  lost: number;
  examples: Array<{ id: number; value: string | null }>;
  /** select options made from the distinct values, when converting to single_select */
  created_options?: Choice[];
  /** the field's default would not convert: it goes with the change (confirm_loss), never silently */
  default_lost?: true;
}

export interface TypePlan {
  to: FieldShape;
  report: LossReport;
  env: SqlEnv;
  /** the conversion changes nothing stored (same column type, identity expression) */
  identity: boolean;
  /** the field's default converted to the new type, as the values are; null when none or lost */
  newDefault: ConvertedDefault | null;
}

/** A type/options change worked out without the loss report's scan (planTypeTarget). */
export interface TypeTarget extends Omit<TypePlan, 'report'> {
  /** select options made from the distinct values, when converting to single_select */
  created?: Choice[];
  /** the field's default would not convert */
  defaultLost: boolean;
}

/**
 * Works out a type/options change and what it would lose, without changing anything.
 * Converting to single_select without options makes one option per distinct value.
 */
export async function planTypeChange(db: Queryable, deps: EditorDeps, table: TableMeta, field: FieldMeta, update: FieldUpdate, source?: string): Promise<TypePlan> {
  const target = await planTypeTarget(db, deps, table, field, update, source);
  const { to, env, identity, newDefault } = target;
  return { to, report: await lossReport(db, deps, table, field, target, source), env, identity, newDefault };
}

/** What a change to `target` would lose: the table's values read once (twice when some would be lost, for examples). */
export async function lossReport(db: Queryable, deps: EditorDeps, table: TableMeta, field: FieldMeta, target: TypeTarget, source?: string): Promise<LossReport> {
  const { to, env, created, defaultLost } = target;
  const relation = source ?? String(qualified(deps.config.dataSchema, table.table_name));
  const col = String(ident(field.column_name));
  const from: FieldShape = { type: field.type, options: field.options };
  const scan = lossScan(from, to, relation, col, env);
  const { rows } = await db.query<{ rows: number; non_empty: number; lost: number }>(
    `SELECT count(*)::int AS rows, count(*) FILTER (WHERE t.${col} IS NOT NULL)::int AS non_empty,
            count(*) FILTER (WHERE ${scan.lost})::int AS lost FROM ${scan.from}`,
  );
  // Nothing lost, no examples: the second scan of the whole table (the loss predicate for
  // every row again; a link's looks each value up in its target) is skipped. 2,000,000 rows
  // number -> link, none lost: the online change's report took 8.4 s of its 25.7 s.
  const examples =
    rows[0]!.lost === 0
      ? []
      : (
          await db.query<{ id: number; value: string | null }>(
            `SELECT t.id, left(${displaySql(from, `t.${col}`)}, 200) AS value FROM ${scan.from} WHERE ${scan.lost} ORDER BY t.id LIMIT ${EXAMPLES}`,
          )
        ).rows;
  return { field_id: field.id, from, to, ...rows[0]!, examples, ...(created ? { created_options: created } : {}), ...(defaultLost ? { default_lost: true as const } : {}) };
}

/**
 * The change's target (type, options, default), without reading the values to count what
 * would be lost: an online change that confirmed the loss counts it after its copy
 * (online/shadow.ts). Still reads the values when converting to a select without options
 * (they make the options).
 */
export async function planTypeTarget(db: Queryable, deps: EditorDeps, table: TableMeta, field: FieldMeta, update: FieldUpdate, source?: string): Promise<TypeTarget> {
  const typeName = update.type === undefined || update.type === '' ? field.type : update.type;
  if (typeof typeName !== 'string') throw badRequest('type must be a field type name', 'type');
  const type = fieldType(typeName);
  assertConvertible(field.type, type.name);
  const sameType = type.name === field.type;
  // the table's rows, or `source`: a copy to read them from (a formula computed at read time: formula_preview.ts)
  const relation = source ?? String(qualified(deps.config.dataSchema, table.table_name));
  const col = String(ident(field.column_name));
  const from: FieldShape = { type: field.type, options: field.options };
  let options: any;
  let created: Choice[] | undefined;
  const isSelect = (t: string) => t === 'single_select' || t === 'multiple_select';
  if (isSelect(type.name) && isSelect(field.type) && !sameType && !hasChoices(update.options)) {
    // Between the select types the options come along with their ids and colours.
    const carried = (field.options.choices as Choice[]).filter((ch) => type.name === 'single_select' || !ch.label.includes(','));
    options = normaliseOptions(type, { choices: carried });
  } else if (isSelect(type.name) && !sameType && (update.options === undefined || update.options === '' || !hasChoices(update.options))) {
    // One option per distinct non-empty value, compared case-insensitively: the most
    // frequent spelling names the option; options are listed alphabetically.
    // A multiple select reads each comma-separated label of a value.
    const { rows } = await db.query<{ v: string }>(
      type.name === 'multiple_select'
        ? `SELECT v FROM (SELECT btrim(x) AS v, count(*) AS n FROM ${relation}, unnest(string_to_array(left(${displaySql(from, col)}, 100000), ',')) AS x
              WHERE ${col} IS NOT NULL AND btrim(x) <> '' GROUP BY 1) s
            ORDER BY n DESC, v COLLATE "C" LIMIT 2000`
        : `SELECT v FROM (SELECT btrim(${displaySql(from, col)}) AS v, count(*) AS n FROM ${relation}
          WHERE ${col} IS NOT NULL AND btrim(${displaySql(from, col)}) <> '' GROUP BY 1) s
        ORDER BY n DESC, v COLLATE "C" LIMIT 2000`,
    );
    const byKey = new Map<string, string>();
    for (const { v } of rows) if (v.length <= 100 && !byKey.has(v.toLowerCase())) byKey.set(v.toLowerCase(), v);
    const unique = [...byKey.values()].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())).slice(0, 500);
    options = normaliseOptions(type, { choices: unique.map((label) => ({ label })) });
    created = options.choices;
  } else {
    options = normaliseOptions(type, update.options === undefined ? (sameType ? field.options : undefined) : update.options, sameType ? field.options : undefined);
  }
  const to: FieldShape = { type: type.name, options };
  const env = await sqlEnv(db, deps, [from, to]);
  const converted = conversionSql(from, to, col, env);
  const identity = converted === col && fieldType(from.type).sqlType(from.options) === type.sqlType(options) && !(to.type === 'link' && from.type === 'link' && from.options.table_id !== to.options.table_id);
  if (fieldType(from.type).sqlType(from.options) !== type.sqlType(options)) await assertNoFormulaRetype(db, table, field);
  // A PATCH that sets another default replaces the old one: nothing of it to lose.
  const newDefault = await convertDefault(db, field, to, env);
  const defaultLost = !setsOtherDefault(field, update) && field.default_value != null && newDefault === null;
  return { to, env, identity, newDefault, created, defaultLost };
}

/**
 * What a type change would lose, refused unless confirmed (both paths, before anything is
 * done): values that would not convert (never, on a required field), and a default that
 * would not (on the online path, every insert leaving the field to it would be refused
 * while the change runs; on either, the default would be gone).
 */
export function assertLossConfirmed(field: FieldMeta, report: LossReport, confirmed: boolean): void {
  const label = fieldType(report.to.type).label;
  if (report.lost > 0 && field.not_null) {
    throw unprocessable('lossy_conversion', `${report.lost} values of "${field.name}" would not convert, and the field is required; make it optional first`, 'type', report);
  }
  if (confirmed) return;
  if (report.lost > 0) {
    throw unprocessable(
      'lossy_conversion',
      `${report.lost} of ${report.non_empty} values of "${field.name}" would not convert to ${label}; send confirm_loss=1 to convert anyway (the old values are kept in the trash)`,
      'type',
      report,
    );
  }
  if (report.default_lost) {
    throw unprocessable(
      'lossy_conversion',
      `the default of "${field.name}" (${JSON.stringify(field.default_value)}) would not convert to ${label}; change or remove the default first, or send confirm_loss=1 to drop it with the change`,
      'default',
      report,
    );
  }
}

/**
 * The same refusal for a change about to be queued as an online job (the route's checks
 * before it): answered at once rather than 202 and a job that fails at its first step.
 */
export async function assertFormulasAllowTypeChange(db: Queryable, table: TableMeta, field: FieldMeta, update: { type?: unknown; options?: unknown }): Promise<void> {
  const type = fieldType(String(update.type ?? field.type));
  const same = type.name === field.type;
  let options: unknown;
  try {
    options = normaliseOptions(type, update.options === undefined ? (same ? field.options : undefined) : update.options, same ? field.options : undefined);
  } catch {
    // options the change itself may not read (a select's choices made from the values:
    // planTypeChange ignores options without choices): the job decides, as before
    return;
  }
  if (fieldType(field.type).sqlType(field.options) !== type.sqlType(options)) await assertNoFormulaRetype(db, table, field);
}

/**
 * A column retyped under a formula that reads it: PostgreSQL refuses to retype a column a
 * stored formula's generated column uses, and a formula computed at read time would be
 * computed over the new type. Refused first (the dry run too), naming the formulas.
 */
async function assertNoFormulaRetype(db: Queryable, table: TableMeta, field: FieldMeta): Promise<void> {
  const users = await formulaUsers(db, table.id, field.id);
  if (!users.length) return;
  const names = users.map((f) => `"${f.name}"${f.trashed_at ? ' (in the trash)' : ''}`).join(', ');
  const many = users.length > 1;
  throw new AppError(409, 'used_by_formula', `"${field.name}" cannot change its type: the formula${many ? 's' : ''} ${names} ${many ? 'use' : 'uses'} it; change or remove ${many ? 'them' : 'it'} first`, 'type', {
    formulas: users.map((f) => ({ id: f.id, name: f.name })),
    generated_columns: users.filter((f) => f.options?.stored !== false).map((f) => f.column_name),
  });
}

function hasChoices(raw: unknown): boolean {
  if (!raw || typeof raw !== 'object') return false;
  const choices = (raw as { choices?: unknown }).choices;
  return choices !== undefined && choices !== '' && !(Array.isArray(choices) && choices.length === 0);
}

/** dry_run=1: what a type/options change would do, changing nothing. */
export async function previewFieldChange(deps: EditorDeps, tableId: number, fieldId: number, update: FieldUpdate): Promise<LossReport> {
  const client = await deps.pool.connect();
  try {
    // read-only, but for a formula computed at read time: its values go into a temporary table
    const computedNow = (await getField(client, tableId, fieldId)).options?.stored === false;
    await client.query(computedNow ? 'BEGIN' : 'BEGIN READ ONLY');
    await client.query(`SELECT set_config('timezone', 'UTC', true)`);
    const table = await getLiveTable(client, tableId);
    const field = await getField(client, tableId, fieldId);
    if (field.trashed_at) throw conflict('trashed', `field "${field.name}" is in the trash; restore it first`);
    const toType = present(update.type) && update.type !== '' ? String(update.type) : field.type;
    if (convertsFromFormula(field, update) && isComputedType(toType)) throw badRequest('a formula converts to a plain type, not to a lookup or rollup', 'type');
    if (convertsToFormula(field, update) || convertsFromFormula(field, update)) {
      if (convertsToFormula(field, update)) assertFormulaSpec({ not_null: update.not_null, unique: update.unique, default: update.default });
      return await previewFormulaConversion(client, deps, table, field, update);
    }
    if ((isComputedType(field.type) || isComputedType(toType)) && toType !== field.type) {
      throw badRequest('a lookup or rollup is computed: it converts to no other type, nor another type to it (add a new field)', 'type');
    }
    const multiplicity = multiplicityChange(field, update);
    if (multiplicity) return (await multiplicityReport(client, deps.config.dataSchema, table, field, multiplicity)) as unknown as LossReport;
    return (await planTypeChange(client, deps, table, field, update)).report;
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

async function changeType(c: Change, table: TableMeta, field: FieldMeta, update: FieldUpdate, version: number, out: Record<string, unknown>): Promise<FieldMeta> {
  await c.deps.progress?.({ phase: 'checking the values' });
  const plan = await planTypeChange(c.tx, c.deps, table, field, update);
  await c.deps.progress?.({ phase: 'converting', total: plan.report.rows, done: 0 });
  const { report, to, env } = plan;
  const relation = rel(c, table);
  const col = String(ident(field.column_name));
  assertLossConfirmed(field, report, flag(update.confirm_loss, 'confirm_loss') ?? false);
  const converted = conversionSql({ type: field.type, options: field.options }, to, col, env);
  if (field.is_unique) {
    const dup = await c.tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT ${converted} AS v FROM ${relation}) s WHERE v IS NOT NULL GROUP BY v HAVING count(*) > 1 LIMIT 1`,
    );
    if (dup.rows.length) throw unprocessable('would_duplicate', `"${field.name}" is unique, and converted values would repeat; drop UNIQUE first`, 'type');
  }
  const newType = fieldType(to.type);
  const newDefault = plan.newDefault;
  if (newType.sqlType(to.options) !== fieldType(field.type).sqlType(field.options)) {
    await assertNoDependents(c.tx, String(relation), field.column_name, `changing the type of "${field.name}"`);
  }
  c.reached('validate');

  if (report.lost > 0) {
    // Keep the values that will not survive until the retention policy purges them.
    out.kept_in_trash = await keepLostValues(
      c,
      { tableId: table.id, tableOid: table.table_oid!, relation: String(relation) },
      field,
      {
        sqlType: fieldType(field.type).sqlType(field.options),
        shape: { type: field.type, options: field.options, pg_type: null, read_only: false },
        why: `before change to ${newType.label}`,
        version,
        lost: report.lost,
      },
      lossPredicate({ type: field.type, options: field.options }, to, `t.${col}`, env),
    );
  }

  await leaveSystemType(c, String(relation), field, to.type);
  if (!plan.identity) {
    if (field.type === 'link') await c.ddl(`ALTER TABLE ${relation} DROP CONSTRAINT IF EXISTS ${ident(fkName(field.id))}`);
    if (field.default_value !== null) await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} DROP DEFAULT`);
    if (to.type === 'link') {
      // USING allows no subquery, so ids of missing rows are cleared first (any that held a
      // value were copied to the trash above); so too when the column keeps its type (a
      // whole number's bigint, another link's target), or the foreign key made below would
      // refuse them.
      await c.ddl(`UPDATE ${relation} AS t SET ${col} = NULL WHERE ${lossPredicate({ type: field.type, options: field.options }, to, `t.${col}`, env)}`);
    }
    if (newType.sqlType(to.options) === fieldType(field.type).sqlType(field.options)) {
      // Same column type (select options, link target): rewrite only the rows that change.
      await c.ddl(`UPDATE ${relation} SET ${col} = ${converted} WHERE ${col} IS DISTINCT FROM ${converted}`);
    } else {
      // A GIN index (a multiple select's) cannot index an integer, nor a btree go on as one:
      // the field's own index is dropped before and made again after, with the new method.
      const remakeIndex = hasOwnIndex(field) && indexUsing(field.type) !== indexUsing(to.type);
      if (remakeIndex) await c.ddl(`DROP INDEX IF EXISTS ${qualified(c.deps.config.dataSchema, indexName(field.id))}`);
      await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} TYPE ${newType.sqlType(to.options)} USING ${converted}`);
      if (remakeIndex) await c.ddl(`CREATE INDEX ${ident(indexName(field.id))} ON ${relation} ${indexUsing(to.type)}(${col})`);
    }
    if (to.type === 'link') {
      await c.ddl(`ALTER TABLE ${relation} ADD CONSTRAINT ${ident(fkName(field.id))} FOREIGN KEY (${col}) REFERENCES ${env.linkTarget(to.options.table_id)} (id) ON DELETE SET NULL`);
      if (!field.indexed && !field.is_unique) await c.ddl(`CREATE INDEX ${ident(indexName(field.id))} ON ${relation} (${col})`);
    }
    if (newDefault) await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} SET DEFAULT ${newDefault.sql}`);
  } else if (field.default_value !== null) {
    // Nothing stored changes, but the default may (an option relabelled; one that no longer
    // fits the new options): the column's DEFAULT follows the metadata written below.
    await c.ddl(newDefault ? `ALTER TABLE ${relation} ALTER COLUMN ${col} SET DEFAULT ${newDefault.sql}` : `ALTER TABLE ${relation} ALTER COLUMN ${col} DROP DEFAULT`);
  }
  await c.deps.progress?.({ phase: 'committing', done: plan.report.rows });
  if (field.default_value !== null && !newDefault) out.default_dropped = field.default_value;
  await c.tx.query(
    /* sql */ `UPDATE tablewright.fields SET type = $2, options = $3, default_value = $4, indexed = indexed OR $5, updated_at = now() WHERE id = $1`,
    [field.id, to.type, to.options, newDefault ? stringifyExact(newDefault.json) : null, to.type === 'link'],
  );
  out.type_change = { from: field.type, to: to.type, rows: report.rows, lost: report.lost, ...(report.created_options ? { created_options: report.created_options.length } : {}) };
  return getField(c.tx, table.id, field.id);
}

/**
 * Whether a PATCH sets a default other than the field's (the console's form sends every
 * input: the default as it is now is no change; "" drops it).
 */
export function setsOtherDefault(field: FieldMeta, update: FieldUpdate): boolean {
  const cur = field.default_value;
  if (update.default === undefined) return false;
  if (cur === null || cur === undefined) return update.default !== '' && update.default !== null;
  // a select's default as the form shows it: its labels
  const select = field.type === 'single_select' || field.type === 'multiple_select';
  const shown = select
    ? (Array.isArray(cur) ? cur : [cur]).map((c: { id: number; label: string | null }) => c.label ?? `#${c.id}`).join(',')
    : typeof cur === 'object' && !(cur instanceof RawJson) ? JSON.stringify(cur) : String(cur);
  const labels = (v: unknown) => (Array.isArray(v) ? v.map(String) : String(v).split(',')).map((x) => x.trim()).join(',');
  return select ? labels(update.default) !== labels(shown) : String(update.default) !== shown;
}

/**
 * The default carried over to the new type, converted by the database as the values are
 * (default_convert.ts), then taken as a default set through the API would be (the new
 * type's parse, its limits too: a converted text past a new max_length is refused, not
 * kept as a default no write could set). Null when it has none or it would not convert.
 */
export async function convertDefault(db: Queryable, field: FieldMeta, to: FieldShape, env: SqlEnv): Promise<ConvertedDefault | null> {
  if (field.default_value === null || field.default_value === undefined) return null;
  try {
    const old = parseDefault(fieldType(field.type), field.options, storedDefaultInput(field))?.sql ?? null;
    const value = await convertDefaultInDb(db, field, to, env, old);
    return value === undefined ? null : parseDefault(fieldType(to.type), to.options, value);
  } catch (err) {
    // the new type takes no such default (a link takes none at all): it would be lost
    if (err instanceof AppError && err.status < 500) return null;
    throw err;
  }
}

// ---------------------------------------------------------------- constraints

async function setNotNull(c: Change, table: TableMeta, field: FieldMeta, on: boolean): Promise<void> {
  const relation = rel(c, table);
  const col = ident(field.column_name);
  if (on) {
    const empty = await rowCount(c.tx, String(relation), `${col} IS NULL`);
    if (empty.count > 0) {
      throw unprocessable('has_empty_values', `"${field.name}" cannot be required: ${empty.count} rows have no value (e.g. ids ${empty.ids.join(', ')})`, 'not_null', {
        count: empty.count,
        row_ids: empty.ids,
      });
    }
    await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} SET NOT NULL`);
  } else {
    await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} DROP NOT NULL`);
  }
}

async function setUnique(c: Change, table: TableMeta, field: FieldMeta, on: boolean): Promise<void> {
  const relation = rel(c, table);
  const col = ident(field.column_name);
  if (on) {
    if (field.type === 'json') throw badRequest('a JSON field cannot be unique', 'unique');
    const { rows } = await c.tx.query<{ groups: number; rows: number; ids: number[] | null }>(
      `SELECT count(*)::int AS groups, coalesce(sum(n), 0)::int AS rows, (array_agg(first_id ORDER BY first_id))[1:${EXAMPLES}] AS ids
         FROM (SELECT count(*) AS n, min(id) AS first_id FROM ${relation} WHERE ${col} IS NOT NULL GROUP BY ${col} HAVING count(*) > 1) d`,
    );
    const d = rows[0]!;
    if (d.groups > 0) {
      throw unprocessable(
        'has_duplicates',
        `"${field.name}" cannot be unique: ${d.groups} values repeat, in ${d.rows} rows (e.g. ids ${(d.ids ?? []).join(', ')})`,
        'unique',
        { duplicate_values: d.groups, rows: d.rows, row_ids: d.ids ?? [] },
      );
    }
    await c.ddl(`ALTER TABLE ${relation} ADD CONSTRAINT ${ident(uniqueName(field.id))} UNIQUE (${col})`);
  } else {
    await c.ddl(`ALTER TABLE ${relation} DROP CONSTRAINT IF EXISTS ${ident(uniqueName(field.id))}`);
  }
}

/**
 * A UNIQUE constraint's btree serves lookups as well as a plain one: a field has its own
 * index (ix_f<id>) only when it is indexed and not unique, so a field that is both has one
 * index, not two identical ones. Brings the column from `field`'s shape to `next`'s.
 */
/** A field's own index: GIN for a multiple select (its filters are && and @>), else a btree. */
export const indexUsing = (type: string) => (type === 'multiple_select' ? 'USING gin ' : '');

export const hasOwnIndex = (f: { indexed: boolean; is_unique: boolean }) => f.indexed && !f.is_unique;

async function syncOwnIndex(c: Change, table: TableMeta, field: FieldMeta, next: { indexed: boolean; is_unique: boolean }): Promise<void> {
  const had = hasOwnIndex(field);
  const want = hasOwnIndex(next);
  if (want && !had) await c.ddl(`CREATE INDEX ${ident(indexName(field.id))} ON ${rel(c, table)} ${indexUsing(field.type)}(${ident(field.column_name)})`);
  // field.indexed without its own index: unique, but a table made before one index served
  // both may still have a second one
  else if (!want && field.indexed) await c.ddl(`DROP INDEX IF EXISTS ${qualified(c.deps.config.dataSchema, indexName(field.id))}`);
}

async function setDefault(c: Change, table: TableMeta, field: FieldMeta, raw: unknown): Promise<unknown> {
  const type = fieldType(field.type);
  const dflt = parseDefault(type, field.options, raw);
  const target = `ALTER TABLE ${rel(c, table)} ALTER COLUMN ${ident(field.column_name)}`;
  await c.ddl(dflt ? `${target} SET DEFAULT ${dflt.sql}` : `${target} DROP DEFAULT`);
  return dflt ? dflt.json : null;
}

// ---------------------------------------------------------------- update

/** Would this update change the field's type or options (and so, maybe, every row)? */
export function changesTypeOrOptions(field: FieldMeta, update: FieldUpdate): boolean {
  if (present(update.type) && update.type !== '' && update.type !== field.type) return true;
  if (!present(update.options)) return false;
  return stableJson(normaliseOptions(fieldType(field.type), update.options, field.options)) !== stableJson(field.options);
}

const present = (v: unknown) => v !== undefined;

/**
 * Whether a type/options change writes rows (a different column type, or a conversion
 * that is not the identity), worked out without reading the table. A change to
 * single_select without options (its options made from the values) counts as writing.
 */
export function typeChangeRewrites(field: FieldMeta, update: FieldUpdate): boolean {
  if (multiplicityChange(field, update)) return true;
  if (!changesTypeOrOptions(field, update)) return false;
  const typeName = update.type === undefined || update.type === '' ? field.type : String(update.type);
  const type = fieldType(typeName);
  const sameType = type.name === field.type;
  // a lookup or rollup has no column to write (and converts to nothing: updateField says so)
  const computed = (t: string) => t === 'lookup' || t === 'rollup';
  if (computed(type.name) || computed(field.type)) return false;
  if ((type.name === 'single_select' || type.name === 'multiple_select') && !sameType && !hasChoices(update.options)) return true;
  const options = normaliseOptions(type, update.options === undefined ? (sameType ? field.options : undefined) : update.options, sameType ? field.options : undefined);
  if (type.sqlType(options) !== fieldType(field.type).sqlType(field.options)) return true;
  if (type.name === 'link' || field.type === 'link') return true;
  const env: SqlEnv = { linkTarget: () => '"link_target"' };
  return conversionSql({ type: field.type, options: field.options }, { type: type.name, options }, '"c"', env) !== '"c"';
}


/**
 * One PATCH, one transaction: rename, type/options, then constraints and default, in
 * that order (a new type first, so that constraints apply to converted values).
 */
export async function updateField(deps: EditorDeps, actor: Actor, tableId: number, fieldId: number, update: FieldUpdate) {
  return schemaChange(deps, actor, 'update_field', tableId, async (c) => {
    const table = await liveTableForChange(c, tableId);
    let field = await getField(c.tx, tableId, fieldId, { forUpdate: true });
    if (field.trashed_at) throw conflict('trashed', `field "${field.name}" is in the trash; restore it first`);
    // a lookup or rollup is read-only as to values, not as to its schema (rename, options)
    if (field.read_only && field.type !== 'lookup' && field.type !== 'rollup') throw conflict('read_only', `field "${field.name}" was adopted read-only`);
    const details: Record<string, unknown> = {};
    const ops: string[] = [];

    if (present(update.name) || present(update.column)) {
      const name = present(update.name) && update.name !== '' ? validateDisplayName(update.name) : field.name;
      await assertFieldNameFree(c, tableId, name, fieldId);
      const column = await chooseColumn(c, table, name, update.column, field.column_name);
      if (column !== field.column_name && !hasNoColumn(field)) {
        await c.ddl(`ALTER TABLE ${rel(c, table)} RENAME COLUMN ${ident(field.column_name)} TO ${ident(column)}`);
      }
      if (name !== field.name || column !== field.column_name) {
        await c.tx.query(`UPDATE tablewright.fields SET name = $2, column_name = $3, updated_at = now() WHERE id = $1`, [fieldId, name, column]);
        details.renamed = { from: { name: field.name, column: field.column_name }, to: { name, column } };
        ops.push('rename_field');
        field = await getField(c.tx, tableId, fieldId);
      }
    }
    if (ops.includes('rename_field')) await refreshFormulaTexts(c.tx, tableId);
    if (field.type === 'formula' && present(update.type) && update.type !== '' && update.type !== 'formula') {
      // to another type: its values now become a plain column first, then convert as any field's
      if (isComputedType(String(update.type))) throw badRequest('a formula converts to a plain type, not to a lookup or rollup', 'type');
      fieldType(String(update.type), 'type');
      field = await materialiseFormula(c, String(rel(c, table)), table, field, (f) => columnComment(f, table));
      details.materialised = { from: 'formula' };
      ops.push('change_field');
    }
    if (update.type === 'formula' && field.type !== 'formula') {
      // its values are replaced by computed ones: a loss, reported and kept (formula_convert.ts)
      assertFormulaSpec({ not_null: update.not_null, unique: update.unique, default: update.default });
      const out = await convertToFormula(c, String(rel(c, table)), table, field, { options: update.options, confirm: flag(update.confirm_loss, 'confirm_loss') ?? false, version: table.version + 1 }, (f) => columnComment(f, table));
      field = out.field;
      details.type = { from: 'plain', to: 'formula', report: out.report, ...(out.kept ? { kept_in_trash: out.kept } : {}) };
      ops.push('change_field');
      update = { ...update, options: undefined, type: undefined };
    }
    if (field.type === 'formula') {
      assertFormulaSpec({ not_null: update.not_null, unique: update.unique, default: update.default });
      if (present(update.options) && (await changeFormula(c, String(rel(c, table)), table, field, (update.options as { expression?: unknown } | null)?.expression))) {
        ops.push('change_field');
        field = await getField(c.tx, tableId, fieldId);
      }
      update = { ...update, options: undefined, type: undefined };
    }
    const toType = present(update.type) && update.type !== '' ? String(update.type) : field.type;
    if ((isComputedType(field.type) || isComputedType(toType)) && toType !== field.type) {
      throw badRequest('a lookup or rollup is computed: it converts to no other type, nor another type to it (add a new field)', 'type');
    }
    if (isComputedType(field.type)) {
      if (flag(update.not_null, 'not_null') || flag(update.unique, 'unique') || flag(update.indexed, 'indexed') || (present(update.default) && update.default !== null && update.default !== '')) {
        throw badRequest('a lookup or rollup is computed: it cannot be required, unique, indexed or have a default', 'type');
      }
      if (present(update.options)) {
        const options = normaliseOptions(fieldType(field.type), update.options, field.options);
        if (stableJson(options) !== stableJson(field.options)) {
          const link = await getField(c.tx, tableId, options.link_field_id).catch(() => undefined);
          const target = link?.type === 'link' && options.field_id !== undefined ? await getField(c.tx, link.options.table_id, options.field_id).catch(() => undefined) : undefined;
          const problem = checkComputedSource(link, target, options, field.type as 'lookup' | 'rollup');
          if (problem) throw unprocessable('invalid_options', `${problem.field}: ${problem.message}`, problem.field);
          await c.tx.query(`UPDATE tablewright.fields SET options = $2, updated_at = now() WHERE id = $1`, [fieldId, options]);
          details.options = { from: field.options, to: options };
          ops.push('change_field');
        }
        update = { ...update, options: undefined };
      }
    }
    const multiplicity = multiplicityChange(field, update);
    if (isManyLink(field) && (flag(update.not_null, 'not_null') || flag(update.unique, 'unique') || (present(update.default) && update.default !== null && update.default !== ''))) {
      throw badRequest('a many-to-many link cannot be required, unique or have a default', flag(update.not_null, 'not_null') ? 'not_null' : flag(update.unique, 'unique') ? 'unique' : 'default');
    }
    if (multiplicity) {
      field = await convertMultiplicity(c, table, field, update, multiplicity, table.version + 1, details);
      ops.push('change_field');
    }
    const typeChanging = !multiplicity && present(update.type) && update.type !== '' && update.type !== field.type;
    // Options sent unchanged (a console form always sends them) are not a change.
    const optionsChanging =
      !multiplicity && !typeChanging && present(update.options) && stableJson(normaliseOptions(fieldType(field.type), update.options, field.options)) !== stableJson(field.options);
    if (typeChanging || optionsChanging) {
      // The console's form sends the default box as it was: the old default, which the type
      // change itself carried over or (confirmed) dropped; not a default for the new type.
      if (!setsOtherDefault(field, update)) update = { ...update, default: undefined };
      field = await changeType(c, table, field, update, table.version + 1, details);
      ops.push('change_field');
    }
    const notNull = flag(update.not_null, 'not_null');
    assertSystemConstraints(field, notNull, flag(update.unique, 'unique'));
    if (notNull !== undefined && notNull !== field.not_null) {
      await setNotNull(c, table, field, notNull);
      await c.tx.query(`UPDATE tablewright.fields SET not_null = $2 WHERE id = $1`, [fieldId, notNull]);
      ops.push(notNull ? 'set_not_null' : 'drop_not_null');
    }
    const unique = flag(update.unique, 'unique') ?? field.is_unique;
    const indexed = flag(update.indexed, 'indexed') ?? field.indexed;
    if (!indexed && field.type === 'link') throw badRequest('a link field is always indexed', 'indexed');
    if (unique !== field.is_unique || indexed !== field.indexed) {
      if (unique !== field.is_unique) {
        await setUnique(c, table, field, unique);
        ops.push(unique ? 'set_unique' : 'drop_unique');
      }
      if (indexed !== field.indexed) ops.push(indexed ? 'create_index' : 'drop_index');
      await syncOwnIndex(c, table, field, { is_unique: unique, indexed });
      await c.tx.query(`UPDATE tablewright.fields SET is_unique = $2, indexed = $3 WHERE id = $1`, [fieldId, unique, indexed]);
    }
    if (present(update.default) && stableJson(parseDefault(fieldType(field.type), field.options, update.default)?.json ?? null) !== stableJson(field.default_value ?? null)) {
      const json = await setDefault(c, table, field, update.default);
      await c.tx.query(`UPDATE tablewright.fields SET default_value = $2 WHERE id = $1`, [fieldId, json === null ? null : stringifyExact(json)]);
      ops.push(json === null ? 'drop_default' : 'set_default');
    }
    if (ops.length === 0) throw badRequest('nothing to change: send name, column, type, options, not_null, unique, indexed or default', 'name');
    c.reached('validate');
    const result = await getField(c.tx, tableId, fieldId);
    if ((ops.includes('rename_field') || ops.includes('change_field')) && !hasNoColumn(result)) {
      // the comment carries the display name, type and options (select labels and ids)
      await c.ddl(`COMMENT ON COLUMN ${rel(c, table)}.${ident(result.column_name)} IS ${literal(columnComment(result, table))}`);
    }
    c.reached('ddl');
    c.reached('metadata');
    return { result: { field: result, changes: details }, tableId, fieldId, details: { ops, ...details } };
  });
}

// ---------------------------------------------------------------- trash and restore

/**
 * Trash: the column stays, renamed to a parked name so the display name and column name
 * are free again; NOT NULL and UNIQUE are dropped (and remembered in metadata) so that
 * inserts keep working. Nothing is dropped.
 */
export async function trashField(deps: EditorDeps, actor: Actor, tableId: number, fieldId: number) {
  return schemaChange(deps, actor, 'trash_field', tableId, async (c) => {
    const table = await liveTableForChange(c, tableId);
    const field = await getField(c.tx, tableId, fieldId, { forUpdate: true });
    if (field.trashed_at) throw conflict('trashed', `field "${field.name}" is already in the trash`);
    if (hasNoColumn(field)) {
      // no column to park: a junction and its pairs stay as they are
      c.reached('validate');
      c.reached('ddl');
      await c.tx.query(
        /* sql */ `UPDATE tablewright.fields SET trashed_at = now(), trashed_by = $2, trash_name = $3, trash_reason = 'deleted' WHERE id = $1`,
        [fieldId, actor.name, field.options.junction ?? field.column_name],
      );
      c.reached('metadata');
      return { result: { id: fieldId }, tableId, fieldId, details: { name: field.name, column: field.column_name, junction: field.options.junction } };
    }
    const parked = trashName('f', field.id, field.column_name);
    c.reached('validate');
    const relation = rel(c, table);
    const col = ident(field.column_name);
    // an identity column cannot drop NOT NULL; PostgreSQL fills it, so inserts keep working
    if (field.not_null && !fieldType(field.type).system) await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} DROP NOT NULL`);
    if (field.is_unique) await c.ddl(`ALTER TABLE ${relation} DROP CONSTRAINT IF EXISTS ${ident(uniqueName(field.id))}`);
    await c.ddl(`ALTER TABLE ${relation} RENAME COLUMN ${col} TO ${ident(parked)}`);
    await c.ddl(`COMMENT ON COLUMN ${relation}.${ident(parked)} IS ${literal(columnComment(field, table, { trashed: true, column: field.column_name }))}`);
    c.reached('ddl');
    await c.tx.query(
      /* sql */ `UPDATE tablewright.fields SET trashed_at = now(), trashed_by = $2, trash_name = $3, trash_reason = 'deleted' WHERE id = $1`,
      [fieldId, actor.name, parked],
    );
    c.reached('metadata');
    return { result: { id: fieldId }, tableId, fieldId, details: { name: field.name, column: field.column_name, trash_name: parked } };
  });
}

/**
 * Restore: the column gets its name back (or the one given), and NOT NULL and UNIQUE
 * come back when the data allows; when it does not, the field comes back without them
 * and the answer says why.
 */
export async function restoreField(deps: EditorDeps, actor: Actor, tableId: number, fieldId: number, spec: { name?: unknown; column?: unknown } = {}) {
  return schemaChange(deps, actor, 'restore_field', tableId, async (c) => {
    const table = await liveTableForChange(c, tableId);
    const field = await getField(c.tx, tableId, fieldId, { forUpdate: true });
    if (!field.trashed_at || !field.trash_name) throw conflict('not_trashed', `field "${field.name}" is not in the trash`);
    const name = present(spec.name) && spec.name !== '' ? validateDisplayName(spec.name) : field.name;
    const { rows: clash } = await c.tx.query(
      `SELECT 1 FROM tablewright.fields WHERE table_id = $1 AND trashed_at IS NULL AND lower(name) = lower($2)`,
      [tableId, name],
    );
    if (clash.length) {
      throw conflict('name_taken', `this table has a field named "${name}" now; restore it under another name`, 'name', { suggestion: { name: `${name} (restored)` } });
    }
    const taken = await takenColumns(c, table);
    let column = field.column_name;
    if (present(spec.column) && spec.column !== '') column = await validatePhysicalName(c.tx, spec.column, 'column', 'column');
    if (taken(column)) {
      const suggestion = await derivePhysicalName(c.tx, column, 'field', taken, 'column');
      throw conflict('column_taken', `table "${table.name}" has a column named "${column}" now; restore under another column`, 'column', { suggestion: { column: suggestion } });
    }
    const { rows: live } = await c.tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM tablewright.fields WHERE table_id = $1 AND trashed_at IS NULL`, [tableId]);
    if (live[0]!.n >= c.deps.config.maxFields) throw unprocessable('too_many_fields', `a table has at most ${c.deps.config.maxFields} fields (MAX_FIELDS)`, 'name');
    c.reached('validate');

    if (hasNoColumn(field)) {
      c.reached('ddl');
      await c.tx.query(
        /* sql */ `UPDATE tablewright.fields SET trashed_at = NULL, trashed_by = NULL, trash_name = NULL, trash_reason = NULL, name = $2, column_name = $3, updated_at = now() WHERE id = $1`,
        [fieldId, name, column],
      );
      c.reached('metadata');
      return { result: { id: fieldId, warnings: [] as string[] }, tableId, fieldId, details: { name, column, junction: field.options.junction } };
    }
    const relation = rel(c, table);
    const col = ident(column);
    await c.ddl(`ALTER TABLE ${relation} RENAME COLUMN ${ident(field.trash_name)} TO ${col}`);
    await c.ddl(`COMMENT ON COLUMN ${relation}.${col} IS ${literal(columnComment({ ...field, name }, table))}`);
    const warnings: string[] = [];
    // A link kept as a type change's copy (its old column) lost its foreign key in the change
    // (a trashed link keeps its own): it comes back with one, its links to rows deleted
    // since emptied as the key's ON DELETE SET NULL would have (the answer says how many).
    if (field.type === 'link') {
      const { rows: keyed } = await c.tx.query(
        `SELECT 1 FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] WHERE k.conrelid = $1 AND k.contype = 'f' AND a.attname = $2`,
        [table.table_oid, column],
      );
      if (!keyed.length) {
        const { rows: to } = await c.tx.query<{ name: string; trashed: boolean }>(`SELECT name, trashed_at IS NOT NULL AS trashed FROM tablewright.tables WHERE id = $1`, [field.options.table_id]);
        if (!to[0]) throw conflict('link_target_gone', `"${field.name}" linked to a table that is gone (purged from the trash): it cannot come back as a link; its values stay in the trash until it is purged`);
        if (to[0].trashed) throw conflict('link_target_trashed', `"${field.name}" links to "${to[0].name}", which is in the trash: restore that table first`, undefined, { table_id: field.options.table_id });
        const target = (await sqlEnv(c.tx, c.deps, [{ type: 'link', options: field.options }])).linkTarget(field.options.table_id);
        const { rowCount } = await c.tx.query(`UPDATE ${relation} AS t SET ${col} = NULL WHERE t.${col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${target} AS l WHERE l.id = t.${col})`);
        if (rowCount) warnings.push(`${rowCount} links pointed at rows deleted since it was trashed: emptied, as the link's ON DELETE SET NULL does`);
        await c.ddl(`ALTER TABLE ${relation} ADD CONSTRAINT ${ident(fkName(field.id))} FOREIGN KEY (${col}) REFERENCES ${target} (id) ON DELETE SET NULL`);
      }
    }
    let notNull = field.not_null;
    let unique = field.is_unique;
    if (notNull) {
      const empty = await rowCount(c.tx, String(relation), `${col} IS NULL`);
      if (empty.count > 0) {
        notNull = false;
        warnings.push(`restored as optional: ${empty.count} rows have no value (rows added while it was in the trash)`);
      } else await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} SET NOT NULL`);
    }
    if (unique) {
      const { rows } = await c.tx.query(`SELECT 1 FROM ${relation} WHERE ${col} IS NOT NULL GROUP BY ${col} HAVING count(*) > 1 LIMIT 1`);
      if (rows.length) {
        unique = false;
        warnings.push('restored without UNIQUE: some values repeat');
        // its UNIQUE constraint was its index too (hasOwnIndex): an indexed field gets its own
        if (field.indexed) await c.ddl(`CREATE INDEX IF NOT EXISTS ${ident(indexName(field.id))} ON ${relation} ${indexUsing(field.type)}(${col})`);
      } else await c.ddl(`ALTER TABLE ${relation} ADD CONSTRAINT ${ident(uniqueName(field.id))} UNIQUE (${col})`);
    }
    c.reached('ddl');
    const { rows: pos } = await c.tx.query<{ next: number }>(`SELECT coalesce(max(position), 0) + 1 AS next FROM tablewright.fields WHERE table_id = $1 AND trashed_at IS NULL`, [tableId]);
    await c.tx.query(
      /* sql */ `UPDATE tablewright.fields SET trashed_at = NULL, trashed_by = NULL, trash_name = NULL, trash_reason = NULL,
         name = $2, column_name = $3, not_null = $4, is_unique = $5, updated_at = now(),
         position = CASE WHEN trash_reason = 'type_change' THEN $6 ELSE position END
       WHERE id = $1`,
      [fieldId, name, column, notNull, unique, pos[0]!.next],
    );
    await refreshFormulaTexts(c.tx, tableId);
    c.reached('metadata');
    return { result: { id: fieldId, warnings }, tableId, fieldId, details: { name, column, warnings } };
  });
}

/** Sets the display order; `order` lists field ids, first to last (missing ones go after). */
export async function reorderFields(deps: EditorDeps, actor: Actor, tableId: number, order: unknown) {
  if (!Array.isArray(order) || order.length === 0) throw badRequest('order must list field ids, first to last', 'order');
  const ids = order.map((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v));
  if (!ids.every((v) => typeof v === 'number' && Number.isSafeInteger(v))) throw badRequest('order must list field ids', 'order');
  if (new Set(ids).size !== ids.length) throw badRequest('order lists a field twice', 'order');
  return schemaChange(deps, actor, 'reorder_fields', tableId, async (c) => {
    await liveTableForChange(c, tableId);
    const fields = await listFields(c.tx, tableId);
    const known = new Set(fields.map((f) => f.id));
    const unknown = (ids as number[]).find((id) => !known.has(id));
    if (unknown !== undefined) throw badRequest(`field ${unknown} is not a live field of this table`, 'order');
    const rest = fields.filter((f) => !(ids as number[]).includes(f.id)).map((f) => f.id);
    const final = [...(ids as number[]), ...rest];
    c.reached('validate');
    c.reached('ddl');
    await c.tx.query(
      /* sql */ `UPDATE tablewright.fields f SET position = o.pos FROM unnest($2::bigint[]) WITH ORDINALITY AS o(id, pos) WHERE f.id = o.id AND f.table_id = $1`,
      [tableId, final],
    );
    c.reached('metadata');
    return { result: { order: final }, tableId, details: { order: final } };
  });
}

