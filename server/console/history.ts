// The History page: the audit log (tablewright.audit) as a timeline, newest first, one
// keyset page at a time (sql/queries/audit_history.sql), optionally for one table.
import type { Queryable } from '../db/pool.js';
import { badRequest } from '../errors.js';
import { consoleQuery } from './sql.js';

export const DEFAULT_HISTORY_LIMIT = 50;
export const MAX_HISTORY_LIMIT = 200;

export interface HistoryEntry {
  id: number;
  at: Date;
  actor: string;
  operation: string;
  table_id: number | null;
  /** the table's current display name (null when it was purged since) */
  table_name: string | null;
  field_id: number | null;
  field_name: string | null;
  version: number | null;
  ddl: string;
  details: Record<string, unknown>;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  /** the `before` of the next (older) page, or null on the last page */
  next: number | null;
}

export interface HistoryQuery {
  tableId: number | null;
  before: number | null;
  limit: number;
}

const positive = (v: unknown, field: string): number | null => {
  const s = Array.isArray(v) ? v[v.length - 1] : v;
  if (s === undefined || s === null || s === '') return null;
  if (typeof s !== 'string' && typeof s !== 'number') throw badRequest(`${field} must be a positive whole number`, field);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 1) throw badRequest(`${field} must be a positive whole number`, field);
  return n;
};

/** ?table=ID&before=ID&limit=N, validated (400 naming the parameter otherwise). */
export function historyQuery(q: Record<string, unknown>): HistoryQuery {
  const limit = positive(q.limit, 'limit') ?? DEFAULT_HISTORY_LIMIT;
  if (limit > MAX_HISTORY_LIMIT) throw badRequest(`limit must be at most ${MAX_HISTORY_LIMIT}`, 'limit');
  return { tableId: positive(q.table, 'table'), before: positive(q.before, 'before'), limit };
}

export async function listHistory(db: Queryable, q: HistoryQuery): Promise<HistoryPage> {
  const { rows } = await db.query<HistoryEntry>(consoleQuery('audit_history'), [q.tableId, q.before, q.limit + 1]);
  const more = rows.length > q.limit;
  const entries = more ? rows.slice(0, q.limit) : rows;
  return { entries, next: more ? entries[entries.length - 1]!.id : null };
}

/** How the timeline says what an operation did ("added field", ...). */
const LABELS: Record<string, string> = {
  create_table: 'created the table',
  rename_table: 'renamed the table',
  trash_table: 'moved the table to the trash',
  restore_table: 'restored the table',
  purge_table: 'purged the table',
  add_field: 'added a field',
  update_field: 'changed a field',
  trash_field: 'moved a field to the trash',
  restore_field: 'restored a field',
  purge_field: 'purged a field',
  reorder_fields: 'reordered the fields',
  rebuild_table: 'rebuilt the table',
  adopt_table: 'adopted a table',
  adopt_field: 'adopted a column',
};

export function operationLabel(op: string): string {
  return LABELS[op] ?? op.replace(/_/g, ' ');
}

const OP_WORDS: Record<string, string> = {
  rename_field: 'renamed',
  change_field: 'options changed',
  set_not_null: 'now required',
  drop_not_null: 'no longer required',
  set_unique: 'now unique',
  drop_unique: 'no longer unique',
  create_index: 'indexed',
  drop_index: 'index dropped',
  set_default: 'default set',
  drop_default: 'default dropped',
};

/** A one-line summary of an audit row's details, for the timeline (the JSON has them all). */
export function detailsSummary(e: Pick<HistoryEntry, 'operation' | 'details'>): string {
  const d = (e.details ?? {}) as Record<string, any>;
  const s = (v: unknown): string =>
    typeof v === 'string' || typeof v === 'number' ? String(v) : v && typeof v === 'object' && 'name' in v ? String((v as { name: unknown }).name) : '';
  const parts: string[] = [];
  if ((e.operation === 'rename_table' || e.operation.endsWith('_rename')) && d.from && d.to) parts.push(`${s(d.from)} → ${s(d.to)}`);
  if (d.renamed && typeof d.renamed === 'object') parts.push(`renamed ${s(d.renamed.from)} → ${s(d.renamed.to)}`);
  if (d.type_change && typeof d.type_change === 'object') {
    const t = d.type_change;
    parts.push(`type ${s(t.from)} → ${s(t.to)}${t.lost ? `, ${s(t.lost)} value${t.lost === 1 ? '' : 's'} kept in the trash` : ''}`);
  }
  if (Array.isArray(d.ops)) for (const op of d.ops) if (op !== 'rename_field' && !(op === 'change_field' && d.type_change)) parts.push(OP_WORDS[op] ?? String(op).replace(/_/g, ' '));
  if (e.operation === 'add_field' && d.type) parts.push(`type ${s(d.type)}`);
  else if (parts.length === 0 && d.name) parts.push(s(d.name));
  return parts.join('; ');
}
