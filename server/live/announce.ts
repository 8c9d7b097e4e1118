// After a row write commits, tell every instance (and so every console watching that
// table) through NOTIFY. Fire and forget: the write already happened, the answer does not
// wait for this, and a lost announcement costs a grid refresh, nothing more.
import type pg from 'pg';
import { ROWS_CHANNEL, type RowsChange } from '../bus/index.js';
import type { Logger } from '../log.js';

/** What is announced is what every listener parses back (server/bus/payload.ts). */
export type RowsAnnouncement = RowsChange;

/** The payload every listener parses back (server/bus/payload.ts). */
export function announcementPayload(a: RowsAnnouncement): Record<string, unknown> {
  return {
    table_id: a.tableId,
    op: a.op,
    actor: a.actor,
    ...(a.rowIds && a.rowIds.length <= 100 ? { row_ids: a.rowIds } : {}),
    ...(a.instance ? { instance: a.instance } : {}),
    ...(a.requestId ? { request_id: a.requestId } : {}),
  };
}

export function announceRows(pool: pg.Pool, log: Logger, a: RowsAnnouncement): void {
  pool.query('SELECT pg_notify($1, $2)', [ROWS_CHANNEL, JSON.stringify(announcementPayload(a))]).catch((err) => log.warn({ err, tableId: a.tableId }, 'row change not announced'));
}

/**
 * A single-row write's announcement, sent by the write statement itself (rows.ts adds a
 * pg_notify to its select list with the row's id): no statement of its own, and like
 * every NOTIFY it is delivered when, and only if, the write commits.
 */
export interface InlineAnnouncement {
  channel: string;
  /** the payload without row_ids (the statement adds the row's id) */
  payload: Record<string, unknown>;
}

export function inlineAnnouncement(a: Omit<RowsAnnouncement, 'rowIds'>): InlineAnnouncement {
  return { channel: ROWS_CHANNEL, payload: announcementPayload(a) };
}
