// Login throttling: failed attempts counted per account and per client address in a
// fixed window, in PostgreSQL (all instances share the counts). Only failures count, so
// a user who types the right password is never slowed down by their own address.
import { AppError } from '../errors.js';
import type { Queryable } from '../db/pool.js';

export interface LoginLimits {
  /** failed attempts allowed per account in a window */
  perAccount: number;
  /** failed attempts allowed per client address in a window */
  perAddress: number;
  windowSeconds: number;
}

export const accountKey = (email: string) => `account:${email.trim().toLowerCase().slice(0, 254)}`;
export const addressKey = (address: string) => `address:${address.slice(0, 100)}`;

/** Throws 429 (with the seconds to wait) when either key used up its failures. */
export async function assertNotThrottled(db: Queryable, keys: { account: string; address: string }, limits: LoginLimits): Promise<void> {
  const { rows } = await db.query<{ key: string; failures: number; retry_after: number }>(
    /* sql */ `SELECT key, failures,
                      ceil(extract(epoch FROM window_start + make_interval(secs => $2) - now()))::int AS retry_after
                 FROM tablewright.login_failures
                WHERE key = ANY ($1) AND window_start > now() - make_interval(secs => $2)`,
    [[keys.account, keys.address], limits.windowSeconds],
  );
  for (const row of rows) {
    const limit = row.key === keys.account ? limits.perAccount : limits.perAddress;
    if (row.failures >= limit) {
      throw new AppError(429, 'rate_limited', `too many failed logins; try again in ${Math.max(1, row.retry_after)} seconds`, undefined, {
        retry_after: Math.max(1, row.retry_after),
      });
    }
  }
}

export async function recordFailure(db: Queryable, keys: { account: string; address: string }, windowSeconds: number): Promise<void> {
  await db.query(
    /* sql */ `INSERT INTO tablewright.login_failures AS f (key, failures, window_start)
               SELECT k, 1, now() FROM unnest($1::text[]) AS k
               ON CONFLICT (key) DO UPDATE SET
                 failures     = CASE WHEN f.window_start > now() - make_interval(secs => $2) THEN f.failures + 1 ELSE 1 END,
                 window_start = CASE WHEN f.window_start > now() - make_interval(secs => $2) THEN f.window_start ELSE now() END`,
    [[keys.account, keys.address], windowSeconds],
  );
}

/** After a successful login: the account's count starts over; stale rows go. */
export async function clearFailures(db: Queryable, accountKeyValue: string, windowSeconds: number): Promise<void> {
  await db.query(
    /* sql */ `DELETE FROM tablewright.login_failures WHERE key = $1 OR window_start <= now() - make_interval(secs => $2)`,
    [accountKeyValue, windowSeconds],
  );
}
