// Values a conversion is about to empty are never simply dropped: before the column is
// converted, they are copied (only the rows that lose a value) into a new column that is a
// trashed field from the start. It shows among the table's trashed fields, can be restored
// like any other, and is purged by the retention policy. A field's type change (PATCH) and
// the drift action that converts a retyped column back both keep them here, the same way.
import { ident, literal } from '../db/ident.js';
import type { FieldTypeName } from '../fields/types.js';
import { attnumOf } from './catalog.js';
import type { Change } from './change.js';
import { trashName } from './names.js';

export interface LosingField {
  id: number;
  name: string;
  column_name: string;
  position: number;
}

/** How the copy is described in metadata: what the column it copies holds now. */
export interface CopyShape {
  type: FieldTypeName;
  options: unknown;
  /** the column type, when it is not the field type's own (an adopted or retyped column) */
  pg_type: string | null;
  read_only: boolean;
}

export interface KeptValues {
  field_id: number;
  rows: number;
}

/**
 * Copies the values of `field` for which `loss` (SQL over the table's columns, the table as
 * `t`: a link's lookup must name it, lossPredicate) holds into
 * a trashed copy of type `sqlType` (the column's type now), in the change's transaction.
 * `why` ends the copy's display name: "Notes (why, v7)".
 */
export async function keepLostValues(
  c: Change,
  target: { tableId: number; tableOid: number; relation: string },
  field: LosingField,
  copy: { sqlType: string; shape: CopyShape; why: string; version: number; lost: number },
  loss: string,
): Promise<KeptValues> {
  const parked = trashName('was_f', field.id, `v${copy.version}`);
  const col = ident(field.column_name);
  await c.ddl(`ALTER TABLE ${target.relation} ADD COLUMN ${ident(parked)} ${copy.sqlType}`);
  await c.ddl(`UPDATE ${target.relation} AS t SET ${ident(parked)} = t.${col} WHERE ${loss}`);
  const { rows } = await c.tx.query<{ id: number }>(
    /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position, pg_type, read_only,
        trashed_at, trashed_by, trash_name, trash_reason)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), $9, $10, 'type_change') RETURNING id`,
    [
      target.tableId,
      `${field.name} (${copy.why}, v${copy.version})`.slice(0, 255),
      `${field.column_name}_before_v${copy.version}`.slice(0, 63),
      copy.shape.type,
      copy.shape.options,
      field.position,
      copy.shape.pg_type,
      copy.shape.read_only,
      c.actor.name,
      parked,
    ],
  );
  const id = rows[0]!.id;
  await c.ddl(`COMMENT ON COLUMN ${target.relation}.${ident(parked)} IS ${literal(`values of field ${field.id} that did not convert (${copy.why}; tablewright field ${id})`)}`);
  await c.tx.query(`UPDATE tablewright.fields SET attnum = $2 WHERE id = $1`, [id, await attnumOf(c.tx, target.tableOid, parked)]);
  return { field_id: id, rows: copy.lost };
}
