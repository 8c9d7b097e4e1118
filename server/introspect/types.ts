// PostgreSQL column types <-> field types, for comparing and for adopting.
//
// Adoption rule: an adopted column is editable when its type is the one our field type
// creates (text, bigint, numeric(30,s), boolean, date, timestamptz, jsonb, a bigint
// foreign key to a managed table's id), or varchar(n) (a text field with max_length n,
// checked before PostgreSQL sees the value). Any other type is adopted read-only under
// the closest field type, with its real type kept in fields.pg_type:
//   int2/int4     -> number, read-only (our whole numbers are bigint: a value over 2^31
//                    would be refused by the column; convert it to bigint, then accept)
//   numeric(p,s)  -> number (decimals s), read-only unless p = 30
//   timestamp     -> datetime, read-only (no time zone: we would have to guess one)
//   float, json, anything else -> read-only
// Converting such a column in SQL (ALTER COLUMN ... TYPE bigint) and accepting the
// "retyped" drift item makes the field editable.
import { MAX_DECIMALS, numberPrecision } from '../fields/number.js';
import { allFieldTypes, fieldType } from '../fields/registry.js';
import type { FieldTypeName } from '../fields/types.js';
import type { CatalogColumn, CatalogTable } from './snapshot.js';

/** format_type() spelling of the types our field types create. */
const CANONICAL: Record<string, string> = {
  timestamptz: 'timestamp with time zone',
  timestamp: 'timestamp without time zone',
  int8: 'bigint',
  int4: 'integer',
  int: 'integer',
  int2: 'smallint',
  bool: 'boolean',
  varchar: 'character varying',
};

export function canonicalType(sqlType: string): string {
  return CANONICAL[sqlType] ?? sqlType;
}

/** The catalog type a field's column should have. */
export function expectedColumnType(f: { type: FieldTypeName; options: unknown; pg_type: string | null }): string {
  if (f.pg_type) return f.pg_type;
  try {
    return canonicalType(fieldType(f.type).sqlType(f.options));
  } catch {
    return '?';
  }
}

export interface TypeMapping {
  type: FieldTypeName;
  options: Record<string, unknown>;
  read_only: boolean;
  /** the real type, when it is not the field type's own */
  pg_type: string | null;
  /** why it is read-only, for a person */
  reason?: string;
}

/**
 * The field type for a catalog column. `linkTarget` answers the managed table id a
 * foreign key points to (when it points at a live managed table's id), else undefined.
 */
export function mapColumn(col: CatalogColumn, table: CatalogTable, linkTarget: (refOid: number, refColumns: number[]) => number | undefined): TypeMapping {
  const ro = (type: FieldTypeName, options: Record<string, unknown>, reason: string): TypeMapping => ({ type, options, read_only: true, pg_type: col.type, reason });
  if (col.generated) return ro('text', {}, `a generated column (${col.type}) is computed by PostgreSQL`);
  switch (col.type_name) {
    case 'text':
      return { type: 'text', options: {}, read_only: false, pg_type: null };
    case 'varchar': {
      const m = /\((\d+)\)$/.exec(col.type);
      return { type: 'text', options: m ? { max_length: Number(m[1]) } : {}, read_only: false, pg_type: col.type };
    }
    case 'int8': {
      const fk = table.constraints.find((c) => c.kind === 'f' && c.columns.length === 1 && c.columns[0] === col.attnum && c.ref_oid !== null);
      const target = fk ? linkTarget(fk.ref_oid!, fk.ref_columns ?? []) : undefined;
      if (target !== undefined) return { type: 'link', options: { table_id: target }, read_only: false, pg_type: null };
      // PostgreSQL numbers it: an autonumber (a system field, read-only to writes)
      if (col.identity) return { type: 'autonumber', options: {}, read_only: false, pg_type: null };
      return { type: 'number', options: { decimals: 0 }, read_only: false, pg_type: null };
    }
    case 'int2':
    case 'int4':
      return ro('number', { decimals: 0 }, `${col.type}: whole numbers here are bigint; convert the column to bigint to edit it`);
    case 'numeric': {
      const m = /^numeric\((\d+),(\d+)\)$/.exec(col.type);
      if (m && Number(m[2]) > 0 && Number(m[1]) === numberPrecision(Number(m[2]))) return { type: 'number', options: { decimals: Number(m[2]) }, read_only: false, pg_type: null };
      if (col.type === 'numeric') return { type: 'number', options: { decimals: 0, any_precision: true }, read_only: false, pg_type: null };
      const decimals = m ? Math.min(MAX_DECIMALS, Number(m[2])) : 10;
      return ro('number', { decimals }, `${col.type}: numbers here are numeric(30,s) up to 10 decimals, numeric(s+20,s) past that, or plain numeric; convert the column to edit it`);
    }
    case 'float4':
    case 'float8':
      return ro('number', { decimals: 10 }, `${col.type} is approximate; numbers here are exact`);
    case 'bool':
      return { type: 'boolean', options: {}, read_only: false, pg_type: null };
    case 'date':
      return { type: 'date', options: {}, read_only: false, pg_type: null };
    case 'timestamptz':
      return { type: 'datetime', options: {}, read_only: false, pg_type: null };
    case 'timestamp':
      return ro('datetime', {}, 'a timestamp without time zone; convert it to timestamptz to edit it');
    case 'jsonb':
      return { type: 'json', options: {}, read_only: false, pg_type: null };
    case 'json':
      return ro('json', {}, 'json (not jsonb); convert it to jsonb to edit it');
    case '_int4':
      // An integer[] a DBA made: its numbers could be option ids, but no labels say what
      // they mean. Adopted read-only as a multiple select without options (values read
      // #id); convert it to a multiple select with options to edit it.
      return ro('multiple_select', { choices: [] }, `${col.type}: ids without option labels; convert it to a multiple select with options to edit it`);
    case 'option_ids':
      // our own domain with no comment to name its options (a comment, when there is one,
      // brings them back: adopt_comment.ts)
      return { type: 'multiple_select', options: { choices: [] }, read_only: false, pg_type: null };
    default:
      return ro('text', {}, `no field type edits ${col.type}`);
  }
}

/** 'first_name' -> 'First name' */
export function displayNameOf(physical: string): string {
  const words = physical.replace(/_+/g, ' ').trim();
  if (!words) return physical;
  return words.charAt(0).toUpperCase() + words.slice(1);
}

let typeMap: Record<string, string> | undefined;
/**
 * The column type each field type creates, keyed 'type:decimals' ('text:', 'number:2'),
 * from the registry: what sql/queries/drift_candidates.sql compares the catalog with.
 */
export function expectedTypeMap(): Record<string, string> {
  if (typeMap) return typeMap;
  const map: Record<string, string> = {};
  for (const t of allFieldTypes()) {
    if (t.name === 'number') {
      for (let d = 0; d <= 10; d++) map[`number:${d}`] = canonicalType(t.sqlType({ decimals: d }));
    } else {
      try {
        map[`${t.name}:`] = canonicalType(t.sqlType({} as never));
      } catch {
        // a type whose column type depends on options it cannot do without: always compared in full
      }
    }
  }
  return (typeMap = map);
}
