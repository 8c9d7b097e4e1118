// After a row write commits, tell every instance (and so every console watching that
// table) through NOTIFY. Fire and forget: the write already happened, the answer does not
// wait for this, and a lost announcement costs a grid refresh, nothing more.
import type pg from 'pg';
import { ROWS_CHANNEL, type RowsChange } from '../bus/index.js';
import type { Logger } from '../log.js';

/** What is announced is what every listener parses back (server/bus/payload.ts). */
export type RowsAnnouncement = RowsChange;

export function announceRows(pool: pg.Pool, log: Logger, a: RowsAnnouncement): void {
  const payload = {
    table_id: a.tableId,
    op: a.op,
    actor: a.actor,
    ...(a.rowIds && a.rowIds.length <= 100 ? { row_ids: a.rowIds } : {}),
    ...(a.instance ? { instance: a.instance } : {}),
    ...(a.requestId ? { request_id: a.requestId } : {}),
  };
  pool.query('SELECT pg_notify($1, $2)', [ROWS_CHANNEL, JSON.stringify(payload)]).catch((err) => log.warn({ err, tableId: a.tableId }, 'row change not announced'));
}
