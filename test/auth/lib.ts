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
