// Console accounts. Emails are unique without regard to case; passwords are stored as
// scrypt hashes only.
import type pg from 'pg';
import { AppError, conflict, notFound } from '../errors.js';
import type { Queryable } from '../db/pool.js';
import { withTransaction } from '../db/tx.js';
import type { Role } from './roles.js';
import { dummyPasswordHash, hashPassword, verifyPassword } from './secret.js';
import { parseEmail, parsePassword, parseRole } from './validate.js';

export interface User {
  id: number;
  email: string;
  role: Role;
  created_at: Date;
  created_by: string | null;
  last_login_at: Date | null;
}

const COLUMNS = 'id, email, role, created_at, created_by, last_login_at';

export async function anyUser(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ any: boolean }>(/* sql */ `SELECT EXISTS (SELECT 1 FROM tablewright.users) AS any`);
  return rows[0]!.any;
}

export async function listUsers(db: Queryable): Promise<User[]> {
  const { rows } = await db.query<User>(/* sql */ `SELECT ${COLUMNS} FROM tablewright.users ORDER BY lower(email)`);
  return rows;
}

export async function getUser(db: Queryable, id: number): Promise<User> {
  const { rows } = await db.query<User>(/* sql */ `SELECT ${COLUMNS} FROM tablewright.users WHERE id = $1`, [id]);
  if (!rows[0]) throw notFound('user');
  return rows[0];
}

export interface NewUser {
  email: unknown;
  role: unknown;
  password: unknown;
}

export async function createUser(db: Queryable, input: NewUser, actor: string): Promise<User> {
  const email = parseEmail(input.email);
  const role = parseRole(input.role);
  const password = parsePassword(input.password);
  const hash = await hashPassword(password);
  try {
    const { rows } = await db.query<User>(
      /* sql */ `INSERT INTO tablewright.users (email, role, password_hash, created_by) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
      [email, role, hash, actor],
    );
    return rows[0]!;
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw conflict('email_taken', `a user with the email ${email} already exists`, 'email');
    throw err;
  }
}

export interface UserChange {
  role?: unknown;
  password?: unknown;
}

/**
 * Key of the advisory lock held by every change that can take away an admin (a demotion, a
 * removal): checking "another admin remains" and making the change are one step, so two
 * such changes at once, on any instances, can never leave no admin.
 */
const ADMIN_SET_LOCK_KEY = 0x7477616d696e7321n;

/** Runs `fn` with the admin set locked and the user's row read afresh (locked) inside. */
async function withAdminsLocked<T>(pool: pg.Pool, id: number, fn: (tx: pg.PoolClient, user: User) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADMIN_SET_LOCK_KEY.toString()]);
    const { rows } = await tx.query<User>(/* sql */ `SELECT ${COLUMNS} FROM tablewright.users WHERE id = $1 FOR UPDATE`, [id]);
    if (!rows[0]) throw notFound('user');
    return fn(tx, rows[0]);
  });
}

/**
 * Changes a user's role and/or password. A new password ends the user's sessions; the
 * last admin cannot be demoted (nobody could manage accounts any more).
 */
export async function updateUser(pool: pg.Pool, id: number, change: UserChange): Promise<User> {
  const role = change.role === undefined || change.role === '' ? undefined : parseRole(change.role);
  const password = change.password === undefined || change.password === '' ? undefined : parsePassword(change.password);
  await getUser(pool, id);
  // scrypt before the lock: the lock is held for the check and the write only
  const hash = password ? await hashPassword(password) : null;
  return withAdminsLocked(pool, id, async (tx, user) => {
    if (role && role !== 'admin' && user.role === 'admin') await assertNotLastAdmin(tx, id);
    const { rows } = await tx.query<User>(
      /* sql */ `UPDATE tablewright.users
                    SET role = coalesce($2, role), password_hash = coalesce($3, password_hash), updated_at = now()
                  WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, role ?? null, hash],
    );
    if (hash) await tx.query(/* sql */ `DELETE FROM tablewright.sessions WHERE user_id = $1`, [id]);
    return rows[0]!;
  });
}

/** Deletes a user and (by cascade) their sessions. The last admin cannot be removed. */
export async function removeUser(pool: pg.Pool, id: number): Promise<User> {
  return withAdminsLocked(pool, id, async (tx, user) => {
    if (user.role === 'admin') await assertNotLastAdmin(tx, id);
    await tx.query(/* sql */ `DELETE FROM tablewright.users WHERE id = $1`, [id]);
    return user;
  });
}

/** Inside withAdminsLocked(): the count cannot change before the caller's write commits. */
async function assertNotLastAdmin(db: Queryable, id: number): Promise<void> {
  const { rows } = await db.query<{ n: number }>(
    /* sql */ `SELECT count(*)::int AS n FROM tablewright.users WHERE role = 'admin' AND id <> $1`,
    [id],
  );
  if (rows[0]!.n === 0) throw conflict('last_admin', 'this is the last admin account; make another user admin first');
}

/**
 * The user with this email and password, or undefined. Costs one scrypt either way, so
 * the answer time does not tell whether the account exists.
 */
export async function checkPassword(db: Queryable, email: string, password: string): Promise<User | undefined> {
  const { rows } = await db.query<User & { password_hash: string }>(
    /* sql */ `SELECT ${COLUMNS}, password_hash FROM tablewright.users WHERE lower(email) = lower($1)`,
    [email],
  );
  const row = rows[0];
  const ok = await verifyPassword(password, row?.password_hash ?? (await dummyPasswordHash()));
  if (!row || !ok) return undefined;
  const { password_hash: _hash, ...user } = row;
  return user;
}

export async function recordLogin(db: Queryable, id: number): Promise<void> {
  await db.query(/* sql */ `UPDATE tablewright.users SET last_login_at = now() WHERE id = $1`, [id]);
}

export const invalidCredentials = () => new AppError(401, 'invalid_credentials', 'the email or password is not right');
