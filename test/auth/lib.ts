// Helpers for the account and security tests: users and sessions made through the
// domain functions (fast, no scrypt per request), and logins over real HTTP.
import type { Instance } from '../../server/main.js';
import type { Role } from '../../server/auth/roles.js';
import { createSession } from '../../server/auth/sessions.js';
import { createUser } from '../../server/auth/users.js';
import { SESSION_COOKIE } from '../../server/web/auth.js';
import type { TestApp, TestResponse } from '../helpers/app.js';

export const PASSWORD = 'correct horse battery staple';

export async function addUser(app: Instance, email: string, role: Role, password = PASSWORD): Promise<number> {
  return (await createUser(app.ctx.pool, { email, role, password }, 'test')).id;
}

export interface Session {
  /** the Cookie header value */
  cookie: string;
  csrf: string;
}

/** A session for a user, made directly in the database (as a login would). */
export async function sessionFor(app: Instance, userId: number): Promise<Session> {
  const s = await createSession(app.ctx.pool, userId, { ttlSeconds: 3600 });
  return { cookie: `${SESSION_COOKIE}=${s.id}`, csrf: s.csrfToken };
}

/** The session cookie a response set ('tw_session=...'), or undefined. */
export function sessionCookie(res: TestResponse): string | undefined {
  const line = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  return line?.split(';')[0];
}

export async function login(app: TestApp, email: string, password = PASSWORD): Promise<Session> {
  const res = await app.request('POST', '/login', { auth: false, json: { email, password } });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  return { cookie: sessionCookie(res)!, csrf: res.body.csrf_token };
}

/**
 * What a browser holds before it has a session, from the sign-in (or setup) page: the
 * pre-session cookie ('tw_presession=...') and the token its form repeats as _csrf.
 */
export async function formToken(app: TestApp, path = '/login'): Promise<{ cookie: string; csrf: string }> {
  const res = await app.request('GET', path, { auth: false });
  const line = res.headers.getSetCookie().find((c) => c.startsWith('tw_presession='));
  if (!line || typeof res.body?.csrf_token !== 'string') throw new Error(`no form token from ${path}: ${res.status} ${res.text}`);
  return { cookie: line.split(';')[0]!, csrf: res.body.csrf_token };
}
