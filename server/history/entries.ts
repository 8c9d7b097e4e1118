// Reading the row history (tablewright.row_history, written by the trigger): one row's
// entries, newest first, and a table's recent changes. Read from PostgreSQL on every
// request (never cached), so every instance shows the same history at once.
import type { Queryable } from '../db/pool.js';
import { badRequest } from '../errors.js';
import type { FieldMeta } from '../schema/metadata.js';
import { apiValue, ColumnResolver, displayValue, pairsSql, type JsonText, SHADOW_COLUMN } from './columns.js';

export const HISTORY_PAGE = 50;
export const MAX_HISTORY_PAGE = 200;

export interface EntryRow {
  id: number;
  table_id: number;
  row_id: number | null;
  layout_id: number | null;
  at: Date;
  xact: string;
  op: 'insert' | 'update' | 'delete' | 'restore' | 'import';
  actor: string;
  db_role: string;
  application: string | null;
  request_id: string | null;
  reason: string | null;
  cleared: boolean;
  old_pairs: Array<[string, JsonText]> | null;
  new_pairs: Array<[string, JsonText]> | null;
  imported: { rows: number; ids: Array<[number, number]> } | null;
}

/** The columns every reader of entries selects (values as exact JSON text pairs). */
export const ENTRY_COLUMNS = /* sql */ `h.id, h.table_id, h.row_id, h.layout_id, h.at, h.xact::text AS xact, h.op, h.actor, h.db_role,
  h.application, h.request_id, h.reason, h.cleared,
  CASE WHEN h.op = 'import' THEN NULL ELSE ${pairsSql('h.old_values')} END AS old_pairs,
  CASE WHEN h.op = 'import' THEN NULL ELSE ${pairsSql('h.new_values')} END AS new_pairs,
  CASE WHEN h.op = 'import' THEN h.new_values END AS imported`;

export interface Change {
  column: string;
  /** the field's display name (the column name when no field describes it) */
  name: string;
  field_id: number | null;
  old: unknown;
  new: unknown;
  old_text: string;
  new_text: string;
}

export interface Entry {
  id: number;
  at: Date;
  actor: string;
  op: EntryRow['op'];
  row_id: number | null;
  /** column -> {old, new}: updates list the changed columns only */
  changes: Record<string, { old: unknown; new: unknown }>;
  reason: string | null;
  request_id: string | null;
  db_role: string;
  application: string | null;
  /** an import entry: how many rows it added (one entry for the whole import) */
  imported?: number;
  /** for the console: the changes in display order, with field names and short texts */
  list: Change[];
}

/** Turns stored entries into what the API and the console show. */
export function describeEntries(rows: EntryRow[], resolver: ColumnResolver): Entry[] {
  const order = new Map(resolver.fields.map((f, i) => [f.column_name, f.trashed_at ? 10_000 + i : i]));
  return rows.map((r) => {
    const cols = new Map<string, { field?: FieldMeta; old?: JsonText; new?: JsonText }>();
    const put = (pairs: Array<[string, JsonText]> | null, side: 'old' | 'new') => {
      for (const [name, text] of pairs ?? []) {
        if (name === 'id' || SHADOW_COLUMN.test(name)) continue;
        const t = resolver.resolve(r.layout_id, name);
        const c = cols.get(t.column) ?? { field: t.field };
        c[side] = text;
        cols.set(t.column, c);
      }
    };
    put(r.old_pairs, 'old');
    put(r.new_pairs, 'new');
    const list: Change[] = [...cols.entries()]
      .sort(([a], [b]) => (order.get(a) ?? 20_000) - (order.get(b) ?? 20_000) || a.localeCompare(b))
      .map(([column, c]) => ({
        column,
        name: c.field?.name ?? column,
        field_id: c.field ? Number(c.field.id) : null,
        old: c.old === undefined ? null : apiValue(c.field, c.old),
        new: c.new === undefined ? null : apiValue(c.field, c.new),
        old_text: c.old === undefined ? '' : displayValue(c.field, c.old),
        new_text: c.new === undefined ? '' : displayValue(c.field, c.new),
      }));
    return {
      id: Number(r.id),
      at: r.at,
      actor: r.actor,
      op: r.op,
      row_id: r.row_id === null ? null : Number(r.row_id),
      changes: Object.fromEntries(list.map((c) => [c.column, { old: c.old, new: c.new }])),
      reason: r.reason,
      request_id: r.request_id,
      db_role: r.db_role,
      application: r.application,
      ...(r.op === 'import' && r.imported ? { imported: Number(r.imported.rows) } : {}),
      list,
    };
  });
}

/** The JSON of an entry (CONTRACT.md: {id, at, actor, op, changes}, and a few more facts). */
export function entryJson(e: Entry) {
  const { list: _list, ...rest } = e;
  return rest;
}

export interface PageRequest {
  before?: unknown;
  limit?: unknown;
}

export function parsePage(q: PageRequest): { before: number | null; limit: number } {
  let before: number | null = null;
  if (q.before !== undefined && q.before !== '') {
    if (typeof q.before !== 'string' || !/^\d{1,18}$/.test(q.before)) throw badRequest('before is the id of an entry (the previous page\'s next)', 'before');
    before = Number(q.before);
  }
  let limit = HISTORY_PAGE;
  if (q.limit !== undefined && q.limit !== '') {
    if (typeof q.limit !== 'string' || !/^\d{1,4}$/.test(q.limit) || Number(q.limit) < 1 || Number(q.limit) > MAX_HISTORY_PAGE) {
      throw badRequest(`limit is a whole number from 1 to ${MAX_HISTORY_PAGE}`, 'limit');
    }
    limit = Number(q.limit);
  }
  return { before, limit };
}

/**
 * One row's history, newest first: its own entries and the imports that added it. `next`
 * is the `before` of the following page, null on the last.
 */
export async function rowHistory(db: Queryable, tableId: number, rowId: number, page: { before: number | null; limit: number }, relationOid: number | null) {
  const { rows } = await db.query<EntryRow>(
    /* sql */ `SELECT * FROM (
        (SELECT ${ENTRY_COLUMNS} FROM tablewright.row_history h
          WHERE h.table_id = $1 AND h.row_id = $2 AND ($3::int8 IS NULL OR h.id < $3)
          ORDER BY h.id DESC LIMIT $4 + 1)
        UNION ALL
        (SELECT ${ENTRY_COLUMNS} FROM tablewright.row_history h
          WHERE h.table_id = $1 AND h.row_id IS NULL AND h.op = 'import' AND ($3::int8 IS NULL OR h.id < $3)
            AND EXISTS (SELECT 1 FROM jsonb_array_elements(h.new_values -> 'ids') r WHERE $2 BETWEEN (r ->> 0)::int8 AND (r ->> 1)::int8)
          ORDER BY h.id DESC LIMIT $4 + 1)
      ) e ORDER BY id DESC LIMIT $4 + 1`,
    [tableId, rowId, page.before, page.limit],
  );
  const more = rows.length > page.limit;
  const shown = more ? rows.slice(0, page.limit) : rows;
  const resolver = await ColumnResolver.load(db, tableId, shown.map((r) => r.layout_id), relationOid);
  const entries = describeEntries(shown, resolver);
  return { entries, next: more ? String(entries[entries.length - 1]!.id) : null };
}

/** A table's latest row changes, newest first (the table page's "recent changes"). */
export async function recentChanges(db: Queryable, tableId: number, page: { before: number | null; limit: number }) {
  const { rows } = await db.query<EntryRow>(
    /* sql */ `SELECT ${ENTRY_COLUMNS} FROM tablewright.row_history h
      WHERE h.table_id = $1 AND ($2::int8 IS NULL OR h.id < $2)
      ORDER BY h.id DESC LIMIT $3 + 1`,
    [tableId, page.before, page.limit],
  );
  const more = rows.length > page.limit;
  const shown = more ? rows.slice(0, page.limit) : rows;
  const resolver = await ColumnResolver.load(db, tableId, shown.map((r) => r.layout_id), null);
  const entries = describeEntries(shown, resolver);
  return { entries, next: more ? String(entries[entries.length - 1]!.id) : null };
}
