// Login throttling: attempts counted per account and per client address in a fixed window,
// in PostgreSQL (all instances share the counts). An attempt is reserved before its
// password is checked, so that at most the limit is ever checked per window, however many
// attempts arrive at once and on however many instances; a successful login gives its
// attempt back (the account's count starts over), so a user who types the right password
// is never slowed down by their own address.
import type pg from 'pg';
import { withTransaction } from '../db/tx.js';
import { AppError } from '../errors.js';
import type { Queryable } from '../db/pool.js';

export interface LoginLimits {
  /** password checks allowed per account in a window (failures, and attempts under way) */
  perAccount: number;
  /** password checks allowed per client address in a window (any accounts) */
  perAddress: number;
  windowSeconds: number;
}

export interface LoginKeys {
  account: string;
  address: string;
}

export const accountKey = (email: string) => `account:${email.trim().toLowerCase().slice(0, 254)}`;
export const addressKey = (address: string) => `address:${address.slice(0, 100)}`;

/**
 * Takes one attempt from the account's and the address's allowance, both or neither, before
 * the password is checked. Each key's row is locked by its upsert until the transaction
 * ends, so concurrent attempts queue on it (the account's first, then the address's, in
 * that order everywhere: no deadlock). Throws 429 with the seconds to wait when either has
 * none left; the refused attempt takes nothing.
 */
export async function reserveAttempt(pool: pg.Pool, keys: LoginKeys, limits: LoginLimits): Promise<void> {
  await withTransaction(pool, async (tx) => {
    for (const [key, limit] of [[keys.account, limits.perAccount], [keys.address, limits.perAddress]] as const) {
      const { rows } = await tx.query<{ attempts: number }>(
        /* sql */ `INSERT INTO tablewright.login_failures AS f (key, failures, window_start) VALUES ($1, 1, now())
                   ON CONFLICT (key) DO UPDATE SET
                     failures     = CASE WHEN f.window_start > now() - make_interval(secs => $2) THEN f.failures + 1 ELSE 1 END,
                     window_start = CASE WHEN f.window_start > now() - make_interval(secs => $2) THEN f.window_start ELSE now() END
                   WHERE f.window_start <= now() - make_interval(secs => $2) OR f.failures < $3
                   RETURNING failures AS attempts`,
        [key, limits.windowSeconds, limit],
      );
      if (rows[0]) continue;
      const { rows: wait } = await tx.query<{ retry_after: number }>(
        /* sql */ `SELECT ceil(extract(epoch FROM window_start + make_interval(secs => $2) - now()))::int AS retry_after
                     FROM tablewright.login_failures WHERE key = $1`,
        [key, limits.windowSeconds],
      );
      const retryAfter = Math.max(1, wait[0]?.retry_after ?? 1);
      throw new AppError(429, 'rate_limited', `too many failed logins; try again in ${retryAfter} seconds`, undefined, { retry_after: retryAfter });
    }
  });
}

/**
 * After a successful login: the account's count starts over, the address gets its attempt
 * back, and rows of windows that have ended go.
 */
export async function releaseAttempt(db: Queryable, keys: LoginKeys, windowSeconds: number): Promise<void> {
  await db.query(
    /* sql */ `WITH released AS (
                 UPDATE tablewright.login_failures SET failures = failures - 1 WHERE key = $2 AND failures > 0)
               DELETE FROM tablewright.login_failures WHERE key = $1 OR window_start <= now() - make_interval(secs => $3)`,
    [keys.account, keys.address, windowSeconds],
  );
}
