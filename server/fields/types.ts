// What every field type knows. One module per type implements this; registry.ts lists them.
import type { z } from 'zod';

export const FIELD_TYPES = [
  'text',
  'long_text',
  'number',
  'boolean',
  'date',
  'datetime',
  'email',
  'url',
  'single_select',
  'json',
  'link',
  'autonumber',
  'created_at',
  'updated_at',
  'created_by',
  'updated_by',
  'rating',
  'percent',
  'currency',
  'duration',
  'phone',
  'lookup',
  'rollup',
  'multiple_select',
  'formula',
] as const;
export type FieldTypeName = (typeof FIELD_TYPES)[number];

export const FILTER_OPS = ['eq', 'neq', 'contains', 'gt', 'gte', 'lt', 'lte', 'empty', 'not_empty', 'in', 'has_any', 'has_all', 'has_none'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

/** A value that cannot be stored in a field: the message says why, for a person. */
export class FieldValueError extends Error {}

/** What a conversion's SQL needs to know beyond the column: link targets, quoted. */
export interface SqlEnv {
  /** the quoted, schema-qualified table a link field points to, by table id */
  linkTarget(tableId: number): string;
}

export interface FieldTypeDef<O = any> {
  name: FieldTypeName;
  /** shown in the console */
  label: string;
  /** validates options and fills in defaults; the parsed value is what metadata stores */
  options: z.ZodType<O>;
  /** the PostgreSQL column type; built from validated options only, never from user text */
  sqlType(opts: O): string;
  /**
   * A form string or JSON value -> the value bound as a parameter (null for empty).
   * Throws FieldValueError with a reason a person can act on.
   */
  parse(input: unknown, opts: O): unknown;
  /** a value as pg returns it (select list casts applied) -> the JSON value scripts get */
  toJson(value: unknown, opts: O): unknown;
  /** a short text for the grid */
  display(value: unknown, opts: O): string;
  filterOps: readonly FilterOp[];
  /** included in the free-text search */
  searchable: boolean;
  /**
   * SQL (over `expr`, a value of this type) that yields text; used for conversions
   * to other types and for dry runs. Must never raise.
   */
  toText(expr: string, opts: O): string;
  /**
   * SQL (over `text`, a text expression) that yields a value of this type, or NULL when
   * the text does not convert. Must never raise.
   */
  fromText(text: string, opts: O, env: SqlEnv): string;
  /**
   * The select list's expression for a column of this type (`expr`), when node-postgres's
   * own parsing would lose something (digits, microseconds) or depend on the session:
   * text, exact, that toJson reads.
   */
  selectSql?(expr: string, opts: O): string;
  /**
   * Set by PostgreSQL, never by a write (server/fields/system.ts): 'identity' is a
   * GENERATED ALWAYS identity column; the others are kept by a default and a trigger.
   */
  system?: 'identity' | 'created_at' | 'updated_at' | 'created_by' | 'updated_by';
}
