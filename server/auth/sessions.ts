// Console sessions, in PostgreSQL so that every instance on the database knows them.
// The cookie holds a random id; the table holds its SHA-256. Expiry slides: a session
// used at least once per TTL stays alive; one left alone expires.
import type { Queryable } from '../db/pool.js';
import type { Caller } from './caller.js';
import type { Role } from './roles.js';
import { randomSecret, sha256 } from './secret.js';

export interface NewSession {
  /** the cookie value: give it to the browser, never store or log it */
  id: string;
  csrfToken: string;
  expiresAt: Date;
}

export async function createSession(
  db: Queryable,
  userId: number,
  opts: { ttlSeconds: number; address?: string; userAgent?: string },
): Promise<NewSession> {
  const id = randomSecret();
  const csrfToken = randomSecret();
  const { rows } = await db.query<{ expires_at: Date }>(
    /* sql */ `INSERT INTO tablewright.sessions (id_hash, user_id, csrf_token, expires_at, address, user_agent)
               VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5, $6) RETURNING expires_at`,
    [sha256(id), userId, csrfToken, opts.ttlSeconds, opts.address?.slice(0, 100) ?? null, opts.userAgent?.slice(0, 300) ?? null],
  );
  return { id, csrfToken, expiresAt: rows[0]!.expires_at };
}

/**
 * The user behind a session cookie, or undefined when it is unknown or expired. Extends
 * the expiry when less than half the TTL is left (one write per half-TTL, not per request).
 */
export async function resolveSession(db: Queryable, id: string, ttlSeconds: number): Promise<Caller | undefined> {
  if (id.length === 0 || id.length > 200) return undefined;
  const idHash = sha256(id);
  const { rows } = await db.query<{ user_id: number; email: string; role: Role; csrf_token: string; renew: boolean }>(
    /* sql */ `SELECT s.user_id, u.email, u.role, s.csrf_token,
                      s.expires_at < now() + make_interval(secs => $2 / 2.0) AS renew
                 FROM tablewright.sessions s JOIN tablewright.users u ON u.id = s.user_id
                WHERE s.id_hash = $1 AND s.expires_at > now()`,
    [idHash, ttlSeconds],
  );
  const row = rows[0];
  if (!row) return undefined;
  if (row.renew) {
    await db.query(
      /* sql */ `UPDATE tablewright.sessions SET expires_at = now() + make_interval(secs => $2), last_seen_at = now() WHERE id_hash = $1`,
      [idHash, ttlSeconds],
    );
  }
  return { kind: 'user', id: row.user_id, name: row.email, role: row.role, session: { idHash, csrfToken: row.csrf_token } };
}

export async function deleteSession(db: Queryable, idHash: Buffer): Promise<void> {
  await db.query(/* sql */ `DELETE FROM tablewright.sessions WHERE id_hash = $1`, [idHash]);
}

/** Housekeeping, run now and then (at each login): expired sessions are useless rows. */
export async function deleteExpiredSessions(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(/* sql */ `DELETE FROM tablewright.sessions WHERE expires_at <= now()`);
  return rowCount ?? 0;
}
