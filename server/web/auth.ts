// The security layer every route goes through: resolveCaller() finds who is calling
// (a bearer token or the session cookie), authorize(access) enforces the route's rule.
// Roles nest: admin > editor > viewer; 'public' routes need no credentials.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { actorName, type Caller } from '../auth/caller.js';
import { allows } from '../auth/roles.js';
import { randomSecret } from '../auth/secret.js';
import { resolveSession } from '../auth/sessions.js';
import { resolveToken } from '../auth/tokens.js';
import { anyUser } from '../auth/users.js';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { answerKind } from './negotiate.js';
import type { Access } from './route.js';
import { bindActor } from './request_log.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** who is calling; undefined for anonymous requests */
      caller?: Caller;
      /** why credentials that were sent did not identify anyone */
      authProblem?: string;
    }
  }
}

export const SESSION_COOKIE = 'tw_session';
/** Before a session exists: the secret the sign-in and setup forms echo back (login CSRF). */
export const PRESESSION_COOKIE = 'tw_presession';
const ACCESS = new Set<Access>(['public', 'viewer', 'editor', 'admin']);

/** Cookies by hand: one header, name=value pairs; values may be URI-encoded. */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function cookieSecure(ctx: AppContext, req: Request): boolean {
  return ctx.config.cookieSecure === 'auto' ? req.secure : ctx.config.cookieSecure;
}

export function setSessionCookie(ctx: AppContext, req: Request, res: Response, id: string): void {
  res.cookie(SESSION_COOKIE, id, {
    httpOnly: true,
    sameSite: 'lax',
    secure: cookieSecure(ctx, req),
    path: '/',
    maxAge: ctx.config.sessionTtlSeconds * 1000,
  });
}

/**
 * The token of the sign-in and setup forms for a caller without a session: a random value
 * in an HttpOnly, SameSite=Lax cookie that the form repeats as `_csrf` (double submit). A
 * page on another site can neither read it nor make the browser send it with a POST, so
 * it cannot sign a victim in as someone else, in browsers without Sec-Fetch-Site too.
 */
export function preSessionToken(ctx: AppContext, req: Request, res: Response): string {
  const existing = readCookie(req, PRESESSION_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const token = randomSecret();
  res.cookie(PRESESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: cookieSecure(ctx, req), path: '/' });
  // the request goes on to be answered with it: a second call for this request finds it
  req.headers.cookie = `${req.headers.cookie ? `${req.headers.cookie}; ` : ''}${PRESESSION_COOKIE}=${token}`;
  return token;
}

export function clearPreSessionCookie(ctx: AppContext, req: Request, res: Response): void {
  if (readCookie(req, PRESESSION_COOKIE) !== undefined) res.clearCookie(PRESESSION_COOKIE, { httpOnly: true, sameSite: 'lax', secure: cookieSecure(ctx, req), path: '/' });
}

export function clearSessionCookie(ctx: AppContext, req: Request, res: Response): void {
  res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'lax', secure: cookieSecure(ctx, req), path: '/' });
}

/**
 * Resolves the caller once per request. A bearer token wins over a cookie (scripts may
 * carry both). Bad credentials do not fail here: public routes still answer, and
 * authorize() reports the problem on the others.
 */
export function resolveCaller(ctx: AppContext): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const authorization = req.get('Authorization');
    if (authorization !== undefined) {
      const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
      const token = match?.[1];
      const caller = token === undefined ? undefined : await (ctx.tokens ? ctx.tokens.resolve(ctx.pool, token) : resolveToken(ctx.pool, token));
      if (caller) req.caller = caller;
      else req.authProblem = match ? 'the API token is not valid (unknown or revoked)' : 'the Authorization header must be "Bearer <token>"';
    } else {
      const sid = readCookie(req, SESSION_COOKIE);
      if (sid) {
        const caller = await resolveSession(ctx.pool, sid, ctx.config.sessionTtlSeconds);
        if (caller) req.caller = caller;
        // An expired or unknown session: drop the cookie so the browser stops sending it.
        else clearSessionCookie(ctx, req, res);
      }
    }
    res.locals.caller = req.caller;
    res.locals.actor = actorName(req.caller);
    res.locals.csrfToken = req.caller?.session?.csrfToken;
    bindActor(req);
    next();
  };
}

/**
 * Whether the first account still has to be created. Cached once true: accounts can be
 * deleted, but never the last admin, so "some user exists" does not turn false again.
 */
export function setupState(ctx: AppContext): () => Promise<boolean> {
  let done = false;
  return async () => {
    if (done) return false;
    done = await anyUser(ctx.pool);
    return !done;
  };
}

/** A local path to return to after login: no scheme, no host, no `//` (open redirects). */
export function safeNext(value: unknown, fallback = '/'): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return fallback;
  if (value.length > 2000 || /[\0-\x1f]/.test(value)) return fallback;
  return value;
}

/** The guard in front of every route handler; `access` comes from the route table. */
export function authorize(ctx: AppContext, access: Access, setupNeeded: () => Promise<boolean>): RequestHandler {
  if (!ACCESS.has(access)) throw new Error(`route access must be one of ${[...ACCESS].join(', ')}, not ${String(access)}`);
  return async (req: Request, res: Response, next: NextFunction) => {
    if (access === 'public') return next();
    const caller = req.caller;
    if (!caller) {
      const kind = answerKind(req);
      const firstRun = await setupNeeded();
      const target = firstRun ? '/setup' : `/login?next=${encodeURIComponent(req.originalUrl)}`;
      if (kind === 'page' && !req.authProblem) {
        res.redirect(303, target);
        return;
      }
      if (kind === 'fragment') res.set('HX-Redirect', target);
      const message =
        req.authProblem ??
        (firstRun
          ? 'no account exists yet: use the setup link from the daemon log, or send an API token (tablewright token create)'
          : 'sign in, or send an API token as "Authorization: Bearer <token>"');
      throw new AppError(401, 'unauthenticated', message);
    }
    if (!allows(caller.role, access)) {
      throw new AppError(403, 'forbidden', `this needs the ${access} role; ${actorName(caller)} has ${caller.role}`);
    }
    next();
  };
}
