// Many-to-many links (a link field with options.multiple). The pairs live in a junction
// table in DATA_SCHEMA, named from both tables so a DBA reads it in psql:
//
//   CREATE TABLE data.orders_products (
//     orders_id   bigint NOT NULL CONSTRAINT fk_m2m_f12 REFERENCES data.orders (id) ON DELETE CASCADE,
//     products_id bigint NOT NULL CONSTRAINT fk_m2m_f13 REFERENCES data.products (id) ON DELETE CASCADE,
//     CONSTRAINT uq_m2m_f12 PRIMARY KEY (orders_id, products_id)   -- the unique pair
//   );
//   CREATE INDEX ix_m2m_f13 ON data.orders_products (products_id, orders_id);
//
// Each side is a field: the one created, on its table, and its reverse on the other
// table (the same junction, the columns swapped; both options name each other). The
// fields have no column: `column_name` is only their JSON key. Trashing a side or a table
// keeps the junction and its pairs; purging a side drops the junction, once the other
// side is in the trash too. Constraint names carry the field ids (never a user's text):
// fk_m2m_f<id> is the foreign key of the column that holds <id>'s own rows.
import { ident, literal, MAX_IDENTIFIER_BYTES, qualified } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import { conflict, unprocessable } from '../errors.js';
import type { Change } from './change.js';
import { getField, getLiveTable, type FieldMeta, type TableMeta } from './metadata.js';
import { derivePhysicalName, validateDisplayName } from './names.js';

/** A field that is a many-to-many link: no column of its own. */
export const isManyLink = (f: { type: string; options?: any }): boolean => f.type === 'link' && f.options?.multiple === true;

/** A field without a column of its own: a many-to-many link, a lookup, a rollup. */
// a formula computed at read time (options.stored false: it uses today()) has no column either
export const hasNoColumn = (f: { type: string; options?: any }): boolean => isManyLink(f) || f.type === 'lookup' || f.type === 'rollup' || (f.type === 'formula' && f.options?.stored === false);

export interface JunctionShape {
  junction: string;
  self_column: string;
  other_column: string;
}

const cut = (s: string, max: number) => (Buffer.byteLength(s) > max ? s.slice(0, max) : s).replace(/_+$/, '');

/**
 * A free junction name from both tables' names ("orders_products", each part cut so the
 * whole stays within 63 bytes with room for a _2.._9999 suffix), checked against the
 * catalog and the tables' metadata; its two columns "<table>_id" (a link of a table to
 * itself: "<table>_id" and "linked_<table>_id").
 */
export async function junctionNames(db: Queryable, dataSchema: string, src: TableMeta, tgt: TableMeta): Promise<JunctionShape> {
  const room = MAX_IDENTIFIER_BYTES - 6; // "_" between, "_9999" after
  const half = Math.floor((room - 1) / 2);
  const base = `${cut(src.table_name, half)}_${cut(tgt.table_name, half)}`;
  const { rows } = await db.query<{ name: string }>(
    /* sql */ `SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname::text LIKE $2
      UNION SELECT table_name FROM tablewright.tables WHERE table_name LIKE $2
      UNION SELECT options->>'junction' FROM tablewright.fields WHERE type = 'link' AND options->>'junction' LIKE $2`,
    [dataSchema, `${base.replace(/[\\%_]/g, (c) => `\\${c}`)}%`],
  );
  const taken = new Set(rows.map((r) => r.name));
  const junction = await derivePhysicalName(db, base, 'links', (n) => taken.has(n), 'table');
  const self_column = `${cut(src.table_name, MAX_IDENTIFIER_BYTES - 3)}_id`;
  let other_column = `${cut(tgt.table_name, MAX_IDENTIFIER_BYTES - 3)}_id`;
  if (other_column === self_column) other_column = `linked_${cut(tgt.table_name, MAX_IDENTIFIER_BYTES - 10)}_id`;
  return { junction, self_column, other_column };
}

export const junctionComment = (forward: { id: number }, reverse: { id: number }, src: TableMeta, tgt: TableMeta) =>
  `links of "${src.name}" and "${tgt.name}" (tablewright fields ${forward.id} and ${reverse.id})`;

interface AddSpec {
  name: string;
  column: string;
  options: { table_id: number; reverse_name?: string };
  position: number;
}

/**
 * Adds both sides and the junction, in the caller's change (which locks the source
 * table; the target's lock is taken here). Answers the field on the source table.
 */
export async function addManyLink(c: Change, src: TableMeta, spec: AddSpec, prefix = ''): Promise<{ field: FieldMeta; reverse: FieldMeta }> {
  const { rows } = await c.tx.query<{ id: number }>(
    /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position, indexed) VALUES ($1, $2, $3, 'link', $4, $5, true) RETURNING id`,
    [src.id, spec.name, spec.column, { table_id: spec.options.table_id, multiple: true }, spec.position],
  );
  return attachJunction(c, src, rows[0]!.id, spec.options, prefix);
}

/**
 * Makes field `fwd` of `src` (its metadata row there) a many-to-many link: the reverse
 * field on the target, both sides' options, the junction with its keys and comment.
 */
export async function attachJunction(c: Change, src: TableMeta, fwd: number, options: { table_id: number; reverse_name?: string }, prefix = ''): Promise<{ field: FieldMeta; reverse: FieldMeta }> {
  const dataSchema = c.deps.config.dataSchema;
  if (options.table_id !== src.id) await c.lockTable(options.table_id);
  const tgt = await getLiveTable(c.tx, options.table_id).catch(() => {
    throw unprocessable('invalid_link_target', `options.table_id: table ${options.table_id} does not exist (or is in the trash)`, `${prefix}options.table_id`);
  });
  if (tgt.read_only) throw unprocessable('invalid_link_target', `options.table_id: table "${tgt.name}" was adopted read-only; a many-to-many link needs a table made here`, `${prefix}options.table_id`);
  const shape = await junctionNames(c.tx, dataSchema, src, tgt);
  const rev = await linkSides(c, src, tgt, fwd, shape, options.reverse_name, prefix);

  const j = qualified(dataSchema, shape.junction);
  const a = ident(shape.self_column);
  const b = ident(shape.other_column);
  await c.ddl(
    `CREATE TABLE ${j} (${a} bigint NOT NULL CONSTRAINT ${ident(`fk_m2m_f${fwd}`)} REFERENCES ${qualified(dataSchema, src.table_name)} (id) ON DELETE CASCADE, ` +
      `${b} bigint NOT NULL CONSTRAINT ${ident(`fk_m2m_f${rev}`)} REFERENCES ${qualified(dataSchema, tgt.table_name)} (id) ON DELETE CASCADE, ` +
      `CONSTRAINT ${ident(`uq_m2m_f${fwd}`)} PRIMARY KEY (${a}, ${b}))`,
  );
  // The pair's key serves the source side; the target side gets its own index.
  await c.ddl(`CREATE INDEX ${ident(`ix_m2m_f${rev}`)} ON ${j} (${b}, ${a})`);
  await c.ddl(`COMMENT ON TABLE ${j} IS ${literal(junctionComment({ id: fwd }, { id: rev }, src, tgt))}`);
  // adding and removing pairs shows in both rows' history (sql/migrations/061_link_history.sql)
  await c.ddl(`SELECT tablewright.sync_link_triggers(${literal(String(j))}::regclass)`);
  c.alsoTables.push(tgt.id);
  return { field: await getField(c.tx, src.id, fwd), reverse: await getField(c.tx, tgt.id, rev) };
}

/**
 * Both sides' metadata over a junction: the reverse field on `tgt` (its name given, or the
 * source table's, made free there) and both fields' options naming the junction and each
 * other. `fwd` is the side's row on `src`, already written. Answers the reverse field's id.
 */
export async function linkSides(c: Change, src: TableMeta, tgt: TableMeta, fwd: number, shape: JunctionShape, givenName: string | undefined, prefix = ''): Promise<number> {
  const options = { reverse_name: givenName };
  // The reverse field: its name given, or the source table's; made free on the target.
  const wanted = options.reverse_name !== undefined ? validateDisplayName(options.reverse_name, `${prefix}options.reverse_name`) : src.name;
  const { rows: names } = await c.tx.query<{ name: string; column_name: string }>(
    `SELECT lower(name) AS name, column_name FROM tablewright.fields WHERE table_id = $1 AND (trashed_at IS NULL OR id = $2)`,
    [tgt.id, fwd],
  );
  const lowerNames = new Set(names.map((r) => r.name));
  let reverseName = wanted;
  if (lowerNames.has(reverseName.toLowerCase())) {
    if (options.reverse_name !== undefined) throw conflict('name_taken', `table "${tgt.name}" already has a field named "${reverseName}"`, `${prefix}options.reverse_name`);
    for (let i = 2; lowerNames.has(reverseName.toLowerCase()); i++) reverseName = `${wanted} (${i})`;
  }
  const { rows: cols } = await c.tx.query<{ name: string }>(
    `SELECT attname::text AS name FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`,
    [tgt.table_oid],
  );
  const takenCols = new Set([...names.map((r) => r.column_name), ...cols.map((r) => r.name)]);
  const reverseColumn = await derivePhysicalName(c.tx, reverseName, 'links', (n) => takenCols.has(n), 'column');
  const { rows: pos } = await c.tx.query<{ next: number }>(`SELECT coalesce(max(position), 0) + 1 AS next FROM tablewright.fields WHERE table_id = $1`, [tgt.id]);

  const rev = (
    await c.tx.query<{ id: number }>(
      /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position, indexed) VALUES ($1, $2, $3, 'link', $4, $5, true) RETURNING id`,
      [tgt.id, reverseName, reverseColumn, { table_id: src.id, multiple: true }, pos[0]!.next],
    )
  ).rows[0]!.id;
  const fwdOptions = { table_id: tgt.id, multiple: true, junction: shape.junction, self_column: shape.self_column, other_column: shape.other_column, reverse_field_id: rev };
  const revOptions = { table_id: src.id, multiple: true, junction: shape.junction, self_column: shape.other_column, other_column: shape.self_column, reverse_field_id: fwd };
  await c.tx.query(`UPDATE tablewright.fields SET options = $2, attnum = NULL, indexed = true, not_null = false, is_unique = false, default_value = NULL, updated_at = now() WHERE id = $1`, [fwd, fwdOptions]);
  await c.tx.query(`UPDATE tablewright.fields SET options = $2 WHERE id = $1`, [rev, revOptions]);
  return rev;
}

/** Where a many-to-many field's junction is now (null: dropped outside the console). */
export async function junctionExists(db: Queryable, dataSchema: string, f: FieldMeta): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [String(qualified(dataSchema, f.options.junction))]);
  return rows[0]!.ok;
}

/**
 * Purging one side of a many-to-many link: the junction goes (and the other side's
 * metadata with it) only when the other side is in the trash too, or gone; a live other
 * side is a 409 (its pairs are its data as well).
 */
export async function purgeManyLink(c: Change, f: FieldMeta): Promise<{ dropped: boolean; otherTable?: number }> {
  const otherId = f.options.reverse_field_id as number | undefined;
  const { rows } = await c.tx.query<{ id: number; table_id: number; name: string; live: boolean; table_live: boolean }>(
    `SELECT f.id, f.table_id, f.name, f.trashed_at IS NULL AS live, t.trashed_at IS NULL AS table_live FROM tablewright.fields f JOIN tablewright.tables t ON t.id = f.table_id WHERE f.id = $1`,
    [otherId ?? 0],
  );
  const other = rows[0];
  if (other && other.live && other.table_live && other.table_id !== f.table_id) {
    throw conflict('reverse_live', `field "${f.name}" shares its links with field "${other.name}" (${other.id}), which is not in the trash; trash it too, then purge`);
  }
  await c.ddl(`DROP TABLE IF EXISTS ${qualified(c.deps.config.dataSchema, f.options.junction)}`);
  if (other && other.id !== f.id) await c.tx.query(`DELETE FROM tablewright.fields WHERE id = $1`, [other.id]);
  return { dropped: true, otherTable: other?.table_id };
}
