// After a row write commits, tell every instance (and so every console watching that
// table) through NOTIFY. Fire and forget: the write already happened, the answer does not
// wait for this, and a lost announcement costs a grid refresh, nothing more.
//
// Announcements are sent after the write's commit, never from the write's own
// transaction: PostgreSQL serialises the commits of all transactions that NOTIFY (one
// global lock, held across the commit's WAL flush), so a pg_notify in every row write
// made concurrent writes commit one at a time (bench http: creates at concurrency 8 ran
// at a third of the speed). Instead each pool has one announcer: an announcement goes
// out at once when none is in flight, and those that arrive meanwhile go together in the
// next statement, ANNOUNCE_GAP_MS after it (one payload each, as before, so listeners see
// no difference). Only writes that committed are announced; their order is kept.
import type pg from 'pg';
import { ROWS_CHANNEL, type RowsChange } from '../bus/index.js';
import type { Logger } from '../log.js';

/** What is announced is what every listener parses back (server/bus/payload.ts). */
export type RowsAnnouncement = RowsChange;

/** Most payloads one NOTIFY statement carries (each is well under NOTIFY's 8,000 bytes). */
export const MAX_BATCH = 500;

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

/** A logger, or how to get one: a request's logger is made only if a warning needs it. */
type LogSource = Logger | (() => Logger);
const loggerOf = (log: LogSource): Logger => (typeof log === 'function' ? log() : log);

interface Announcer {
  pending: Array<{ payload: string; log: LogSource; tableId: number }>;
  inFlight: boolean;
}

const announcers = new WeakMap<pg.Pool, Announcer>();

// One statement for the batch, in order: one pg_notify per payload.
const NOTIFY_ALL = /* sql */ `SELECT count(pg_notify($1, p.payload)) FROM unnest($2::text[]) AS p(payload)`;

/**
 * After a statement, those that arrived while it ran wait this long before the next goes:
 * under a steady stream of writes the announcements go in batches at most this often
 * (each NOTIFY statement is a transaction that commits, and its commit record is flushed:
 * one per row write, at hundreds of writes a second, cost PostgreSQL as much as the
 * writes' own commits), while a write after a quiet moment is announced at once.
 */
export const ANNOUNCE_GAP_MS = 10;

function send(pool: pg.Pool, a: Announcer): void {
  if (a.inFlight || a.pending.length === 0) return;
  if ((pool as { ending?: boolean }).ending) {
    // flushAnnouncements() ran before the pool ended, so these came after it: said, not dropped silently
    if (a.pending.length) loggerOf(a.pending[0]!.log).warn({ lost: a.pending.length }, 'row changes not announced: the instance is shutting down');
    a.pending.length = 0;
    return;
  }
  const batch = a.pending.splice(0, MAX_BATCH);
  a.inFlight = true;
  pool
    .query(NOTIFY_ALL, [ROWS_CHANNEL, batch.map((b) => b.payload)])
    .catch((err) => loggerOf(batch[0]!.log).warn({ err, tableIds: [...new Set(batch.map((b) => b.tableId))], lost: batch.length }, 'row change not announced'))
    .finally(() => {
      if (a.pending.length === 0) {
        a.inFlight = false;
        return;
      }
      setTimeout(() => {
        a.inFlight = false;
        send(pool, a);
      }, ANNOUNCE_GAP_MS).unref();
    });
}

export function announceRows(pool: pg.Pool, log: LogSource, a: RowsAnnouncement): void {
  let announcer = announcers.get(pool);
  if (!announcer) announcers.set(pool, (announcer = { pending: [], inFlight: false }));
  announcer.pending.push({ payload: JSON.stringify(announcementPayload(a)), log, tableId: a.tableId });
  send(pool, announcer);
}

/**
 * Waits (at most `timeoutMs`) until every announcement made so far has gone out: an instance
 * that stops sends what its last writes announced before it closes its pool.
 */
export async function flushAnnouncements(pool: pg.Pool, timeoutMs = 2000): Promise<void> {
  const a = announcers.get(pool);
  const deadline = Date.now() + timeoutMs;
  while (a && (a.inFlight || a.pending.length) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}
