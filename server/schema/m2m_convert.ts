// Converting a link between one-to-many (a foreign key column) and many-to-many (a
// junction table): PATCH .../fields/:fid {options: {multiple: true|false}}.
//
// To many: the junction is made (server/schema/m2m.ts), every row's link becomes its one
// pair, and the column is dropped: nothing is lost. To one: the column comes back with
// each row's first linked row (the smallest id); a row with several links loses the
// others, so the loss report counts those rows, confirm_loss=1 accepts it, and the
// many-to-many field itself is kept in the trash (a trashed copy using the same junction,
// its reverse trashed with it): restoring both gives every pair back.
import { ident, literal, qualified } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import { badRequest, unprocessable } from '../errors.js';
import { assertNoDependents, attnumOf } from './catalog.js';
import type { Change } from './change.js';
import { columnComment } from './comments.js';
import { flag } from './input.js';
import { getField, type FieldMeta, type TableMeta } from './metadata.js';
import { attachJunction, isManyLink } from './m2m.js';

export type Multiplicity = 'to_many' | 'to_one';

/** Whether an update turns a link into the other kind (and nothing else about its type). */
export function multiplicityChange(field: FieldMeta, update: { type?: unknown; options?: unknown }): Multiplicity | null {
  const opts = update.options && typeof update.options === 'object' ? (update.options as Record<string, unknown>) : undefined;
  const raw = opts?.multiple;
  const asked = raw === true || raw === 'true' || raw === '1' || raw === 'on';
  if (field.type !== 'link') {
    // Another type becomes a one-to-many link (a column converted); a junction is made only
    // from a link. Taken as is, the field was a column whose metadata said many-to-many:
    // every listing and write of the table answered 500 (a hostile review's finding).
    if (update.type === 'link' && asked) throw badRequest(`"${field.name}" becomes a many-to-many link in two steps: first a link (options.multiple: false), then options.multiple: true`, 'options.multiple');
    return null;
  }
  const toType = update.type === undefined || update.type === '' ? 'link' : update.type;
  const multiple = raw === undefined || raw === '' ? isManyLink(field) : asked;
  if (isManyLink(field) && toType !== 'link') throw badRequest('a many-to-many link converts to a one-to-many link only (options.multiple: false); convert that one further', 'type');
  if (toType !== 'link' || multiple === isManyLink(field)) return null;
  if (opts?.table_id !== undefined && opts.table_id !== '' && Number(opts.table_id) !== Number(field.options.table_id)) {
    throw badRequest('change the linked table and the kind of link in two steps', 'options.table_id');
  }
  return multiple ? 'to_many' : 'to_one';
}

export interface MultiplicityReport {
  field_id: number;
  from: { type: 'link'; options: unknown };
  to: { type: 'link'; options: { table_id: number; multiple?: true } };
  rows: number;
  non_empty: number;
  /** rows with several links: all but the first (smallest id) are not in the new column */
  lost: number;
  examples: Array<{ id: number; value: string | null }>;
}

export async function multiplicityReport(db: Queryable, dataSchema: string, table: TableMeta, field: FieldMeta, to: Multiplicity): Promise<MultiplicityReport> {
  const relation = qualified(dataSchema, table.table_name);
  const base = { field_id: field.id, from: { type: 'link' as const, options: field.options } };
  if (to === 'to_many') {
    const { rows } = await db.query<{ rows: number; non_empty: number }>(`SELECT count(*)::int AS rows, count(${ident(field.column_name)})::int AS non_empty FROM ${relation}`);
    return { ...base, to: { type: 'link', options: { table_id: field.options.table_id, multiple: true } }, ...rows[0]!, lost: 0, examples: [] };
  }
  const j = qualified(dataSchema, field.options.junction);
  const self = ident(field.options.self_column);
  const { rows } = await db.query<{ rows: number; non_empty: number; lost: number }>(
    `SELECT (SELECT count(*) FROM ${relation})::int AS rows, count(*)::int AS non_empty, count(*) FILTER (WHERE n > 1)::int AS lost FROM (SELECT ${self}, count(*) AS n FROM ${j} GROUP BY ${self}) s`,
  );
  const { rows: examples } = await db.query<{ id: number; value: string | null }>(
    `SELECT ${self} AS id, string_agg(${ident(field.options.other_column)}::text, ', ' ORDER BY ${ident(field.options.other_column)}) AS value FROM ${j} GROUP BY ${self} HAVING count(*) > 1 ORDER BY ${self} LIMIT 10`,
  );
  return { ...base, to: { type: 'link', options: { table_id: field.options.table_id } }, ...rows[0]!, examples };
}

/** Converts in the caller's change; answers the field as it is now. */
export async function convertMultiplicity(c: Change, table: TableMeta, field: FieldMeta, update: { options?: unknown; confirm_loss?: unknown }, to: Multiplicity, version: number, out: Record<string, unknown>): Promise<FieldMeta> {
  const dataSchema = c.deps.config.dataSchema;
  const relation = qualified(dataSchema, table.table_name);
  const report = await multiplicityReport(c.tx, dataSchema, table, field, to);
  out.conversion = report;
  if (to === 'to_many') {
    if (field.is_unique) throw unprocessable('has_unique', `"${field.name}" is unique; drop UNIQUE first (a many-to-many link is a list)`, 'unique');
    await assertNoDependents(c.tx, String(relation), field.column_name, `converting "${field.name}" to many-to-many`);
    c.reached('validate');
    const reverseName = (update.options as { reverse_name?: string } | undefined)?.reverse_name;
    await c.tx.query(`UPDATE tablewright.fields SET options = $2 WHERE id = $1`, [field.id, { table_id: field.options.table_id, multiple: true }]);
    const { field: now } = await attachJunction(c, table, field.id, { table_id: field.options.table_id, ...(reverseName ? { reverse_name: reverseName } : {}) });
    const col = ident(field.column_name);
    await c.ddl(`INSERT INTO ${qualified(dataSchema, now.options.junction)} (${ident(now.options.self_column)}, ${ident(now.options.other_column)}) SELECT id, ${col} FROM ${relation} WHERE ${col} IS NOT NULL`);
    // every value is a pair now: the column goes (its foreign key and index with it)
    await c.ddl(`ALTER TABLE ${relation} DROP COLUMN ${col}`);
    return getField(c.tx, table.id, field.id);
  }

  const confirm = flag(update.confirm_loss, 'confirm_loss') ?? false;
  if (report.lost > 0 && !confirm) {
    throw unprocessable(
      'lossy_conversion',
      `${report.lost} rows of "${field.name}" link several rows; a one-to-many link keeps the first of each (smallest id); send confirm_loss=1 to convert anyway (the many-to-many field is kept in the trash)`,
      'options.multiple',
      report,
    );
  }
  const { rows: clash } = await c.tx.query(`SELECT 1 FROM pg_attribute WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped`, [table.table_oid, field.column_name]);
  if (clash.length) throw unprocessable('column_taken', `table "${table.name}" has a column named "${field.column_name}" (made outside the console); rename the field's column first`, 'column');
  c.reached('validate');
  const col = ident(field.column_name);
  const target = await c.tx.query<{ table_name: string }>(`SELECT table_name FROM tablewright.tables WHERE id = $1`, [field.options.table_id]);
  await c.ddl(
    `ALTER TABLE ${relation} ADD COLUMN ${col} bigint CONSTRAINT ${ident(`fk_f${field.id}`)} REFERENCES ${qualified(dataSchema, target.rows[0]!.table_name)} (id) ON DELETE SET NULL`,
  );
  const j = qualified(dataSchema, field.options.junction);
  const self = ident(field.options.self_column);
  await c.ddl(`UPDATE ${relation} AS r SET ${col} = s.first FROM (SELECT ${self} AS id, min(${ident(field.options.other_column)}) AS first FROM ${j} GROUP BY ${self}) s WHERE r.id = s.id`);
  await c.ddl(`CREATE INDEX ${ident(`ix_f${field.id}`)} ON ${relation} (${col})`);
  // The many-to-many side is kept in the trash, on the same junction; its reverse joins it there.
  const { rows: copy } = await c.tx.query<{ id: number }>(
    /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position, indexed, trashed_at, trashed_by, trash_name, trash_reason)
      VALUES ($1, $2, $3, 'link', $4, $5, true, now(), $6, $7, 'type_change') RETURNING id`,
    [table.id, `${field.name} (many-to-many, v${version})`.slice(0, 255), `${field.column_name}_before_v${version}`.slice(0, 63), field.options, field.position, c.actor.name, field.options.junction],
  );
  const rev = field.options.reverse_field_id as number | undefined;
  if (rev) {
    const { rows } = await c.tx.query<{ table_id: number }>(
      /* sql */ `UPDATE tablewright.fields SET options = options || jsonb_build_object('reverse_field_id', $2::int8),
         trashed_at = coalesce(trashed_at, now()), trashed_by = coalesce(trashed_by, $3), trash_name = coalesce(trash_name, options->>'junction'), trash_reason = coalesce(trash_reason, 'type_change')
       WHERE id = $1 RETURNING table_id`,
      [rev, copy[0]!.id, c.actor.name],
    );
    if (rows[0]) c.alsoTables.push(rows[0].table_id);
  }
  await c.tx.query(`UPDATE tablewright.fields SET options = $2, attnum = $3, indexed = true, updated_at = now() WHERE id = $1`, [
    field.id,
    { table_id: field.options.table_id },
    await attnumOf(c.tx, table.table_oid!, field.column_name),
  ]);
  const now = await getField(c.tx, table.id, field.id);
  await c.ddl(`COMMENT ON COLUMN ${relation}.${col} IS ${literal(columnComment(now, table))}`);
  out.kept = { field_id: copy[0]!.id, rows: report.lost };
  return now;
}
