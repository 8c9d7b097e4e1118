// Adopting an index or UNIQUE constraint over several columns a DBA made in psql
// (drift kind untracked_index): it becomes an index over several fields
// (server/schema/table_indexes.ts), its row written with version + 1, audit and NOTIFY in
// one commit. No DDL: the index stays as it is, under its own name. Checked again in the
// transaction, so an index changed since the report is refused, not half described.
import { conflict } from '../errors.js';
import { schemaChange, type Actor } from '../schema/change.js';
import { getTable, listFields } from '../schema/metadata.js';
import { insertTableIndexRow } from '../schema/table_indexes.js';
import type { DriftItem } from './drift.js';
import type { ReconcileDeps } from './reconcile.js';

export async function adoptTableIndex(deps: ReconcileDeps, actor: Actor, tableId: number, item: DriftItem): Promise<Record<string, unknown>> {
  const seen = item.actual as { name: string; unique: boolean; field_ids: number[] | null };
  if (!seen.field_ids) throw conflict('not_adoptable', `index "${seen.name}" is partial, on an expression or over a column that is not a live field; it can only be ignored`);
  return schemaChange(deps, actor, 'adopt_table_index', tableId, async (c) => {
    const table = await getTable(c.tx, tableId);
    const { rows } = await c.tx.query<{ columns: string[]; uniq: boolean }>(
      /* sql */ `SELECT array_agg(a.attname::text ORDER BY k.ord) AS columns, bool_or(i.indisunique) AS uniq
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = $1 AND ic.relname = $2 AND i.indpred IS NULL AND i.indexprs IS NULL
        GROUP BY i.indexrelid`,
      [table.table_oid, seen.name],
    );
    const live = new Map((await listFields(c.tx, tableId)).map((f) => [f.id, f]));
    const expected = seen.field_ids!.map((id) => live.get(id)?.column_name);
    if (!rows[0] || rows[0].uniq !== seen.unique || rows[0].columns.join('\0') !== expected.join('\0')) {
      throw conflict('drift_changed', `index "${seen.name}" changed since the report; reconcile again`);
    }
    const index = await insertTableIndexRow(c.tx, tableId, seen.name, seen.field_ids!, seen.unique, actor.name);
    return { result: { adopted: { id: index.id, name: index.name, unique: index.is_unique, fields: index.field_ids } }, tableId, details: { index: index.name, fields: index.field_ids, unique: index.is_unique } };
  });
}
