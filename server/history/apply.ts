// Putting values from the history or the row trash back into a row: an INSERT with the
// row's own id (OVERRIDING SYSTEM VALUE), or an UPDATE of some columns. The values go in
// as one jsonb parameter read back by jsonb_populate_record() into the table's own row
// type, so PostgreSQL parses each value for its column exactly as it printed it. Each
// write runs under a savepoint, so that a refusal can be explained (which value is taken,
// which link target is gone) before the transaction gives up.
import type { PoolClient } from 'pg';
import { qualified } from '../db/ident.js';
import { conflict } from '../errors.js';
import type { Model } from '../model/compile.js';
import { ColumnResolver, jsonObjectText, pairsSql, quotedColumns, type JsonText, type RowValues, type Target } from './columns.js';

/** One table as restores and reverts see it: its model and what its values' keys resolve to. */
export interface RowTable {
  model: Model;
  resolver: ColumnResolver;
  oid: number;
}

export async function loadRowTable(tx: PoolClient, model: Model, layoutIds: Array<number | null>): Promise<RowTable> {
  const { rows } = await tx.query<{ oid: number }>(`SELECT $1::regclass::oid::int8 AS oid`, [model.relation]);
  const oid = Number(rows[0]!.oid);
  return { model, oid, resolver: await ColumnResolver.load(tx, model.tableId, layoutIds, oid) };
}

export interface Placed {
  /** physical column -> JSON text */
  columns: Array<[string, JsonText]>;
  /** values that have nowhere to go: their field was purged, or PostgreSQL computes the column */
  skipped: string[];
}

/** Where each value goes now. `forInsert`: computed columns (generated, identity) are left to PostgreSQL. */
export function place(t: RowTable, values: RowValues): Placed {
  const columns: Array<[string, JsonText]> = [];
  const skipped: string[] = [];
  for (const [key, text] of values) {
    const target = t.resolver.target(key);
    if (!target.physical || t.resolver.catalog.get(target.physical)?.computed) {
      if (text !== 'null') skipped.push(target.field?.name ?? target.column);
      continue;
    }
    columns.push([target.physical, text]);
  }
  return { columns, skipped };
}

const rowType = (t: RowTable) => `NULL::${t.model.relation}`;

/** Inserts the row back under its own id. */
export async function insertRow(tx: PoolClient, t: RowTable, rowId: number, placed: Placed): Promise<void> {
  const cols = quotedColumns(placed.columns.map(([c]) => c));
  const sql =
    `INSERT INTO ${t.model.relation} (id${cols.map((c) => `, ${c}`).join('')}) OVERRIDING SYSTEM VALUE ` +
    `SELECT $1${cols.map((c) => `, r.${c}`).join('')} FROM jsonb_populate_record(${rowType(t)}, $2::jsonb) r`;
  await guarded(tx, t, rowId, placed, () => tx.query(sql, [rowId, jsonObjectText(placed.columns)]));
}

/** Sets some columns of a row; false when the row is not there. */
export async function updateRow(tx: PoolClient, t: RowTable, rowId: number, placed: Placed): Promise<boolean> {
  if (placed.columns.length === 0) return true;
  const cols = quotedColumns(placed.columns.map(([c]) => c));
  const sql = `UPDATE ${t.model.relation} AS t SET ${cols.map((c) => `${c} = r.${c}`).join(', ')} FROM jsonb_populate_record(${rowType(t)}, $2::jsonb) r WHERE t.id = $1`;
  const res = await guarded(tx, t, rowId, placed, () => tx.query(sql, [rowId, jsonObjectText(placed.columns)]));
  return (res.rowCount ?? 0) > 0;
}

/** Deletes a row (the trigger puts it in the row trash); false when it was not there. */
export async function deleteRow(tx: PoolClient, t: RowTable, rowId: number): Promise<boolean> {
  const res = await tx.query(`DELETE FROM ${t.model.relation} WHERE id = $1`, [rowId]);
  return (res.rowCount ?? 0) > 0;
}

/** The row as it is now, values by key; undefined when there is no such row. Locks it. */
export async function currentRow(tx: PoolClient, t: RowTable, rowId: number): Promise<RowValues | undefined> {
  const { rows } = await tx.query<{ pairs: Array<[string, JsonText]> }>(
    `SELECT ${pairsSql('to_jsonb(t)')} AS pairs FROM ${t.model.relation} AS t WHERE t.id = $1 FOR UPDATE`,
    [rowId],
  );
  return rows[0] ? t.resolver.values(null, rows[0].pairs) : undefined;
}

async function guarded<T>(tx: PoolClient, t: RowTable, rowId: number, placed: Placed, write: () => Promise<T>): Promise<T> {
  await tx.query('SAVEPOINT tw_row_put');
  try {
    const out = await write();
    await tx.query('RELEASE SAVEPOINT tw_row_put');
    return out;
  } catch (err) {
    await tx.query('ROLLBACK TO SAVEPOINT tw_row_put');
    throw await explain(tx, t, rowId, placed, err);
  }
}

const fieldOfConstraint = (t: RowTable, name: string | undefined, prefix: string): Target | undefined => {
  const m = name ? new RegExp(`^${prefix}(\\d+)$`).exec(name) : null;
  return m ? t.resolver.target(`f${m[1]}`) : undefined;
};

const short = (text: string) => (text.length > 60 ? `${text.slice(0, 59)}…` : text);

/** A database refusal in the terms of the row and its fields (409: the row cannot come back as it was). */
async function explain(tx: PoolClient, t: RowTable, rowId: number, placed: Placed, err: unknown): Promise<unknown> {
  const e = err as { code?: string; constraint?: string; column?: string; detail?: string };
  const valueOf = (physical: string | undefined) => placed.columns.find(([c]) => c === physical)?.[1];
  if (e?.code === '23505') {
    const target = fieldOfConstraint(t, e.constraint, 'uq_f');
    if (!target) {
      if (e.constraint === `pk_t${t.model.tableId}` || /\(id\)=/.test(e.detail ?? '')) return conflict('row_exists', `row ${rowId} is in the table (it was restored or added again meanwhile)`, 'id');
      return conflict('value_taken', `a unique value of row ${rowId} is taken by another row now (${e.constraint ?? 'a unique index'})`);
    }
    const text = valueOf(target.physical) ?? 'null';
    const { rows } = await tx.query<{ id: number }>(
      `SELECT t.id FROM ${t.model.relation} t, jsonb_populate_record(${rowType(t)}, $1::jsonb) r WHERE t.${quotedColumns([target.physical!])[0]} = r.${quotedColumns([target.physical!])[0]} LIMIT 1`,
      [jsonObjectText([[target.physical!, text]])],
    );
    const other = rows[0] ? ` by row ${rows[0].id}` : '';
    return conflict('value_taken', `${target.field?.name ?? target.column} must be unique, and its value ${short(text)} is taken${other} now`, target.column, { row: rowId, taken_by: rows[0]?.id ?? null });
  }
  if (e?.code === '23503') {
    const target = fieldOfConstraint(t, e.constraint, 'fk_f');
    const text = valueOf(target?.physical);
    const linked = target?.field?.options?.table_id;
    let where = 'the linked table';
    if (linked) {
      const { rows } = await tx.query<{ name: string }>(`SELECT name FROM tablewright.tables WHERE id = $1`, [linked]);
      if (rows[0]) where = `"${rows[0].name}"`;
    }
    return conflict(
      'link_target_gone',
      `${target?.field?.name ?? 'a link'} points to row ${text ?? '?'} of ${where}, which is gone (deleted: restore it first)`,
      target?.column,
      { row: rowId, table_id: linked ?? null, target_row: text === undefined ? null : Number(text) },
    );
  }
  if (e?.code === '23502') {
    const target = e.column ? t.resolver.resolve(null, e.column) : undefined;
    return conflict('required', `${target?.field?.name ?? e.column} is required now, and row ${rowId} has no value for it`, target?.column ?? e.column, { row: rowId });
  }
  if (typeof e?.code === 'string' && (e.code.startsWith('22') || e.code === '42804' || e.code === '23514')) {
    // Which value no longer fits: each one alone, read back into the row type.
    for (const [physical, text] of placed.columns) {
      await tx.query('SAVEPOINT tw_row_probe');
      try {
        await tx.query(`SELECT (jsonb_populate_record(${rowType(t)}, $1::jsonb)).${quotedColumns([physical])[0]}`, [jsonObjectText([[physical, text]])]);
        await tx.query('RELEASE SAVEPOINT tw_row_probe');
      } catch {
        await tx.query('ROLLBACK TO SAVEPOINT tw_row_probe');
        const target = t.resolver.resolve(null, physical);
        return conflict('value_does_not_fit', `${target.field?.name ?? physical}: ${short(text)} does not fit the field as it is now (its type changed since)`, target.column, { row: rowId });
      }
    }
    return conflict('value_does_not_fit', `a value of row ${rowId} does not fit the table as it is now${e.code === '23514' ? ` (check ${e.constraint})` : ''}`, undefined, { row: rowId });
  }
  return err;
}

/**
 * The links that pointed at a row when it was deleted: its deletion cleared them (ON
 * DELETE SET NULL), and the history recorded those updates in the same transaction,
 * flagged "cleared" (an update that only emptied values). Each link is put back when
 * nobody has set it since. Returns how many.
 */
export async function restoreLinks(tx: PoolClient, dataSchema: string, tableId: number, rowId: number, xact: string): Promise<number> {
  const { rows } = await tx.query<{ table_id: number; row_id: number; layout_id: number | null; old_pairs: Array<[string, JsonText]>; new_pairs: Array<[string, JsonText]> }>(
    /* sql */ `SELECT h.table_id, h.row_id, h.layout_id, ${pairsSql('h.old_values')} AS old_pairs, ${pairsSql('h.new_values')} AS new_pairs
       FROM tablewright.row_history h WHERE h.xact = $1::xid8 AND h.cleared AND h.op = 'update' AND h.row_id IS NOT NULL`,
    [xact],
  );
  let restored = 0;
  const byTable = new Map<number, typeof rows>();
  for (const r of rows) byTable.set(r.table_id, [...(byTable.get(r.table_id) ?? []), r]);
  for (const [linkingTable, entries] of byTable) {
    const { rows: meta } = await tx.query<{ table_name: string }>(`SELECT table_name FROM tablewright.tables WHERE id = $1 AND trashed_at IS NULL`, [linkingTable]);
    if (!meta[0]) continue;
    const relation = String(qualified(dataSchema, meta[0].table_name));
    const { rows: found } = await tx.query<{ oid: number | null }>(`SELECT to_regclass($1)::oid::int8 AS oid`, [relation]);
    if (!found[0]?.oid) continue;
    const resolver = await ColumnResolver.load(tx, linkingTable, entries.map((e) => e.layout_id), Number(found[0].oid));
    for (const r of entries) {
      const news = new Map(r.new_pairs);
      for (const [name, text] of r.old_pairs) {
        if (text !== String(rowId) || news.get(name) !== 'null') continue;
        const target = resolver.resolve(r.layout_id, name);
        if (!target.physical || target.field?.type !== 'link' || Number(target.field.options?.table_id) !== tableId) continue;
        const col = quotedColumns([target.physical])[0];
        const res = await tx.query(`UPDATE ${relation} SET ${col} = $1 WHERE id = $2 AND ${col} IS NULL`, [rowId, r.row_id]);
        restored += res.rowCount ?? 0;
      }
    }
  }
  return restored;
}