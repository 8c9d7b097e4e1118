// Adding fields, one or many, inside a schema change, in a fixed number of round trips
// whatever their count (POST /tables with 50 fields is one transaction of about a dozen
// statements, not twelve per field):
//
//   1. every spec is validated in node (names, type, options, default): no database;
//   2. one read of what the table has: live fields and their names, the next position,
//      the catalog's columns and column slots, and the new fields' ids (taken from the
//      fields' id sequence: the DDL names constraints and comments after them). Adding
//      fields to an existing table (addField) reads the table's row, its identity and its
//      running online change in the same statement. (+ one row probe when NOT NULL or
//      UNIQUE with a default needs to know whether the table is empty);
//   3. one batch of DDL sent as one simple query: a single ALTER TABLE adding every
//      column (and its UNIQUE constraint), CREATE INDEX for indexed ones, one COMMENT ON
//      COLUMN each. A system field (autonumber, created_at...) needs its own steps after
//      its ADD COLUMN (server/schema/system_fields.ts): those follow one by one, after
//      step 4;
//   4. one multi-row INSERT of the metadata with the attnums PostgreSQL gave the columns,
//      returning the new fields' metadata.
//
// Errors name the input as before (fields.2.column for the third field of a table).
import { stringifyExact } from '../fields/exact_json.js';
import { ident, literal, qualified } from '../db/ident.js';
import { AppError, badRequest, conflict, notFound, unprocessable } from '../errors.js';
import { fieldType } from '../fields/registry.js';
import type { FieldTypeDef } from '../fields/types.js';
import { PG_MAX_COLUMNS } from './catalog.js';
import { editorStatement, runningOnlineSql, schemaChange, type Actor, type Change, type EditorDeps } from './change.js';
import { columnComment } from './comments.js';
import { flag } from './input.js';
import { assertEditable, exactDefaults, FIELD_COLUMNS, TABLE_COLUMNS, liveTableForChange, type FieldMeta, type TableMeta } from './metadata.js';
import { IDENTITY_SQL, identityHolds, relocate, type IdentityRow } from './identity.js';
import { derivePhysicalName, validateDisplayName, validatePhysicalName } from './names.js';
import { addSystemColumn } from './system_fields.js';
import { addFieldSingly, hasOwnIndex, indexUsing, normaliseOptions, parseDefault, sqlEnv, type FieldSpec } from './fields.js';
import { isManyLink } from './m2m.js';

interface Prepared {
  prefix: string;
  name: string;
  type: FieldTypeDef;
  options: any;
  notNull: boolean;
  unique: boolean;
  indexed: boolean;
  dflt: { json: unknown; sql: string } | null;
  requestedColumn: unknown;
}

/** Step 1: a spec checked in node alone; 400/422 naming `${prefix}<input>`. */
function prepare(spec: FieldSpec, prefix: string): Prepared {
  const name = validateDisplayName(spec.name, `${prefix}name`);
  if (typeof spec.type !== 'string') throw badRequest('a field type is required', `${prefix}type`);
  const type = fieldType(spec.type, `${prefix}type`);
  const options = normaliseOptions(type, spec.options);
  const notNull = flag(spec.not_null, `${prefix}not_null`) ?? false;
  // an autonumber is unique by definition: its constraint says so to psql and the planner
  const unique = type.system === 'identity' || (flag(spec.unique, `${prefix}unique`) ?? false);
  const indexed = type.name === 'link' || (flag(spec.indexed, `${prefix}indexed`) ?? false);
  const dflt = parseDefault(type, options, spec.default);
  return { prefix, name, type, options, notNull, unique, indexed, dflt, requestedColumn: spec.column };
}

interface TableState {
  live: number;
  next: number;
  slots: number;
  /** live fields' names as PostgreSQL lowers them (the uniqueness rule is lower(name)) */
  names: string[];
  /** the new names, lowered by PostgreSQL too, in input order */
  newNames: string[];
  columns: string[];
  /** the new fields' ids, in input order (from the fields' id sequence) */
  ids: number[];
  /** the table has rows (only asked when a NOT NULL or UNIQUE default needs it): 0, 1 or 2 */
  rows: number | null;
}

/**
 * Step 2's columns, over a table id and its stored oid (SQL expressions); $names: the new
 * names (text[]), $count: how many ids to take.
 */
const stateSql = (tableId: string, oid: string, names: string, count: string) =>
  /* sql */ `SELECT count(*) FILTER (WHERE f.trashed_at IS NULL)::int AS live,
        coalesce(max(f.position), 0)::int + 1 AS next,
        coalesce(array_agg(lower(f.name)) FILTER (WHERE f.trashed_at IS NULL), '{}') AS names,
        ARRAY(SELECT lower(x.n) FROM unnest(${names}::text[]) WITH ORDINALITY AS x(n, i) ORDER BY x.i) AS "newNames",
        ARRAY(SELECT DISTINCT * FROM (SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = ${oid} AND a.attnum > 0 AND NOT a.attisdropped
                      UNION ALL SELECT m.column_name FROM tablewright.fields m WHERE m.table_id = ${tableId} AND m.trashed_at IS NULL) s) AS columns,
        (SELECT relnatts::int FROM pg_class WHERE oid = ${oid}) AS slots,
        ARRAY(SELECT nextval(pg_get_serial_sequence('tablewright.fields', 'id')) FROM generate_series(1, ${count})) AS ids
       FROM tablewright.fields f WHERE f.table_id = ${tableId}`;

/** pg gives int8[] as text: ids are numbers. */
function normaliseState(state: TableState): TableState {
  state.slots ??= 0;
  state.rows = null;
  state.ids = state.ids.map(Number);
  return state;
}

/** Step 2: one statement for everything the checks need to know about the table. */
async function readState(c: Change, table: TableMeta, prepared: Prepared[]): Promise<TableState> {
  const { rows } = await c.tx.query<TableState>(stateSql('$1::int8', '$2::oid', '$3', '$4::int'), [
    table.id,
    table.table_oid,
    prepared.map((p) => p.name),
    prepared.length,
  ]);
  const state = normaliseState(rows[0]!);
  await probeRows(c, table, prepared, state);
  return state;
}

/** Whether the table has rows, when a NOT NULL or UNIQUE default needs to know. */
async function probeRows(c: Change, table: TableMeta, prepared: Prepared[], state: TableState): Promise<void> {
  // a table being created (no oid yet) has no rows: nothing to probe, nor a relation to probe
  const probe = table.table_oid != null && prepared.some((p) => (p.notNull && !p.dflt) || (p.unique && p.dflt));
  if (!probe) return;
  const relation = String(qualified(c.deps.config.dataSchema, table.table_name));
  const { rows: n } = await c.tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${relation} LIMIT 2) s`);
  state.rows = n[0]!.n;
}

type TableRead = TableMeta & IdentityRow & TableState & { running_online: number | null };

/**
 * addField's first read, after the advisory lock: the table's row (locked), its running
 * online change, whether its stored oid still names it, and step 2's state, in one
 * statement. Undefined when there is no such table.
 */
async function readTableAndState(c: Change, tableId: number, prepared: Prepared[]): Promise<TableRead | undefined> {
  const { rows } = await c.tx.query<TableRead>(editorStatement(c.deps, TABLE_AND_STATE_SQL, [tableId, prepared.map((p) => p.name), prepared.length]));
  return rows[0];
}
const TABLE_AND_STATE_SQL = /* sql */ `SELECT ${TABLE_COLUMNS.replace(/(^|,\s*)(\w+)/g, '$1t.$2')}, ${runningOnlineSql('t.id')} AS running_online, ${IDENTITY_SQL}, s.*
       FROM tablewright.tables t
       LEFT JOIN pg_class c ON c.oid = t.table_oid
       LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN LATERAL (${stateSql('t.id', 't.table_oid', '$2', '$3::int')}) s
      WHERE t.id = $1
        FOR UPDATE OF t`;
/** TableMeta's keys, as TABLE_COLUMNS names them */
const TABLE_KEYS = TABLE_COLUMNS.split(',').map((c) => c.trim().split(/\s+AS\s+/).at(-1)!) as Array<keyof TableMeta>;

interface Planned extends Prepared {
  column: string;
  position: number;
}

/** Step 2's checks, in input order: each field sees the ones before it as taken. */
async function plan(c: Change, table: TableMeta, prepared: Prepared[], state: TableState): Promise<Planned[]> {
  const names = new Set(state.names);
  const columns = new Set(state.columns);
  const taken = (n: string) => columns.has(n);
  const out: Planned[] = [];
  for (const [i, p] of prepared.entries()) {
    if (state.live + i >= c.deps.config.maxFields) {
      throw unprocessable('too_many_fields', `a table has at most ${c.deps.config.maxFields} fields (MAX_FIELDS)`, `${p.prefix}name`);
    }
    if (state.slots + i >= PG_MAX_COLUMNS - 1) {
      throw unprocessable(
        'column_limit',
        `table "${table.name}" has used all ${PG_MAX_COLUMNS} column slots PostgreSQL allows (dropped columns count too); rebuild the table first`,
        `${p.prefix}name`,
      );
    }
    const lowered = state.newNames[i]!;
    if (names.has(lowered)) throw conflict('name_taken', `this table already has a field named "${p.name}"`, `${p.prefix}name`);
    let column: string;
    if (p.requestedColumn !== undefined && p.requestedColumn !== null && p.requestedColumn !== '') {
      column = await validatePhysicalName(c.tx, p.requestedColumn, `${p.prefix}column`, 'column');
      if (taken(column)) throw conflict('column_taken', `table "${table.name}" already has a column named "${column}"`, `${p.prefix}column`);
    } else {
      column = await derivePhysicalName(c.tx, p.name, 'field', taken, 'column');
    }
    if (state.rows !== null) {
      if (p.notNull && !p.dflt && state.rows > 0) throw unprocessable('needs_default', `"${p.name}" cannot be required without a default: the table already has rows`, `${p.prefix}default`);
      if (p.unique && p.dflt && state.rows > 1) {
        throw unprocessable('would_duplicate', `"${p.name}" cannot be unique with a default: every existing row would get the same value`, `${p.prefix}unique`);
      }
    }
    names.add(lowered);
    columns.add(column);
    out.push({ ...p, column, position: state.next + i });
  }
  return out;
}

interface Built {
  fields: Planned[];
  idOf: Map<string, number>;
  /** the column definitions (ADD COLUMN's or CREATE TABLE's) */
  columns: string[];
  /** UNIQUE constraints and indexes, after the columns (and after a system column's own steps) */
  after: string[];
  comments: string[];
}

/** Steps 1 and 2's checks, and the DDL text of step 3. */
async function build(c: Change, table: TableMeta, prepared: Prepared[], state: TableState): Promise<Built> {
  const fields = await plan(c, table, prepared, state);
  const linkTargets = new Map<Planned, string>();
  for (const f of fields.filter((x) => x.type.name === 'link')) {
    const env = await prefixedAsync(f.prefix, () => sqlEnv(c.tx, c.deps, [{ type: f.type.name, options: f.options }]));
    linkTargets.set(f, env.linkTarget(f.options.table_id));
  }
  c.reached('validate');

  const idOf = new Map(fields.map((f, i) => [f.column, state.ids[i]!]));
  const relation = qualified(c.deps.config.dataSchema, table.table_name);
  const columns: string[] = [];
  const after: string[] = [];
  for (const f of fields) {
    const id = idOf.get(f.column)!;
    const col = ident(f.column);
    let definition = `${col} ${f.type.sqlType(f.options)}`;
    if (f.dflt) definition += ` DEFAULT ${f.dflt.sql}`;
    if (f.notNull) definition += ' NOT NULL';
    if (f.type.name === 'link') definition += ` CONSTRAINT ${ident(`fk_f${id}`)} REFERENCES ${linkTargets.get(f)} (id) ON DELETE SET NULL`;
    columns.push(definition);
    if (f.unique) after.push(`ALTER TABLE ${relation} ADD CONSTRAINT ${ident(`uq_f${id}`)} UNIQUE (${col})`);
    if (hasOwnIndex({ indexed: f.indexed, is_unique: f.unique })) after.push(`CREATE INDEX ${ident(`ix_f${id}`)} ON ${relation} ${indexUsing(f.type.name)}(${col})`);
  }
  const comments = fields.map(
    (f) => `COMMENT ON COLUMN ${relation}.${ident(f.column)} IS ${literal(columnComment({ id: idOf.get(f.column)!, name: f.name, type: f.type.name, options: f.options }, table))}`,
  );
  return { fields, idOf, columns, after, comments };
}

/**
 * Steps 3 and 4 (`first`: the statements making the columns): the DDL, and the metadata
 * with the columns' attnums; a system column's own steps after its metadata row (they
 * record on it), then constraints, indexes and comments. The new fields' metadata in
 * input order.
 */
async function finish(c: Change, table: TableMeta, b: Built, first: string[]): Promise<FieldMeta[]> {
  if (b.fields.length === 0) {
    await c.ddlBatch(first);
    return [];
  }
  const system = b.fields.filter((f) => f.type.system);
  if (system.length === 0) {
    await c.ddlBatch([...first, ...b.after, ...b.comments]);
    return insertMetadata(c, table, b);
  }
  // a system column's own steps (numbering, identity, default) come between its ADD COLUMN and its UNIQUE
  await c.ddlBatch(first);
  await insertMetadata(c, table, b);
  const relation = String(qualified(c.deps.config.dataSchema, table.table_name));
  for (const f of system) await addSystemColumn(c, relation, b.idOf.get(f.column)!, String(ident(f.column)), f.type);
  await c.ddlBatch([...b.after, ...b.comments]);
  // as those steps left them (NOT NULL, the default PostgreSQL fills)
  const { rows } = await c.tx.query<FieldMeta>(`SELECT ${FIELD_COLUMNS} FROM tablewright.fields WHERE id = ANY($1::int8[])`, [[...b.idOf.values()]]);
  return inInputOrder(table, b, exactDefaults(rows));
}

/**
 * Step 4: one INSERT of the new fields' metadata under their taken ids, with the attnums
 * the catalog gave their columns. RETURNING gives no order: matched back by id.
 */
async function insertMetadata(c: Change, table: TableMeta, b: Built): Promise<FieldMeta[]> {
  const rows = b.fields.map((f) => ({
    id: b.idOf.get(f.column)!,
    name: f.name,
    column_name: f.column,
    type: f.type.name,
    options: f.options,
    position: f.position,
    not_null: f.notNull,
    is_unique: f.unique,
    indexed: f.indexed,
    // as text, cast by PostgreSQL: a default of 0.10 stays 0.10 (stringifyExact), as before
    default_value: f.dflt ? stringifyExact(f.dflt.json) : null,
  }));
  const relation = String(qualified(c.deps.config.dataSchema, table.table_name));
  const { rows: metas } = await c.tx.query<FieldMeta>(editorStatement(c.deps, INSERT_FIELDS_SQL, [table.id, JSON.stringify(rows), relation]));
  return inInputOrder(table, b, exactDefaults(metas));
}
const INSERT_FIELDS_SQL = /* sql */ `INSERT INTO tablewright.fields (id, table_id, name, column_name, type, options, position, not_null, is_unique, indexed, default_value, attnum)
      OVERRIDING SYSTEM VALUE
      SELECT f.id, $1, f.name, f.column_name, f.type, f.options, f.position, f.not_null, f.is_unique, f.indexed, f.default_value::jsonb, a.attnum
        FROM jsonb_to_recordset($2::jsonb) AS f(id int8, name text, column_name text, type text, options jsonb, position int, not_null boolean, is_unique boolean, indexed boolean, default_value text)
        LEFT JOIN pg_attribute a ON a.attrelid = to_regclass($3) AND a.attname = f.column_name AND a.attnum > 0 AND NOT a.attisdropped
      RETURNING ${FIELD_COLUMNS}`;

function inInputOrder(table: TableMeta, b: Built, metas: FieldMeta[]): FieldMeta[] {
  const byId = new Map(metas.map((m) => [Number(m.id), m]));
  return b.fields.map((f) => {
    const meta = byId.get(b.idOf.get(f.column)!);
    if (!meta || meta.attnum === null) throw new Error(`column ${f.column} not found in relation ${table.table_name} (${table.table_oid})`);
    return meta;
  });
}

/**
 * A field that is more than a column (a lookup or rollup; a many-to-many link, which makes a
 * junction table and its reverse field; a formula, a generated column) goes its own way, one statement at a time, after the
 * batch of plain fields. A spec whose options do not parse is "plain": the batch names its error.
 */
function isSpecial(spec: FieldSpec): boolean {
  // a formula is checked against the table's fields and becomes a generated column
  if (spec.type === 'lookup' || spec.type === 'rollup' || spec.type === 'formula') return true;
  if (spec.type !== 'link') return false;
  try {
    return isManyLink({ type: 'link', options: normaliseOptions(fieldType('link'), spec.options) });
  } catch {
    return false;
  }
}

/** The plain specs' indexes and the special ones', in input order. */
function split(specs: FieldSpec[]): { plain: number[]; special: number[] } {
  const plain: number[] = [];
  const special: number[] = [];
  specs.forEach((s, i) => (isSpecial(s) ? special : plain).push(i));
  return { plain, special };
}

/** Adds the special fields one by one into `out` (input order). */
async function addSpecials(c: Change, table: TableMeta, specs: FieldSpec[], prefixes: string[], special: number[], out: FieldMeta[]): Promise<void> {
  for (const i of special) out[i] = await prefixedAsync(prefixes[i] ?? '', () => addFieldSingly(c, table, specs[i]!, prefixes[i] ?? ''));
}

/** Step 1 for every plain spec, in input order. */
function prepareAll(specs: FieldSpec[], prefixes: string[], plain: number[]): Prepared[] {
  return plain.map((i) => prefixed(prefixes[i] ?? '', () => prepare(specs[i]!, prefixes[i] ?? '')));
}

/** Adds fields to an existing table inside a change; their metadata in input order. `prefixes[i]` names field i's inputs in errors. */
export async function addFieldsIn(c: Change, table: TableMeta, specs: FieldSpec[], prefixes: string[] = specs.map(() => '')): Promise<FieldMeta[]> {
  if (specs.length === 0) return [];
  const { plain, special } = split(specs);
  const out: FieldMeta[] = new Array(specs.length);
  if (plain.length) {
    const prepared = prepareAll(specs, prefixes, plain);
    const b = await build(c, table, prepared, await readState(c, table, prepared));
    (await addColumns(c, table, b)).forEach((m, k) => (out[plain[k]!] = m));
  }
  await addSpecials(c, table, specs, prefixes, special, out);
  return out;
}

/** Steps 3 and 4 on an existing table: one ALTER TABLE adding every column. */
function addColumns(c: Change, table: TableMeta, b: Built): Promise<FieldMeta[]> {
  const relation = qualified(c.deps.config.dataSchema, table.table_name);
  // ADD COLUMN with no default or a constant one rewrites no rows (PostgreSQL 11+).
  return finish(c, table, b, [`ALTER TABLE ${relation} ${b.columns.map((d) => `ADD COLUMN ${d}`).join(', ')}`]);
}

/**
 * A new table with its fields, inside a change: `table` has its metadata row (no oid yet);
 * one CREATE TABLE makes it with every column (`head` first: the id), then its comment,
 * constraints, indexes and column comments go in the same round trip. The table's
 * metadata with its oid, and its fields'.
 */
export async function createTableWithFields(
  c: Change,
  table: TableMeta,
  head: string,
  tableCommentText: string,
  specs: FieldSpec[],
  prefixes: string[],
): Promise<{ table: TableMeta; fields: FieldMeta[] }> {
  const { plain, special } = split(specs);
  const prepared = prepareAll(specs, prefixes, plain);
  const b = await build(c, table, prepared, await readState(c, table, prepared));
  const relation = qualified(c.deps.config.dataSchema, table.table_name);
  const metas = await finish(c, table, b, [`CREATE TABLE ${relation} (${[head, ...b.columns].join(', ')})`, `COMMENT ON TABLE ${relation} IS ${literal(tableCommentText)}`]);
  const { rows } = await c.tx.query<TableMeta>(
    /* sql */ `UPDATE tablewright.tables SET table_oid = to_regclass(format('%I.%I', $2::text, $3::text))::oid WHERE id = $1 RETURNING ${TABLE_COLUMNS}`,
    [table.id, c.deps.config.dataSchema, table.table_name],
  );
  const created = rows[0]!;
  const out: FieldMeta[] = new Array(specs.length);
  metas.forEach((m, k) => (out[plain[k]!] = m));
  await addSpecials(c, created, specs, prefixes, special, out);
  return { table: created, fields: out };
}

/** An error about field i's input names it in the list: fields.2.options.decimals, not options.decimals. */
function rename(err: unknown, prefix: string): unknown {
  if (prefix && err instanceof AppError && err.field && !err.field.startsWith(prefix)) return new AppError(err.status, err.code, err.message, prefix + err.field, err.details);
  return err;
}

function prefixed<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw rename(err, prefix);
  }
}

async function prefixedAsync<T>(prefix: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw rename(err, prefix);
  }
}

/** Adds one field inside a change. */
export async function addFieldIn(c: Change, table: TableMeta, spec: FieldSpec, prefix = ''): Promise<FieldMeta> {
  return (await addFieldsIn(c, table, [spec], [prefix]))[0]!;
}

/**
 * POST /tables/:id/fields. A plain field (the common case) costs seven round trips in all:
 * BEGIN, the lock, one read (the table, its online change, its identity, step 2), the
 * DDL, the metadata, the closing statement (triggers, version, audit, NOTIFY), COMMIT.
 */
export async function addField(deps: EditorDeps, actor: Actor, tableId: number, spec: FieldSpec) {
  const done = (field: FieldMeta) => ({ result: { field }, tableId, fieldId: field.id, details: { name: field.name, column: field.column_name, type: field.type } });
  if (isSpecial(spec)) {
    return schemaChange(deps, actor, 'add_field', tableId, async (c) => {
      const table = await liveTableForChange(c, tableId);
      const field = await addFieldIn(c, table, spec);
      c.reached('ddl');
      c.reached('metadata');
      return done(field);
    });
  }
  return schemaChange(
    deps,
    actor,
    'add_field',
    tableId,
    async (c) => {
      // a spec that does not validate is answered after the table's own errors (404, 409), as before
      let prepared: Prepared[] = [];
      let invalid: unknown;
      try {
        prepared = [prepare(spec, '')];
      } catch (err) {
        invalid = err;
      }
      const read = await readTableAndState(c, tableId, prepared);
      await c.onlineChecked(read?.running_online ?? null);
      if (!read) throw notFound(`table ${tableId}`);
      let table: TableMeta = Object.fromEntries(TABLE_KEYS.map((k) => [k, read[k]])) as unknown as TableMeta;
      assertEditable(table);
      let state: TableState;
      if (await identityHolds(c, table, read)) {
        state = normaliseState(read);
        if (!invalid) await probeRows(c, table, prepared, state);
      } else {
        // the stored oid names another relation now: the table found again, then its state read afresh
        table = await relocate(c, table);
        if (invalid) throw invalid;
        state = await readState(c, table, prepared);
      }
      if (invalid) throw invalid;
      const field = (await addColumns(c, table, await build(c, table, prepared, state)))[0]!;
      c.reached('ddl');
      c.reached('metadata');
      return done(field);
    },
    { onlineCheckInBody: true },
  );
}
