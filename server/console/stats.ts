// Figures for the tables page: rows, size on disk, last schema change. Rows are exact
// where counting is cheap and PostgreSQL's estimate where it is not, the way the rows
// listing counts (server/model/rows.ts countRows): a page that lists thousands of tables
// must never scan a big one.
import type pg from 'pg';
import { ident, identFromCatalog } from '../db/ident.js';
import { consoleQuery } from './sql.js';

/** Tables whose heap is at most this big are counted exactly (a count(*) reads the heap). */
export const EXACT_COUNT_BYTES = 8 * 1024 * 1024;
/** At most this many exact counts per page view; the rest show the estimate. */
export const MAX_EXACT_COUNTS = 200;
/** The exact counts together may take this long; past it every table shows its estimate. */
export const COUNT_TIMEOUT_MS = 2000;

export interface TableStats {
  /** rows: exact, or PostgreSQL's estimate; null when neither is known (never analyzed and big) */
  rows: number | null;
  rows_exact: boolean;
  /** pg_total_relation_size: heap, indexes and TOAST */
  size_bytes: number | null;
  /** the same, as pg_size_pretty prints it */
  size: string | null;
  /** false when PostgreSQL has no table of that name (drift) */
  found: boolean;
  last_change_at: Date | null;
  last_change_by: string | null;
  last_change_op: string | null;
}

interface StatsRow {
  id: number;
  oid: number | null;
  estimate: number | null;
  heap_bytes: number | null;
  total_bytes: number | null;
  size: string | null;
  last_change_at: Date | null;
  last_change_by: string | null;
  last_change_op: string | null;
}

/** Figures for the given live tables, by table id (tables PostgreSQL lacks have found: false). */
export async function tableStats(pool: pg.Pool, dataSchema: string, tables: Array<{ id: number; table_name: string }>): Promise<Map<number, TableStats>> {
  const out = new Map<number, TableStats>();
  if (tables.length === 0) return out;
  const { rows } = await pool.query<StatsRow>(consoleQuery('table_stats'), [dataSchema, tables.map((t) => t.id)]);
  const nameOf = new Map(tables.map((t) => [t.id, t.table_name]));
  for (const r of rows) {
    const known = r.estimate !== null && r.estimate >= 0;
    out.set(r.id, {
      rows: known ? r.estimate : null,
      rows_exact: false,
      size_bytes: r.total_bytes,
      size: r.size,
      found: r.oid !== null,
      last_change_at: r.last_change_at,
      last_change_by: r.last_change_by,
      last_change_op: r.last_change_op,
    });
  }

  const small = rows.filter((r) => r.oid !== null && r.heap_bytes !== null && r.heap_bytes <= EXACT_COUNT_BYTES).slice(0, MAX_EXACT_COUNTS);
  if (small.length === 0) return out;
  // One statement for all the small tables: one round trip, one timeout.
  const sql = small
    .map((r) => `SELECT ${Number(r.id)}::int8 AS id, count(*)::int8 AS n FROM ${ident(dataSchema, 'schema')}.${identFromCatalog(nameOf.get(r.id)!)}`)
    .join('\nUNION ALL\n');
  const client = await pool.connect();
  try {
    await client.query('BEGIN READ ONLY');
    await client.query(`SELECT set_config('statement_timeout', $1, true)`, [`${COUNT_TIMEOUT_MS}ms`]);
    try {
      const counted = await client.query<{ id: number; n: number }>(sql);
      for (const c of counted.rows) {
        const s = out.get(c.id);
        if (s) Object.assign(s, { rows: c.n, rows_exact: true });
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      // Out of time, or a table dropped or renamed meanwhile: the estimates stand.
      const code = (err as { code?: string }).code;
      if (code !== '57014' && code !== '42P01') throw err;
    }
  } finally {
    client.release();
  }
  return out;
}
