// Many-to-many pairs in reverts and undos. A many-to-many field has no column: its values
// in the history (sql/migrations/061_link_history.sql) are the row's linked ids before and
// after each change of its pairs, under the field's JSON key. Putting such a value back
// sets the row's pairs in the junction to exactly those ids (the pairs no longer listed
// deleted, the missing ones inserted, in one statement, so the link history records one
// entry per row, stamped as the revert). A linked row that is gone cannot be linked again:
// its id is left out and the field named among the skipped values.
import type { PoolClient } from 'pg';
import { ident, qualified } from '../db/ident.js';
import { isManyLink } from '../schema/m2m.js';
import type { FieldMeta } from '../schema/metadata.js';
import type { RowTable } from './apply.js';
import { pairsSql, type JsonText, type RowValues } from './columns.js';

/** The table's many-to-many fields (trashed ones too) by value key. */
export function manyFields(t: RowTable): Map<string, FieldMeta> {
  return new Map(t.resolver.fields.filter((f) => isManyLink(f)).map((f) => [`f${f.id}`, f]));
}

const idsOf = (text: JsonText): string[] => text.match(/\d+/g) ?? [];

/**
 * The pairs a row had just before history entry `beforeId`, for fields none of the walked
 * entries set: the newest value its pair history recorded before then. (A deleted row's
 * pairs go with it by ON DELETE CASCADE, and its own history has no entry for that.)
 */
export async function pairsBefore(tx: PoolClient, t: RowTable, rowId: number, beforeId: number, keys: string[]): Promise<RowValues> {
  const out: RowValues = new Map();
  const many = manyFields(t);
  for (const key of keys) {
    const f = many.get(key);
    if (!f) continue;
    const { rows } = await tx.query<{ layout_id: number | null; pairs: Array<[string, JsonText]> }>(
      `SELECT layout_id, ${pairsSql('new_values')} AS pairs FROM tablewright.row_history
        WHERE table_id = $1 AND row_id = $2 AND id < $3 AND op = 'update' AND new_values ? $4 ORDER BY id DESC LIMIT 1`,
      [t.model.tableId, rowId, beforeId, f.column_name],
    );
    const v = rows[0] ? t.resolver.values(rows[0].layout_id, rows[0].pairs).get(key) : undefined;
    out.set(key, v ?? '[]');
  }
  return out;
}

/**
 * Takes the many-to-many values out of `values` (they are no columns) and makes the row's
 * pairs those ids. Answers the names of fields whose pairs could not all come back.
 */
export async function putPairs(tx: PoolClient, dataSchema: string, t: RowTable, rowId: number, values: RowValues): Promise<string[]> {
  const skipped: string[] = [];
  for (const [key, f] of manyFields(t)) {
    const text = values.get(key);
    if (text === undefined) continue;
    values.delete(key);
    const o = f.options as { junction?: string; self_column?: string; other_column?: string; table_id?: number };
    const { rows: target } = await tx.query<{ table_name: string; junction: boolean }>(
      `SELECT t.table_name, to_regclass($2) IS NOT NULL AS junction FROM tablewright.tables t WHERE t.id = $1 AND t.trashed_at IS NULL`,
      [o.table_id ?? 0, String(qualified(dataSchema, o.junction ?? ''))],
    );
    if (f.trashed_at || !target[0]?.junction || !o.self_column || !o.other_column) {
      skipped.push(f.name);
      continue;
    }
    const j = qualified(dataSchema, o.junction!);
    const self = ident(o.self_column);
    const other = ident(o.other_column);
    const { rows } = await tx.query<{ missing: number }>(
      /* sql */ `WITH want AS (SELECT x FROM unnest($2::int8[]) AS x WHERE EXISTS (SELECT 1 FROM ${qualified(dataSchema, target[0].table_name)} r WHERE r.id = x)),
           del AS (DELETE FROM ${j} j WHERE j.${self} = $1 AND j.${other} <> ALL (ARRAY(SELECT x FROM want))),
           ins AS (INSERT INTO ${j} (${self}, ${other}) SELECT $1, x FROM want ON CONFLICT DO NOTHING)
         SELECT cardinality($2::int8[]) - (SELECT count(*) FROM want)::int AS missing`,
      [rowId, idsOf(text)],
    );
    if (rows[0]!.missing > 0) skipped.push(`${f.name} (${rows[0]!.missing} linked row${rows[0]!.missing > 1 ? 's' : ''} gone)`);
  }
  return skipped;
}
