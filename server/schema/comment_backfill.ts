// Tables and fields made before comments carried their field type, options and trashed
// state (server/schema/comments.ts) get the full comment once, in the background after
// start: one short transaction per table with lock_timeout (a busy table is left for the
// next start), never blocking traffic. Idempotent, so instances starting together only
// repeat each other's work. A table the role cannot alter, or whose stored identity no
// longer holds (a restore not yet re-identified), is left alone.
import type pg from 'pg';
import { ident, literal, qualified } from '../db/ident.js';
import { withTransaction } from '../db/tx.js';
import type { Logger } from '../log.js';
import { columnComment, tableComment } from './comments.js';
import type { FieldMeta, TableMeta } from './metadata.js';

interface Row {
  table: TableMeta;
  current: string | null;
  fields: Array<FieldMeta & { current: string | null; physical: string }>;
}

export async function backfillComments(pool: pg.Pool, schemas: { data: string; trash: string }, lockTimeoutMs: number, log: Logger): Promise<{ tables: number; skipped: number }> {
  const { rows } = await pool.query<{ table: TableMeta; current: string | null; fields: Row['fields'] | null }>(
    /* sql */ `SELECT to_jsonb(t) AS table, obj_description(t.table_oid, 'pg_class') AS current,
        (SELECT jsonb_agg(to_jsonb(f) || jsonb_build_object('current', col_description(t.table_oid, a.attnum), 'physical', a.attname))
           FROM tablewright.fields f JOIN pg_attribute a ON a.attrelid = t.table_oid AND a.attnum = f.attnum AND NOT a.attisdropped
          WHERE f.table_id = t.id AND f.trash_reason IS DISTINCT FROM 'type_change') AS fields
       FROM tablewright.tables t JOIN pg_class c ON c.oid = t.table_oid
      WHERE NOT t.read_only AND pg_has_role(current_user, c.relowner, 'USAGE')
        AND (SELECT identity FROM tablewright.database_identity) = tablewright.current_database_identity()`,
  );
  let tables = 0;
  let skipped = 0;
  for (const r of rows) {
    const t = r.table;
    const wantTable = t.trashed_at ? tableComment(t, { trashed: true, table_name: t.table_name }) : tableComment(t);
    const fieldChanges = (r.fields ?? [])
      .map((f) => ({ f, want: f.trashed_at ? columnComment(f, t, { trashed: true, column: f.column_name }) : columnComment(f, t) }))
      .filter(({ f, want }) => f.current !== want && (f.current === null || /\(tablewright field \d+ of table \d+\)/.test(f.current)));
    const tableChange = r.current !== wantTable && (r.current === null || /\(tablewright table \d+\)/.test(r.current));
    if (!tableChange && !fieldChanges.length) continue;
    const relation = qualified(t.trashed_at ? schemas.trash : schemas.data, t.trashed_at ? t.trash_name ?? t.table_name : t.table_name);
    try {
      await withTransaction(pool, async (tx) => {
        await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
        // re-checked under the lock: only if the relation is still the one the metadata names
        const { rows: still } = await tx.query(`SELECT 1 FROM tablewright.tables WHERE id = $1 AND table_oid = to_regclass($2)::oid FOR UPDATE`, [t.id, String(relation)]);
        if (!still.length) return;
        if (tableChange) await tx.query(`COMMENT ON TABLE ${relation} IS ${literal(wantTable)}`);
        for (const { f, want } of fieldChanges) await tx.query(`COMMENT ON COLUMN ${relation}.${ident(f.physical)} IS ${literal(want)}`);
      });
      tables += 1;
    } catch (err) {
      skipped += 1;
      log.debug({ err, tableId: t.id }, 'comment backfill: table skipped (busy or changed); the next start tries again');
    }
  }
  if (tables || skipped) log.info({ tables, skipped }, 'comments brought to the current format (type, options, trashed state)');
  return { tables, skipped };
}
