// Reading the metadata tables: the shapes every other module works with.
import type { Queryable } from '../db/pool.js';
import { conflict, notFound } from '../errors.js';
import { parseExactJson } from '../fields/exact_json.js';
import type { FieldTypeName } from '../fields/types.js';
import type { Change } from './change.js';
import { ensureIdentity } from './identity.js';

export interface TableMeta {
  id: number;
  name: string;
  table_name: string;
  version: number;
  table_oid: number | null;
  read_only: boolean;
  created_at: Date;
  created_by: string | null;
  updated_at: Date;
  trashed_at: Date | null;
  trashed_by: string | null;
  trash_name: string | null;
}

export interface FieldMeta {
  id: number;
  table_id: number;
  name: string;
  column_name: string;
  type: FieldTypeName;
  options: any;
  position: number;
  not_null: boolean;
  is_unique: boolean;
  indexed: boolean;
  default_value: unknown;
  attnum: number | null;
  read_only: boolean;
  /** an adopted column's real type (format_type), when it is not the field type's own */
  pg_type: string | null;
  created_at: Date;
  updated_at: Date;
  trashed_at: Date | null;
  trashed_by: string | null;
  trash_name: string | null;
  trash_reason: 'deleted' | 'type_change' | null;
}

/**
 * A field's metadata without its timestamps: what a compiled model keeps (nothing that works
 * from a model reads them; writing 400 of them as text and reading them back was a fifth of
 * a 200-field compile).
 */
export type FieldCore = Omit<FieldMeta, 'created_at' | 'updated_at'>;

export const TABLE_COLUMNS = /* sql */ `id, name, table_name, version, table_oid::int8 AS table_oid, read_only, created_at, created_by,
  updated_at, trashed_at, trashed_by, trash_name`;

export async function listTables(db: Queryable, opts: { trashed?: boolean } = {}): Promise<TableMeta[]> {
  const { rows } = await db.query<TableMeta>(
    /* sql */ `SELECT ${TABLE_COLUMNS} FROM tablewright.tables
      WHERE (trashed_at IS NOT NULL) = $1 ORDER BY lower(name), id`,
    [opts.trashed ?? false],
  );
  return rows;
}

/** A table by id, trashed or not; 404 when there is none. `forUpdate` locks its row. */
/** PostgreSQL's estimate of a table's rows (pg_class.reltuples; 0 before any ANALYZE). */
export async function estimatedRows(db: Queryable, tableId: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT greatest(c.reltuples, 0)::int8 AS n FROM tablewright.tables t JOIN pg_class c ON c.oid = t.table_oid WHERE t.id = $1`,
    [tableId],
  );
  return rows[0]?.n ?? 0;
}

export async function getTable(db: Queryable, id: number, opts: { forUpdate?: boolean } = {}): Promise<TableMeta> {
  const { rows } = await db.query<TableMeta>(
    `SELECT ${TABLE_COLUMNS} FROM tablewright.tables WHERE id = $1${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  );
  if (!rows[0]) throw notFound(`table ${id}`);
  return rows[0];
}

export async function getLiveTable(db: Queryable, id: number, opts: { forUpdate?: boolean } = {}): Promise<TableMeta> {
  const table = await getTable(db, id, opts);
  if (table.trashed_at) throw notFound(`table ${id} (it is in the trash)`);
  return table;
}

/**
 * The table a schema change works on: locked, live, editable, and still the relation its
 * stored oid names (refreshed when its comment proves which it is now: server/schema/identity.ts);
 * 404/409 otherwise.
 */
export async function liveTableForChange(c: Change, tableId: number): Promise<TableMeta> {
  const table = await getTable(c.tx, tableId, { forUpdate: true });
  assertEditable(table);
  return ensureIdentity(c, table);
}

/** 409 for a table in the trash or adopted read-only: its schema is not changed. */
export function assertEditable(table: TableMeta): void {
  if (table.trashed_at) throw conflict('trashed', `table "${table.name}" is in the trash; restore it first`);
  if (table.read_only) throw conflict('read_only', `table "${table.name}" was adopted read-only; its schema cannot be changed here`);
}

// default_value as its text, parsed by exactDefaults: a default a double cannot hold
// (9007199254740993, 1e400) keeps its digits (pg would read the jsonb with JSON.parse).
export const FIELD_COLUMNS = /* sql */ `id, table_id, name, column_name, type, options, position, not_null, is_unique, indexed,
  default_value::text AS default_value, attnum, read_only, pg_type, created_at, updated_at, trashed_at, trashed_by, trash_name, trash_reason`;

/** Rows read with FIELD_COLUMNS: each default_value's JSON text parsed exactly (RawJson where a double would change it). */
export function exactDefaults<T extends { default_value: unknown }>(rows: T[]): T[] {
  for (const r of rows) if (typeof r.default_value === 'string') r.default_value = parseExactJson(r.default_value);
  return rows;
}

/** Live fields of a table in display order (or its trashed ones, newest first). */
export async function listFields(db: Queryable, tableId: number, opts: { trashed?: boolean } = {}): Promise<FieldMeta[]> {
  const { rows } = await db.query<FieldMeta>(
    `SELECT ${FIELD_COLUMNS} FROM tablewright.fields
      WHERE table_id = $1 AND (trashed_at IS NOT NULL) = $2
      ORDER BY ${opts.trashed ? 'trashed_at DESC, id' : 'position, id'}`,
    [tableId, opts.trashed ?? false],
  );
  return exactDefaults(rows);
}

export async function getField(db: Queryable, tableId: number, fieldId: number, opts: { forUpdate?: boolean } = {}): Promise<FieldMeta> {
  const { rows } = await db.query<FieldMeta>(
    `SELECT ${FIELD_COLUMNS} FROM tablewright.fields WHERE table_id = $1 AND id = $2${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [tableId, fieldId],
  );
  if (!rows[0]) throw notFound(`field ${fieldId} of table ${tableId}`);
  return exactDefaults(rows)[0]!;
}

/** The JSON scripts get for a field (CONTRACT.md: {id,name,column,type,...}). */
export function fieldJson(f: FieldMeta) {
  return {
    id: f.id,
    table_id: f.table_id,
    name: f.name,
    column: f.column_name,
    type: f.type,
    options: f.options,
    position: f.position,
    not_null: f.not_null,
    unique: f.is_unique,
    indexed: f.indexed,
    default: f.default_value ?? null,
    read_only: f.read_only,
    ...(f.trashed_at ? { trashed_at: f.trashed_at, trashed_by: f.trashed_by, trash_reason: f.trash_reason } : {}),
  };
}

export function tableJson(t: TableMeta, fields?: FieldMeta[]) {
  return {
    id: t.id,
    name: t.name,
    table_name: t.table_name,
    version: t.version,
    read_only: t.read_only,
    created_at: t.created_at,
    updated_at: t.updated_at,
    ...(t.trashed_at ? { trashed_at: t.trashed_at, trashed_by: t.trashed_by } : {}),
    ...(fields ? { fields: fields.map(fieldJson) } : {}),
  };
}
