// A transaction that holds a transaction id (it has written) and stays open, in any database
// of the cluster, keeps every row version the online copy leaves behind: its id is in every
// snapshot, and PostgreSQL then prunes none of the waves' old versions (README, "Online
// schema changes": 0 of 75,000 updates HOT against 49,523, PostgreSQL 15). Nothing goes
// wrong, but every row the copy updates moves, with a new entry in every index: the copy
// writes the table about twice and takes longer. The copy names such a transaction in its
// job's phase and in the log, so that a DBA can end it.
import type { Queryable } from '../../db/pool.js';

/** How long a writing transaction must have been open to be named. */
export const HOLDER_MIN_AGE_S = 5;

export interface CleanupHolder {
  pid: number;
  database: string | null;
  since: Date;
}

/**
 * The oldest transaction of the cluster that holds a transaction id, began before `since`
 * and has been open HOLDER_MIN_AGE_S or more. Only sessions the connected role may see in
 * pg_stat_activity (its own role's; all with pg_read_all_stats): none else is named.
 */
export async function cleanupHolder(db: Queryable, since: Date): Promise<CleanupHolder | null> {
  const { rows } = await db.query<CleanupHolder>(
    /* sql */ `SELECT pid, datname AS database, xact_start AS since FROM pg_stat_activity
      WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
        AND xact_start < least($1::timestamptz, now() - make_interval(secs => $2))
      ORDER BY xact_start LIMIT 1`,
    [since, HOLDER_MIN_AGE_S],
  );
  return rows[0] ?? null;
}

/** The phase a copy shows while such a transaction is open. */
export function heldPhase(phase: string, h: CleanupHolder): string {
  return `${phase}; slowed by a transaction open since ${h.since.toISOString()} (pid ${h.pid}${h.database ? `, database ${h.database}` : ''}): while it stays open every copied row moves to another page`;
}
