// Going back, through the history: revert a row to how it was before an entry (the API
// and the row page), and undo one's own last action in the console. Both run in one
// transaction, stamped (reason 'revert' / 'undo'), so that what they do is itself in the
// history; both lock the row first (an advisory lock: the row may not exist). Many-to-many
// pairs come back with the columns (link_pairs.ts).
import type pg from 'pg';
import type { PoolClient } from 'pg';
import { withTransaction } from '../db/tx.js';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import type { Model } from '../model/compile.js';
import { getRow, MAX_BULK_ROWS, writeTarget, type Row } from '../model/rows.js';
import { currentRow, deleteRow, insertRow, loadRowTable, place, restoreLinks, updateRow, type RowTable } from './apply.js';
import { pairsSql, type JsonText, type RowValues, SHADOW_COLUMN } from './columns.js';
import { ENTRY_COLUMNS, type EntryRow } from './entries.js';
import { stampTransaction, type WriteContext } from './stamp.js';
import { manyFields, pairsBefore, putPairs } from './link_pairs.js';

/**
 * Serialises reverts and undos of these rows, present or not (an advisory lock per row),
 * and holds the rows that exist against every other write (FOR UPDATE): taken before the
 * history is read, so that a change committed by anyone meanwhile is seen, never overwritten.
 */
async function lockRows(tx: PoolClient, model: Model, rowIds: number[]): Promise<void> {
  const sorted = [...rowIds].sort((a, b) => a - b);
  for (const id of sorted) {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('tablewright.row:' || $1::text || ':' || $2::text, 0))`, [model.tableId, id]);
  }
  await tx.query(`SELECT id FROM ${model.relation} WHERE id = ANY($1::int8[]) ORDER BY id FOR UPDATE`, [sorted]);
}

export interface RevertResult {
  /** the row as it is now, or null when it did not exist before that entry (it is in the trash now) */
  row: Row | null;
  /** values that had nowhere to go (their field was purged since) */
  skipped: string[];
}

/**
 * Puts a row back as it was just before history entry `entryId`: every change from that
 * entry on is walked back, newest first, from the row as it is now. A row that did not
 * exist then is deleted (to the trash); one deleted since comes back with its id.
 */
export async function revertRow(pool: pg.Pool, dataSchema: string, model: Model, rowId: number, entryId: number, w: WriteContext): Promise<RevertResult> {
  writeTarget(model); // 409 for a table adopted read-only, or whose rows have no single id
  return withTransaction(pool, async (tx) => {
    await stampTransaction(tx, { ...w, reason: 'revert' });
    await lockRows(tx, model, [rowId]);
    const { rows: since } = await tx.query<EntryRow>(
      /* sql */ `SELECT ${ENTRY_COLUMNS} FROM tablewright.row_history h
        WHERE h.table_id = $1 AND h.id >= $3
          AND (h.row_id = $2 OR (h.row_id IS NULL AND h.op = 'import'
               AND EXISTS (SELECT 1 FROM jsonb_array_elements(h.new_values -> 'ids') r WHERE $2 BETWEEN (r ->> 0)::int8 AND (r ->> 1)::int8)))
        ORDER BY h.id DESC`,
      [model.tableId, rowId, entryId],
    );
    if (!since.length || Number(since[since.length - 1]!.id) !== entryId) throw notFound(`history entry ${entryId} of row ${rowId} of table "${model.table.name}"`);
    const table = await loadRowTable(tx, model, since.map((e) => e.layout_id));
    const current = await currentRow(tx, table, rowId);
    let exists = current !== undefined;
    let values: RowValues = new Map(current ?? []);
    // the oldest deletion walked back, and the keys set since it (older entries)
    let deletedAt: number | undefined;
    const touched = new Set<string>();
    for (const e of since) {
      if (e.op === 'update') {
        exists = true;
        for (const [k, v] of table.resolver.values(e.layout_id, e.old_pairs)) {
          values.set(k, v);
          touched.add(k);
        }
      } else if (e.op === 'delete') {
        exists = true;
        values = table.resolver.values(e.layout_id, e.old_pairs);
        deletedAt = Number(e.id);
        touched.clear();
      } else {
        exists = false;
        values = new Map();
      }
    }
    if (!exists) {
      if (current) await deleteRow(tx, table, rowId);
      return { row: null, skipped: [] };
    }
    // Many-to-many pairs (link_pairs.ts): a deletion took them without an entry of the row's own.
    if (deletedAt !== undefined) {
      const untouched = [...manyFields(table).keys()].filter((k) => !touched.has(k));
      for (const [k, v] of await pairsBefore(tx, table, rowId, deletedAt, untouched)) values.set(k, v);
    }
    const pairs: RowValues = new Map([...values].filter(([k]) => manyFields(table).has(k)));
    for (const k of pairs.keys()) values.delete(k);
    if (!current) {
      const placed = place(table, values);
      await insertRow(tx, table, rowId, placed);
      await tx.query(`DELETE FROM tablewright.row_trash WHERE table_id = $1 AND row_id = $2`, [model.tableId, rowId]);
      const deletion = since.find((e) => e.op === 'delete');
      if (deletion) await restoreLinks(tx, dataSchema, model.tableId, rowId, deletion.xact);
      const lost = await putPairs(tx, dataSchema, table, rowId, pairs);
      return { row: await getRow(tx, model, rowId), skipped: [...placed.skipped, ...lost] };
    }
    const changed: RowValues = new Map([...values].filter(([k, v]) => current.get(k) !== v));
    const placed = place(table, changed);
    await updateRow(tx, table, rowId, placed);
    const lost = await putPairs(tx, dataSchema, table, rowId, pairs);
    return { row: await getRow(tx, model, rowId), skipped: [...placed.skipped, ...lost] };
  });
}

// ------------------------------------------------------------------ undo

export interface UndoRequest {
  /** the request id of the action (the X-Request-Id its answer carried) */
  request: string;
  rows: number[];
}

export function undoRequest(body: Record<string, unknown>): UndoRequest {
  const request = body.request;
  if (typeof request !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(request)) throw badRequest('request: the id of the request to undo', 'request');
  const raw = typeof body.rows === 'string' ? body.rows.split(',') : body.rows;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_BULK_ROWS) throw badRequest(`rows: the ids of the rows the action changed (1 to ${MAX_BULK_ROWS})`, 'rows');
  const rows = raw.map((v) => (typeof v === 'string' && /^\d{1,18}$/.test(v.trim()) ? Number(v.trim()) : v));
  if (!rows.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v > 0)) throw badRequest('rows are positive whole numbers', 'rows');
  return { request, rows: [...new Set(rows as number[])] };
}

const VERBS: Record<EntryRow['op'], string> = { insert: 'added', update: 'changed', delete: 'deleted', restore: 'restored', import: 'imported' };

/** "user:bob@x changed Price of row 12 at 2024-05-01 14:02:07 UTC (history entry 381)" */
function describeChange(t: RowTable, e: EntryRow): string {
  const names = e.op === 'update' ? [...new Set((e.new_pairs ?? []).filter(([n]) => n !== 'id' && !SHADOW_COLUMN.test(n)).map(([n]) => { const x = t.resolver.resolve(e.layout_id, n); return x.field?.name ?? x.column; }))] : [];
  const what = names.length ? `${names.join(', ')} of row ${e.row_id}` : `row ${e.row_id}`;
  const when = new Date(e.at).toISOString().slice(0, 19).replace('T', ' ');
  return `${e.actor} ${VERBS[e.op]} ${what} at ${when} UTC (history entry ${e.id})`;
}

const keysOf = (t: RowTable, e: EntryRow) => new Set([...(e.new_pairs ?? []), ...(e.old_pairs ?? [])].filter(([n]) => n !== 'id' && !SHADOW_COLUMN.test(n)).map(([n]) => t.resolver.resolve(e.layout_id, n).key));

/** Would undoing `mine` overwrite `later`? */
function overlaps(t: RowTable, mine: EntryRow, later: EntryRow): boolean {
  if (mine.op !== 'update' || later.op !== 'update') return true;
  const theirs = keysOf(t, later);
  return [...keysOf(t, mine)].some((k) => theirs.has(k));
}

export interface UndoResult {
  undone: number;
  rows: number[];
  /** a short sentence for the console's notice */
  summary: string;
}

/**
 * Undoes the caller's own action (every history entry its request made on these rows):
 * an edit's columns get their old values, an added row goes to the trash, a deleted row
 * comes back. Refused (409 undo_conflict, naming the change) when someone else changed
 * the same values, or the same row, since; refused when the entries are someone else's.
 */
export async function undoAction(pool: pg.Pool, dataSchema: string, model: Model, req: UndoRequest, w: WriteContext): Promise<UndoResult> {
  writeTarget(model); // 409 for a table adopted read-only, or whose rows have no single id
  return withTransaction(pool, async (tx) => {
    await stampTransaction(tx, { ...w, reason: 'undo' });
    await lockRows(tx, model, req.rows);
    const { rows: entries } = await tx.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM tablewright.row_history h WHERE h.table_id = $1 AND h.row_id = ANY($2::int8[]) AND h.request_id = $3 ORDER BY h.id DESC`,
      [model.tableId, req.rows, req.request],
    );
    if (!entries.length) throw conflict('nothing_to_undo', 'nothing to undo: that action changed nothing here (or its history was pruned)');
    if (entries.some((e) => e.actor !== w.actor)) throw new AppError(403, 'not_yours', 'you can undo only your own changes');
    const first = Math.min(...entries.map((e) => Number(e.id)));
    const { rows: later } = await tx.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM tablewright.row_history h
        WHERE h.table_id = $1 AND h.row_id = ANY($2::int8[]) AND h.id > $3 AND h.request_id IS DISTINCT FROM $4 ORDER BY h.id`,
      [model.tableId, req.rows, first, req.request],
    );
    const table = await loadRowTable(tx, model, [...entries, ...later].map((e) => e.layout_id));
    for (const e of entries) {
      const blocker = later.find((l) => l.row_id === e.row_id && Number(l.id) > Number(e.id) && l.actor !== w.actor && overlaps(table, e, l));
      if (blocker) {
        throw conflict('undo_conflict', `cannot undo: ${describeChange(table, blocker)}, after you; undoing would overwrite that change`, undefined, {
          entry: Number(blocker.id),
          actor: blocker.actor,
          at: blocker.at,
          row: Number(blocker.row_id),
        });
      }
    }
    for (const e of entries) await reverse(tx, table, dataSchema, e);
    const rows = [...new Set(entries.map((e) => Number(e.row_id)))];
    const verb = entries.every((e) => e.op === 'update') ? 'edit' : entries.every((e) => e.op === 'delete') ? 'delete' : entries.every((e) => e.op === 'insert') ? 'add' : 'change';
    return { undone: entries.length, rows, summary: `Undone: ${verb} of row${rows.length > 1 ? 's' : ''} ${rows.slice(0, 10).join(', ')}${rows.length > 10 ? '…' : ''}.` };
  });
}

/** Takes back one entry: old values back, an added row deleted, a deleted row restored. */
async function reverse(tx: PoolClient, t: RowTable, dataSchema: string, e: EntryRow): Promise<void> {
  const rowId = Number(e.row_id);
  if (e.op === 'update') {
    const values = t.resolver.values(e.layout_id, e.old_pairs);
    const pairs: RowValues = new Map([...values].filter(([k]) => manyFields(t).has(k)));
    for (const k of pairs.keys()) values.delete(k);
    const placed = place(t, values);
    if (!(await updateRow(tx, t, rowId, placed))) throw conflict('row_gone', `row ${rowId} is not in the table any more`);
    if (pairs.size) {
      const { rows } = await tx.query(`SELECT 1 FROM ${t.model.relation} WHERE id = $1`, [rowId]);
      if (!rows.length) throw conflict('row_gone', `row ${rowId} is not in the table any more`);
      await putPairs(tx, dataSchema, t, rowId, pairs);
    }
    return;
  }
  if (e.op === 'insert' || e.op === 'restore') {
    await deleteRow(tx, t, rowId);
    return;
  }
  if (e.op === 'delete') {
    // The trash entry this deletion made (same transaction), else the history's copy.
    const { rows } = await tx.query<{ id: number; layout_id: number | null; pairs: Array<[string, JsonText]> }>(
      `SELECT id, layout_id, ${pairsSql('row_values')} AS pairs FROM tablewright.row_trash WHERE table_id = $1 AND row_id = $2 AND xact = $3::xid8 ORDER BY id DESC LIMIT 1 FOR UPDATE`,
      [t.model.tableId, rowId, e.xact],
    );
    const source = rows[0] ? t.resolver.values(rows[0].layout_id, rows[0].pairs) : t.resolver.values(e.layout_id, e.old_pairs);
    await insertRow(tx, t, rowId, place(t, source));
    await tx.query(`DELETE FROM tablewright.row_trash WHERE table_id = $1 AND row_id = $2`, [t.model.tableId, rowId]);
    await restoreLinks(tx, dataSchema, t.model.tableId, rowId, e.xact);
  }
}
