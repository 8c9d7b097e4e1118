// The schema side of system fields (server/fields/system.ts): what adding one does beyond
// ADD COLUMN, what leaving the type does, and the triggers that keep created_* and
// updated_* true (sql/migrations/070_system_fields.sql), put right after every change.
import { ident } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import { unprocessable } from '../errors.js';
import { fieldType } from '../fields/registry.js';
import type { FieldTypeDef } from '../fields/types.js';
import type { Change } from './change.js';
import type { FieldMeta } from './metadata.js';

/**
 * After `ALTER TABLE ... ADD COLUMN col <type>` of a system field: an autonumber numbers
 * the rows there are in id order (1, 2, ...) and becomes an identity column that goes on
 * from there; a created_* or updated_* column gets its default (its trigger comes with
 * syncSystemTriggers at the end of the change). Rows there already keep NULL for these:
 * when they were made, and by whom, is not known.
 */
export async function addSystemColumn(c: Change, relation: string, fieldId: number, col: string, type: FieldTypeDef): Promise<void> {
  if (!type.system) return;
  if (type.system === 'identity') {
    const { rows } = await c.tx.query<{ n: string }>(`SELECT count(*) AS n FROM ${relation}`);
    const n = BigInt(rows[0]!.n);
    if (n > 0n) {
      await c.ddl(
        `UPDATE ${relation} AS r SET ${col} = n.rn FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM ${relation}) AS n WHERE r.id = n.id`,
      );
    }
    await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} SET NOT NULL`);
    await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} ADD GENERATED ALWAYS AS IDENTITY (START WITH ${(n + 1n).toString()})`);
    // an identity column is NOT NULL, and stays so in the trash (trashField leaves it)
    await c.tx.query(`UPDATE tablewright.fields SET not_null = true WHERE id = $1`, [fieldId]);
    return;
  }
  const dflt = type.system.endsWith('_at') ? 'now()' : 'tablewright.current_actor()';
  await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} SET DEFAULT ${dflt}`);
  await recordDefault(c, fieldId);
}

/**
 * Metadata's pg_default is the column's default as PostgreSQL prints it: what reconcile
 * expects. The table found by its name: a table being created has no table_oid yet (set at
 * the end of its creation), and its system fields were recorded with no default, which
 * reconcile reported as changed outside the console from the start.
 */
async function recordDefault(c: Change, fieldId: number): Promise<void> {
  await c.tx.query(
    /* sql */ `UPDATE tablewright.fields f SET pg_default = (
        SELECT pg_get_expr(d.adbin, d.adrelid) FROM tablewright.tables t
          JOIN pg_attribute a ON a.attrelid = coalesce(to_regclass(format('%I.%I', $2::text, t.table_name))::oid, t.table_oid) AND a.attname = f.column_name
          JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE t.id = f.table_id)
      WHERE f.id = $1`,
    [fieldId, c.deps.config.dataSchema],
  );
}

/**
 * Before a type change: nothing becomes a system field by conversion (its values would
 * be made up: PostgreSQL sets them from the insert on); a system field converted to an
 * ordinary type keeps its values and loses its identity or default (its trigger goes at
 * the end of the change).
 */
export function assertConvertible(fromType: string, toType: string): void {
  const to = fieldType(toType);
  if (to.system && fromType !== to.name) {
    throw unprocessable('invalid_conversion', `a field cannot be converted to ${to.label}: add a new ${to.label} field (PostgreSQL fills it from now on)`, 'type');
  }
}

export async function leaveSystemType(c: Change, relation: string, field: FieldMeta, toType: string): Promise<void> {
  assertConvertible(field.type, toType);
  const from = fieldType(field.type);
  const to = fieldType(toType);
  if (!from.system || from.name === to.name) return;
  const col = ident(field.column_name);
  if (from.system === 'identity') await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} DROP IDENTITY IF EXISTS`);
  else {
    await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${col} DROP DEFAULT`);
    // Its trigger too, now: the conversion's UPDATE that follows (a column type that stays
    // text: created_by -> email) was undone by it (created_* keep OLD), the values that do
    // not convert left in the new field. The closing sync makes none for an ordinary field.
    await c.ddl(`DROP TRIGGER IF EXISTS ${ident(`tablewright_sys_f${field.id}`)} ON ${relation}`);
    await c.tx.query(`UPDATE tablewright.fields SET pg_default = NULL WHERE id = $1`, [field.id]);
  }
}

/** An autonumber is NOT NULL and UNIQUE by what it is: neither can be dropped (convert it to a number to). */
export function assertSystemConstraints(field: FieldMeta, notNull: boolean | undefined, unique: boolean | undefined): void {
  if (fieldType(field.type).system !== 'identity') return;
  if (notNull === false) throw unprocessable('invalid_constraint', `${field.name} is an autonumber: always filled (convert it to a number to make it optional)`, 'not_null');
  if (unique === false) throw unprocessable('invalid_constraint', `${field.name} is an autonumber: always unique (convert it to a number to allow repeats)`, 'unique');
}

/** Runs sync_system_triggers for a live managed table; the DDL that ran, or null. */
export async function syncSystemTriggers(tx: Queryable, dataSchema: string, tableId: number): Promise<string | null> {
  const { rows } = await tx.query<{ ddl: string | null }>(
    /* sql */ `SELECT tablewright.sync_system_triggers(t.id, c.oid::regclass) AS ddl
       FROM tablewright.tables t
       JOIN pg_namespace n ON n.nspname = $2
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name AND c.relkind IN ('r', 'p')
      WHERE t.id = $1 AND t.trashed_at IS NULL AND NOT t.read_only`,
    [tableId, dataSchema],
  );
  return rows[0]?.ddl ?? null;
}
