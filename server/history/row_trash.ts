// The row trash (tablewright.row_trash): rows deleted by any path (the API, the grid, a
// bulk delete, psql, a TRUNCATE) land there through the history trigger, with every
// value, who and when. A restore puts a row back with its own id and values, into the
// table's columns as they are now, and puts back the links its deletion cleared (and its
// many-to-many pairs, which went with it).
import type pg from 'pg';
import type { Queryable } from '../db/pool.js';
import { withTransaction } from '../db/tx.js';
import { AppError, badRequest } from '../errors.js';
import type { Model } from '../model/compile.js';
import { getRow, MAX_BULK_ROWS, writeTarget, type Row } from '../model/rows.js';
import { insertRow, loadRowTable, place, restoreLinks } from './apply.js';
import { apiValue, ColumnResolver, displayValue, pairsSql, type JsonText, withKeptValues } from './columns.js';
import { stampTransaction, type WriteContext } from './stamp.js';
import { manyFields, pairsBefore, putPairs } from './link_pairs.js';

export const TRASH_PAGE = 50;
export const MAX_TRASH_PAGE = 500;
/** A listing counts deleted rows up to this many ("more than 10,000"): a bulk delete of millions stays cheap to page. */
export const TRASH_COUNT_LIMIT = 10_000;

export interface TrashedRow {
  id: number;
  deleted_at: Date;
  deleted_by: string;
  /** column -> value, by the table's fields as they are now */
  values: Record<string, unknown>;
  /** for the console: field name and value as a short text, in display order */
  shown: Array<{ name: string; value: string }>;
}

function pageOf(q: { page?: unknown; size?: unknown }): { page: number; size: number } {
  const num = (v: unknown, name: string, max: number, dflt: number) => {
    if (v === undefined || v === '') return dflt;
    if (typeof v !== 'string' || !/^\d{1,6}$/.test(v) || Number(v) < 1 || Number(v) > max) throw badRequest(`${name} is a whole number from 1 to ${max}`, name);
    return Number(v);
  };
  return { page: num(q.page, 'page', 100_000, 1), size: num(q.size, 'size', MAX_TRASH_PAGE, TRASH_PAGE) };
}

/**
 * A table's row trash, newest first, a page at a time. Rows that are in the table again
 * (put back by hand in SQL) are not listed. `count` is how many there are in all, exact
 * up to TRASH_COUNT_LIMIT (`count_exact` false past it).
 */
export async function listRowTrash(db: Queryable, model: Model, q: { page?: unknown; size?: unknown }) {
  const { page, size } = pageOf(q);
  const listed = /* sql */ `FROM tablewright.row_trash tr
      WHERE tr.table_id = $1 AND NOT EXISTS (SELECT 1 FROM ${model.relation} t WHERE t.id = tr.row_id)`;
  const { rows } = await db.query<{ row_id: number; deleted_at: Date; deleted_by: string; layout_id: number | null; pairs: Array<[string, JsonText]> }>(
    `SELECT tr.row_id, tr.deleted_at, tr.deleted_by, tr.layout_id, ${pairsSql('tr.row_values')} AS pairs ${listed} ORDER BY tr.id DESC LIMIT $2 OFFSET $3`,
    [model.tableId, size, (page - 1) * size],
  );
  const { rows: counted } = await db.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM (SELECT 1 ${listed} LIMIT $2) s`, [model.tableId, TRASH_COUNT_LIMIT + 1]);
  const resolver = await ColumnResolver.load(db, model.tableId, rows.map((r) => r.layout_id), null);
  const order = new Map(model.fields.map((f, i) => [f.column, i]));
  const trashed: TrashedRow[] = rows.map((r) => {
    const values: Record<string, unknown> = {};
    const shown: Array<{ name: string; value: string; at: number }> = [];
    for (const [name, text] of withKeptValues(r.pairs, (id) => resolver.columnOf(r.layout_id, id))) {
      if (name === 'id') continue;
      const t = resolver.resolve(r.layout_id, name);
      values[t.column] = apiValue(t.field, text);
      if (t.field && !t.field.trashed_at) shown.push({ name: t.field.name, value: displayValue(t.field, text), at: order.get(t.column) ?? 10_000 });
    }
    return { id: Number(r.row_id), deleted_at: r.deleted_at, deleted_by: r.deleted_by, values, shown: shown.sort((a, b) => a.at - b.at).map(({ name, value }) => ({ name, value })) };
  });
  const count = Math.min(Number(counted[0]!.n), TRASH_COUNT_LIMIT);
  const exact = Number(counted[0]!.n) <= TRASH_COUNT_LIMIT;
  return { rows: trashed, count, count_exact: exact, page, size, next: page * size < count || (!exact && rows.length === size) ? page + 1 : null };
}

/** The ids a bulk restore names: a list, or one id (a form's single checkbox), or "1,2,3". */
export function restoreIds(raw: unknown): number[] {
  const list = typeof raw === 'string' ? raw.split(',') : typeof raw === 'number' ? [raw] : raw;
  if (!Array.isArray(list) || list.length === 0) throw badRequest('a bulk restore takes {"ids": [...]}', 'ids');
  if (list.length > MAX_BULK_ROWS) throw badRequest(`a bulk restore takes at most ${MAX_BULK_ROWS} ids`, 'ids');
  const ids = list.map((v) => (typeof v === 'string' && /^\d{1,18}$/.test(v.trim()) ? Number(v.trim()) : v));
  if (!ids.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v > 0)) throw badRequest('ids are positive whole numbers', 'ids');
  return [...new Set(ids as number[])];
}

export interface RestoreResult {
  rows: Row[];
  /** links from other rows that pointed at these and were cleared by the delete, set again */
  links_restored: number;
  /** values with nowhere to go now (their field was purged), by row */
  skipped: Record<number, string[]>;
}

/**
 * Restores rows from the trash: all or none, one transaction. Each comes back with its
 * own id and values (the newest trash entry of that id); a row that cannot (a unique value
 * taken meanwhile, a link target gone, the id in use) answers 409 saying why, naming the row.
 */
export async function restoreRows(pool: pg.Pool, dataSchema: string, model: Model, ids: number[], w: WriteContext): Promise<RestoreResult> {
  writeTarget(model); // 409 for a table adopted read-only, or whose rows have no single id
  return withTransaction(pool, async (tx) => {
    await stampTransaction(tx, { ...w, reason: 'restore' });
    const { rows: entries } = await tx.query<{ id: number; row_id: number; layout_id: number | null; xact: string; pairs: Array<[string, JsonText]> }>(
      /* sql */ `SELECT id, row_id, layout_id, xact::text AS xact, ${pairsSql('row_values')} AS pairs
         FROM tablewright.row_trash WHERE table_id = $1 AND row_id = ANY($2::int8[]) ORDER BY id DESC FOR UPDATE`,
      [model.tableId, ids],
    );
    const newest = new Map<number, (typeof entries)[number]>();
    for (const e of entries) if (!newest.has(Number(e.row_id))) newest.set(Number(e.row_id), e);
    const missing = ids.filter((id) => !newest.has(id));
    if (missing.length) {
      throw new AppError(404, 'not_found', `no row${missing.length > 1 ? 's' : ''} ${missing.slice(0, 10).join(', ')} in the trash of "${model.table.name}" (restored or purged already?)`, 'ids', { missing });
    }
    const table = await loadRowTable(tx, model, entries.map((e) => e.layout_id));
    const skipped: Record<number, string[]> = {};
    for (const id of ids) {
      const e = newest.get(id)!;
      const placed = place(table, table.resolver.restoredValues(e.layout_id, e.pairs));
      await insertRow(tx, table, id, placed);
      if (placed.skipped.length) skipped[id] = placed.skipped;
    }
    await tx.query(`DELETE FROM tablewright.row_trash WHERE id = ANY($1::int8[])`, [[...newest.values()].map((e) => e.id)]);
    let links = 0;
    for (const id of ids) links += await restoreLinks(tx, dataSchema, model.tableId, id, newest.get(id)!.xact);
    // Many-to-many pairs went with the row (ON DELETE CASCADE): back as its pair history had them.
    const many = [...manyFields(table).keys()];
    for (const id of many.length ? ids : []) {
      const { rows: del } = await tx.query<{ id: string | null }>(
        `SELECT min(id)::text AS id FROM tablewright.row_history WHERE table_id = $1 AND row_id = $2 AND op = 'delete' AND xact = $3::xid8`,
        [model.tableId, id, newest.get(id)!.xact],
      );
      if (del[0]?.id == null) continue;
      const lost = await putPairs(tx, dataSchema, table, id, await pairsBefore(tx, table, id, Number(del[0].id), many));
      if (lost.length) skipped[id] = [...(skipped[id] ?? []), ...lost];
    }
    const rows: Row[] = [];
    for (const id of ids) rows.push(await getRow(tx, model, id));
    return { rows, links_restored: links, skipped };
  });
}
