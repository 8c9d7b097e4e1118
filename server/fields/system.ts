// System fields: values PostgreSQL sets, never a write. autonumber is a GENERATED ALWAYS
// identity column (unique, never reused: a sequence never hands a number out twice);
// created_at, updated_at, created_by and updated_by have a column default and a trigger
// (sql/migrations/070_system_fields.sql) that overwrite whatever an INSERT or UPDATE
// sends, so SQL writes keep them true. The actor is the one the row history records.
// Rows a write sends for them are refused (the model marks these fields read-only).
import { z } from 'zod';
import { datetimeType } from './date.js';
import { numberToJson, numberType } from './number.js';
import { textType } from './text.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

type NoOpts = Record<string, never>;
const noOptions = z.object({}).strict() as unknown as z.ZodType<NoOpts>;

function readOnly(label: string) {
  return () => {
    throw new FieldValueError(`is set by PostgreSQL (${label}); it cannot be written`);
  };
}

export const autonumberType: FieldTypeDef<NoOpts> = {
  name: 'autonumber',
  label: 'Autonumber',
  options: noOptions,
  sqlType: () => 'bigint',
  parse: readOnly('autonumber'),
  toJson: numberToJson,
  display: (v) => (v == null ? '' : String(v)),
  filterOps: numberType.filterOps,
  searchable: false,
  selectSql: (e) => `(${e})::text`,
  toText: (e) => `(${e})::text`,
  // nothing converts into an autonumber: the numbers are PostgreSQL's to give
  fromText: () => 'NULL::bigint',
  system: 'identity',
};

const timestamp = (name: 'created_at' | 'updated_at', label: string): FieldTypeDef<NoOpts> => ({
  ...datetimeType,
  name,
  label,
  options: noOptions,
  parse: readOnly(label.toLowerCase()),
  fromText: () => 'NULL::timestamptz',
  system: name,
});

const actor = (name: 'created_by' | 'updated_by', label: string): FieldTypeDef<NoOpts> => ({
  ...(textType as unknown as FieldTypeDef<NoOpts>),
  name,
  label,
  options: noOptions,
  parse: readOnly(label.toLowerCase()),
  searchable: true,
  fromText: () => 'NULL::text',
  system: name,
});

export const createdAtType = timestamp('created_at', 'Created at');
export const updatedAtType = timestamp('updated_at', 'Updated at');
export const createdByType = actor('created_by', 'Created by');
export const updatedByType = actor('updated_by', 'Updated by');
