// A compiled model: a user table's metadata turned into what every row operation needs
// (the Baserow idea of generating a model per table, in TypeScript). Fields with their
// parser, validator and formatter, and ready-made SQL fragments with quoted identifiers.
//
// A model is immutable and carries the versions it was compiled from: its own table's,
// and those of the tables its links point at (their label column is part of the SQL).
import crypto from 'node:crypto';
import pg from 'pg';
import { ident, identFromCatalog, qualified } from '../db/ident.js';
import { preparedName, type Queryable } from '../db/pool.js';
import { numberToJson } from '../fields/number.js';
import { resultType } from '../fields/formula.js';
import { isVirtualFormula, missingInputs, virtualFormulaRef } from '../schema/formula_fields.js';
import { fieldType } from '../fields/registry.js';
import type { FieldTypeDef } from '../fields/types.js';
import { getLiveTable, getTable, listFields, type FieldCore, type FieldMeta, type TableMeta } from '../schema/metadata.js';
import { notFound } from '../errors.js';
import { isManyLink } from '../schema/m2m.js';
import { computedSql, Laterals, linksAgg } from './linked.js';
import { parseExactJson, RawJson } from '../fields/exact_json.js';

/** A link shows the linked row's first field of these types (display order): its label. */
export const isLabelType = (type: string): boolean => type === 'text' || type === 'long_text' || type === 'email';

/** A field's metadata as a model keeps it (FieldCore: without its timestamps). */
export type ModelFieldMeta = FieldCore;

export interface ModelField {
  meta: ModelFieldMeta;
  type: FieldTypeDef;
  options: any;
  /** the column name, as JSON keys and query parameters name it */
  column: string;
  /** the quoted column: "col" */
  quoted: string;
  /** the quoted column, qualified by the row alias: t."col" */
  ref: string;
  /** for link fields: where the label comes from */
  link?: { alias: string; relation: string; labelRef: string | null; tableId: number };
  /** a many-to-many link: its pairs' junction; `ref` reads the [{id,label}] list */
  many?: { junction: string; self: string; other: string; targetRelation: string; labelExpr: string; tableId: number } | null;
  /** why a computed field (many-to-many, lookup, rollup) reads empty now (a trashed target...) */
  broken?: string;
  /** a rollup: whether its value is a number (written to JSON exactly, as a number) */
  rollup?: { numeric: boolean };
}

export interface Model {
  tableId: number;
  version: number;
  table: TableMeta;
  fields: ModelField[];
  byColumn: ReadonlyMap<string, ModelField>;
  /** "data"."orders" */
  relation: string;
  /** the select list over alias t (and link label joins): id first, then fields */
  selectList: string;
  /** FROM clause: the table as t, plus a LEFT JOIN per link field for its label */
  from: string;
  /** the LEFT JOINs alone, for selecting from a CTE named t (INSERT/UPDATE ... RETURNING) */
  joins: string;
  /** FROM without the link laterals (server/model/linked.ts), and their aliases: a count whose conditions read none of them skips them */
  plainFrom: string;
  lateralAliases: string[];
  /** other tables this model's SQL reads (link targets), with the versions compiled */
  dependsOn: ReadonlyMap<number, number>;
  /** searchable fields, for the free-text search */
  searchable: ModelField[];
  /** the table has a column `id` (every table we make has; a table adopted as is may not) */
  hasId: boolean;
  /** `id` names one row: the table's primary key is its `id` column alone */
  rowId: boolean;
  /**
   * What makes the order of a listing total (the last sort keys, and the cursor's): `id`,
   * or for a table adopted read-only its own primary key, or its ctid when it has none.
   */
  key: ReadonlyArray<{ column: string; expr: string }>;
  compiledAt: number;
  /** the statements this model has sent, by key (server/model/statements.ts) */
  statements: Map<string, ModelStatement>;
}

/** A row statement of one model: its text, and the name it is prepared under. */
export interface ModelStatement {
  text: string;
  name: string;
  /** the table's statement generation the name was made in (statements.ts) */
  generation: number;
}

export const ROW_ALIAS = 't';

const ID_KEY = [{ column: 'id', expr: `${ROW_ALIAS}.id` }];

/**
 * How rows of a table adopted read-only are told apart, from the catalog (it is the
 * source of truth, and a DBA may change it): whether it has an `id` column, and its
 * primary key's columns (none: its ctid, stable while nothing rewrites the table, enough
 * to page through it). Tables we make always have `id` as their key.
 */
async function rowKeyOf(db: Queryable, relation: string): Promise<Pick<Model, 'hasId' | 'rowId' | 'key'>> {
  const { rows } = await db.query<{ has_id: boolean; pk: string[] | null }>(
    /* sql */ `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = r.oid AND attname = 'id' AND attnum > 0 AND NOT attisdropped) AS has_id,
        (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_constraint c
           CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
          WHERE c.conrelid = r.oid AND c.contype = 'p') AS pk
       FROM (SELECT to_regclass($1) AS oid) r`,
    [relation],
  );
  const hasId = rows[0]?.has_id ?? false;
  const pk = rows[0]?.pk ?? null;
  const key = pk?.length ? pk.map((column) => ({ column, expr: `${ROW_ALIAS}.${identFromCatalog(column)}` })) : [{ column: 'ctid', expr: `${ROW_ALIAS}.ctid` }];
  return { hasId, rowId: hasId && pk?.length === 1 && pk[0] === 'id', key };
}

const TABLE_PART = /* sql */ `t.id, t.name, t.table_name, t.version, t.table_oid::int8 AS table_oid, t.read_only, t.created_at, t.created_by,
  t.updated_at, t.trashed_at, t.trashed_by, t.trash_name`;

const TABLE_KEYS = TABLE_PART.split(',').map((c) => c.trim().split(/\s+AS\s+|\./).at(-1)!);

/**
 * A live field's metadata as one JSON array, in the order fieldFromValues reads it: int8s
 * and the default (exactDefaults: every digit kept) as text, the trash columns left out
 * (null for every live field), and the timestamps too (ModelFieldMeta).
 */
const FIELD_VALUES = /* sql */ `json_build_array(f.id::text, f.table_id::text, f.name, f.column_name, f.type, f.options, f.position,
  f.not_null, f.is_unique, f.indexed, f.default_value::text, f.attnum, f.read_only, f.pg_type)`;

/**
 * A field's metadata from FIELD_VALUES, as listFields() reads it (the pool's int8 reading,
 * the default parsed exactly). Written out as one object literal: the compiler
 * holds it to FieldMeta, and V8 builds it in one step (a loop setting 20 keys one by one
 * cost a 200-field compile about 0.25 ms).
 */
function fieldFromValues(v: any[], int8: (text: string) => any): ModelFieldMeta {
  return {
    id: int8(v[0]),
    table_id: int8(v[1]),
    name: v[2],
    column_name: v[3],
    type: v[4],
    options: v[5],
    position: v[6],
    not_null: v[7],
    is_unique: v[8],
    indexed: v[9],
    default_value: v[10] === null ? null : parseExactJson(v[10]),
    attnum: v[11],
    read_only: v[12],
    pg_type: v[13],
    trashed_at: null,
    trashed_by: null,
    trash_name: null,
    trash_reason: null,
  };
}

const READ_SQL = /* sql */ `SELECT ${TABLE_PART}, a.fields
       FROM tablewright.tables t
       CROSS JOIN LATERAL (SELECT coalesce(json_agg(${FIELD_VALUES} ORDER BY f.position, f.id), '[]') AS fields
                             FROM tablewright.fields f WHERE f.table_id = t.id AND f.trashed_at IS NULL) a
      WHERE t.id = $1`;
/** a named prepared statement where the pool keeps them (planned once per connection) */
const READ_NAME = `tw_m_${crypto.createHash('sha1').update(READ_SQL).digest('base64url').slice(0, 24)}`;

/**
 * A live table's row and its live fields in display order: the one read a compile makes,
 * one round trip, as one row: the table's columns, then the fields as one JSON array of
 * value lists (one json_agg, one sort). One row per field cost node about 10 µs a row to
 * receive and parse (most of a 200-field compile); column arrays (int8[], timestamptz[]...)
 * cost as much in postgres-array's parser; JSON.parse is native.
 */
export async function readTableAndFields(db: Queryable, tableId: number): Promise<{ table: TableMeta; fields: ModelFieldMeta[] }> {
  const name = preparedName(db, READ_NAME);
  const { rows } = await db.query<TableMeta & Record<string, any>>(name ? { name, text: READ_SQL, values: [tableId] } : { text: READ_SQL, values: [tableId] });
  const first = rows[0];
  if (!first) throw notFound(`table ${tableId}`);
  if (first.trashed_at) throw notFound(`table ${tableId} (it is in the trash)`);
  const table = {} as Record<string, unknown>;
  for (const key of TABLE_KEYS) table[key] = first[key];
  // the pool's int8 reading (server/db/pool.ts), looked up now: it is set when the pool's module loads
  const int8 = pg.types.getTypeParser(pg.types.builtins.INT8) as (v: string) => unknown;
  const values: unknown[][] = first.fields;
  const fields: ModelFieldMeta[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) fields[i] = fieldFromValues(values[i]!, int8);
  return { table: table as unknown as TableMeta, fields };
}

/** Compiles the model of a live table from its metadata (a few small queries). */
export async function compileModel(db: Queryable, dataSchema: string, tableId: number): Promise<Model> {
  const { table, fields } = await readTableAndFields(db, tableId);
  return buildModel(db, dataSchema, table, fields);
}

/**
 * The model from metadata already read (readTableAndFields). Only links, lookups, rollups
 * and read-only adopted tables read more (the linked tables, the row key).
 */
export async function buildModel(db: Queryable, dataSchema: string, table: TableMeta, metas: ModelFieldMeta[]): Promise<Model> {
  const tableId = table.id;
  const relation = String(qualified(dataSchema, table.table_name));
  const dependsOn = new Map<number, number>();
  const fields: ModelField[] = [];
  const joins: string[] = [];
  const rowKey = table.read_only ? await rowKeyOf(db, relation) : { hasId: true, rowId: true, key: ID_KEY };
  const select: string[] = [rowKey.hasId ? `${ROW_ALIAS}.id` : 'NULL::int8 AS id'];
  const laterals = new Laterals(db, dataSchema, dependsOn, ROW_ALIAS);

  const live = new Map(metas.map((m) => [m.id, m]));
  for (const meta of metas) {
    // a formula filters, sorts and formats as the type of its result
    const type = meta.type === 'formula' ? resultType(meta.options) : fieldType(meta.type);
    const quoted = ident(meta.column_name, 'column');
    // A formula using a trashed field is broken: read as empty (never an error) until the
    // field comes back. Reconcile reports it.
    const broken = meta.type === 'formula' && missingInputs(meta, live).length > 0;
    let ref = broken ? `NULL::${type.sqlType(meta.options)}` : `${ROW_ALIAS}.${quoted}`;
    // a formula using today() has no column: the query computes it from the row's columns
    if (isVirtualFormula(meta)) ref = virtualFormulaRef(meta, live, ROW_ALIAS) ?? `NULL::${type.sqlType(meta.options)}`;
    // a system field (autonumber, created_at...) and a formula are PostgreSQL's to fill: read-only for every write path
    const computed = Boolean(type.system) || meta.type === 'formula';
    const field: ModelField = { meta: computed ? { ...meta, read_only: true } : meta, type, options: meta.options, column: meta.column_name, quoted: String(quoted), ref };
    if (meta.type === 'lookup' || meta.type === 'rollup') {
      field.meta = { ...field.meta, read_only: true };
      const c = await computedSql(laterals, metas, meta);
      if ('ref' in c) {
        field.ref = c.ref;
        field.rollup = c.rollup;
        select.push(`${c.select} AS ${quoted}`);
      } else {
        field.broken = c.broken;
        field.ref = meta.type === 'lookup' ? `'[]'::jsonb` : 'NULL::text';
        select.push(`${field.ref} AS ${quoted}`);
      }
    } else if (isManyLink(meta)) {
      const l = await laterals.of(meta);
      if ('spec' in l) {
        field.ref = laterals.output(l.spec, 'links', linksAgg(l.spec));
        field.many = {
          junction: String(qualified(dataSchema, meta.options.junction)),
          self: meta.options.self_column,
          other: meta.options.other_column,
          targetRelation: String(qualified(dataSchema, l.spec.target.table_name)),
          labelExpr: l.spec.labelExpr,
          tableId: l.spec.target.id,
        };
      } else {
        field.ref = `'[]'::jsonb`;
        field.many = null;
        field.broken = l.broken;
      }
      select.push(`${field.ref} AS ${quoted}`);
    } else if (meta.type === 'link') {
      const alias = `l${meta.id}`;
      const target = await getLiveTable(db, meta.options.table_id).catch(() => undefined);
      if (target) {
        dependsOn.set(target.id, target.version);
        // The label: the linked table's first text field, in display order.
        const label = (await listFields(db, target.id)).find((f) => isLabelType(f.type));
        const targetRelation = String(qualified(dataSchema, target.table_name));
        const labelRef = label ? `${alias}.${ident(label.column_name)}` : null;
        field.link = { alias, relation: targetRelation, labelRef, tableId: target.id };
        joins.push(`LEFT JOIN ${targetRelation} AS ${alias} ON ${alias}.id = ${ref}`);
        select.push(`${ref} AS ${quoted}`, `${labelRef ?? 'NULL::text'} AS ${ident(`__label_${meta.id}`)}`);
      } else {
        // The linked table is in the trash: no labels now, but its restore (a newer
        // version) must evict this model, or the labels stay missing until another change.
        const trashed = await getTable(db, meta.options.table_id).catch(() => undefined);
        if (trashed) dependsOn.set(trashed.id, trashed.version);
        select.push(`${ref} AS ${quoted}`, `NULL::text AS ${ident(`__label_${meta.id}`)}`);
      }
    } else {
      select.push(`${readSql(field)} AS ${quoted}`);
    }
    fields.push(field);
  }

  const plainFrom = [`${relation} AS ${ROW_ALIAS}`, ...joins].join(' ');
  joins.push(...laterals.joins());
  return {
    plainFrom,
    lateralAliases: [...laterals.specs.values()].filter((x) => x && x.outputs.size > 0).map((x) => x!.alias),
    tableId,
    version: table.version,
    table,
    fields,
    byColumn: new Map(fields.map((f) => [f.column, f])),
    relation,
    selectList: select.join(', '),
    from: [`${relation} AS ${ROW_ALIAS}`, ...joins].join(' '),
    joins: joins.join(' '),
    dependsOn,
    searchable: fields.filter((f) => f.type.searchable),
    ...rowKey,
    compiledAt: Date.now(),
    statements: new Map(),
  };
}

/**
 * What the select list reads for a field: the type's own exact text where it has one. A
 * column adopted with a type we do not model (pg_type: point, text[], integer, a
 * timestamp without time zone...) reads as PostgreSQL's own text of it, so that the API
 * and CSV export write exactly what PostgreSQL holds and an export imports back the same
 * (node-postgres would make a point an object and an array a JS list).
 */
export function readSql(field: Pick<ModelField, 'meta' | 'type' | 'options' | 'ref'>): string {
  const pgType = field.meta.pg_type;
  if (pgType) return /^timestamp(\(\d\))? without time zone$/.test(pgType) ? `tablewright.timestamp_text(${field.ref})` : `(${field.ref})::text`;
  return field.type.selectSql ? field.type.selectSql(field.ref, field.options) : field.ref;
}

/** A row as pg returns it (select list above) -> the JSON scripts get. */
export function rowToJson(model: Model, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = model.hasId ? { id: row.id } : {};
  for (const f of model.fields) out[f.column] = fieldJson(f, row);
  return out;
}

/** One field of a row as pg returns it -> its JSON value. (row_json.ts writes the common types' text directly.) */
export function fieldJson(f: ModelField, row: Record<string, unknown>): unknown {
  const value = row[f.column];
  if (f.rollup) return value == null ? null : f.rollup.numeric ? new RawJson(String(value)) : value;
  if (f.meta.type === 'rollup') return null;
  if (f.many !== undefined) return Array.isArray(value) ? value : [];
  if (f.meta.type === 'link') return value == null ? null : { id: numberToJson(value), label: (row[`__label_${f.meta.id}`] as string | null) ?? null };
  return f.type.toJson(value, f.options);
}
