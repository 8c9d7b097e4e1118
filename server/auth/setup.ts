// First run: while no account exists, each instance that starts makes a one-time setup
// link and logs it; whoever has the log can create the first admin. Creating that
// account deletes every setup token, so a link works once and only before any user.
import type pg from 'pg';
import { AppError } from '../errors.js';
import { withTransaction } from '../db/tx.js';
import { randomSecret, sha256 } from './secret.js';
import { anyUser, createUser, type User } from './users.js';

/** Key of the advisory lock that makes "no user yet -> create the first admin" atomic. */
const SETUP_LOCK_KEY = 0x7477736574757021n;

/** A new setup token when no user exists yet; undefined once there is one. */
export async function createSetupToken(pool: pg.Pool): Promise<string | undefined> {
  if (await anyUser(pool)) return undefined;
  const token = randomSecret();
  await pool.query(/* sql */ `INSERT INTO tablewright.setup_tokens (token_hash) VALUES ($1)`, [sha256(token)]);
  return token;
}

export async function setupTokenValid(pool: pg.Pool, token: unknown): Promise<boolean> {
  if (typeof token !== 'string' || token.length === 0 || token.length > 200) return false;
  const { rows } = await pool.query(/* sql */ `SELECT 1 FROM tablewright.setup_tokens WHERE token_hash = $1`, [sha256(token)]);
  return rows.length > 0 && !(await anyUser(pool));
}

/** Creates the first admin with a valid setup token; 403 for a wrong or used token. */
export async function completeSetup(pool: pg.Pool, token: unknown, input: { email: unknown; password: unknown }): Promise<User> {
  return withTransaction(pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK_KEY.toString()]);
    if (await anyUser(tx)) throw new AppError(409, 'setup_done', 'setup is already done: sign in instead');
    const valid =
      typeof token === 'string' &&
      token.length > 0 &&
      token.length <= 200 &&
      (await tx.query(/* sql */ `SELECT 1 FROM tablewright.setup_tokens WHERE token_hash = $1`, [sha256(token)])).rows.length > 0;
    if (!valid) throw new AppError(403, 'invalid_setup_token', 'this setup link is not valid; use the link printed in the daemon log', 'token');
    const user = await createUser(tx, { email: input.email, role: 'admin', password: input.password }, 'setup');
    await tx.query(/* sql */ `DELETE FROM tablewright.setup_tokens`);
    return user;
  });
}
