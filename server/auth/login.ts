// Password login: an attempt reserved (or 429), the password checked, then a new session.
import type pg from 'pg';
import { badRequest } from '../errors.js';
import { accountKey, addressKey, releaseAttempt, reserveAttempt, type LoginLimits } from './ratelimit.js';
import { createSession, deleteExpiredSessions, type NewSession } from './sessions.js';
import { checkPassword, invalidCredentials, recordLogin, type User } from './users.js';

export interface LoginInput {
  email: unknown;
  password: unknown;
  address: string;
  userAgent?: string;
}

export async function login(
  db: pg.Pool,
  input: LoginInput,
  opts: { limits: LoginLimits; ttlSeconds: number },
): Promise<{ user: User; session: NewSession }> {
  if (typeof input.email !== 'string' || input.email.trim() === '') throw badRequest('an email address is required', 'email');
  if (typeof input.password !== 'string' || input.password === '') throw badRequest('a password is required', 'password');
  // A NUL byte cannot be in a stored email (PostgreSQL text refuses it): no such account.
  if (input.email.length > 254 || input.password.length > 1024 || input.email.includes('\0')) throw invalidCredentials();
  const keys = { account: accountKey(input.email), address: addressKey(input.address) };
  // Reserved before the (slow, scrypt) check: a burst of attempts cannot all be checked.
  await reserveAttempt(db, keys, opts.limits);
  const user = await checkPassword(db, input.email.trim(), input.password);
  // A failure keeps its reservation: it is what the window counts.
  if (!user) throw invalidCredentials();
  await releaseAttempt(db, keys, opts.limits.windowSeconds);
  await deleteExpiredSessions(db);
  await recordLogin(db, user.id);
  const session = await createSession(db, user.id, { ttlSeconds: opts.ttlSeconds, address: input.address, userAgent: input.userAgent });
  return { user, session };
}
