// Sign in, sign out, first-run setup, and "who am I" for scripts.
import type { Request, Response } from 'express';
import { login } from '../../auth/login.js';
import { createSession, deleteSession } from '../../auth/sessions.js';
import { completeSetup, setupTokenValid } from '../../auth/setup.js';
import { anyUser, type User } from '../../auth/users.js';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { clearPreSessionCookie, clearSessionCookie, preSessionToken, safeNext, setSessionCookie } from '../auth.js';
import { answerKind, reply } from '../negotiate.js';
import { renderView } from '../render.js';
import { route } from '../route.js';
import { body } from './schema_deps.js';

const bodyOf = (req: Request): Record<string, unknown> => body(req);
const publicUser = (u: User) => ({ id: u.id, email: u.email, role: u.role });

/** A form page shown again with the error beside the field (browsers only; scripts get the error JSON). */
async function formAgain(ctx: AppContext, req: Request, res: Response, err: unknown, page: string, locals: Record<string, unknown>): Promise<boolean> {
  if (!(err instanceof AppError) || err.status >= 500 || answerKind(req) !== 'page') return false;
  res.locals.csrfToken ??= preSessionToken(ctx, req, res);
  const html = await renderView(`pages/${page}`, { ...res.locals, ...locals, error: err }, { layout: true });
  res.status(err.status).type('html').send(html);
  return true;
}

function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

async function startSession(ctx: AppContext, req: Request, res: Response, userId: number) {
  if (req.caller?.session) await deleteSession(ctx.pool, req.caller.session.idHash);
  const session = await createSession(ctx.pool, userId, {
    ttlSeconds: ctx.config.sessionTtlSeconds,
    address: clientAddress(req),
    userAgent: req.get('User-Agent'),
  });
  setSessionCookie(ctx, req, res, session.id);
  clearPreSessionCookie(ctx, req, res);
  return session;
}

export const authRoutes = [
  route('get', '/login', 'public', 'the sign-in form', async (ctx, req, res) => {
    const next = safeNext(req.query.next);
    if (!(await anyUser(ctx.pool))) {
      if (answerKind(req) === 'page') res.redirect(303, '/setup');
      else res.json({ setup_required: true });
      return;
    }
    if (req.caller?.kind === 'user' && answerKind(req) === 'page') {
      res.redirect(303, next);
      return;
    }
    // The form's token (a script posting the form itself keeps the cookie and sends csrf_token as _csrf).
    res.locals.csrfToken ??= preSessionToken(ctx, req, res);
    await reply(req, res, { json: { setup_required: false, csrf_token: res.locals.csrfToken }, page: 'login', locals: { title: 'Sign in', next, email: '' } });
  }),

  route('post', '/login', 'public', 'sign in with email and password (sets the session cookie)', async (ctx, req, res) => {
    const body = bodyOf(req);
    const next = safeNext(body.next);
    try {
      const { user, session } = await login(
        ctx.pool,
        { email: body.email, password: body.password, address: clientAddress(req), userAgent: req.get('User-Agent') },
        { limits: ctx.config.loginLimits, ttlSeconds: ctx.config.sessionTtlSeconds },
      );
      if (req.caller?.session) await deleteSession(ctx.pool, req.caller.session.idHash);
      setSessionCookie(ctx, req, res, session.id);
      clearPreSessionCookie(ctx, req, res);
      req.log.info({ userId: user.id }, 'signed in');
      await reply(req, res, { json: { user: publicUser(user), csrf_token: session.csrfToken }, redirect: next });
    } catch (err) {
      if (err instanceof AppError && err.code === 'rate_limited') {
        res.set('Retry-After', String((err.details as { retry_after: number }).retry_after));
        req.log.warn({ address: clientAddress(req) }, 'login throttled');
      }
      const email = typeof body.email === 'string' ? body.email.slice(0, 254) : '';
      if (!(await formAgain(ctx, req, res, err, 'login', { title: 'Sign in', next, email }))) throw err;
    }
  }),

  route('post', '/logout', 'public', 'sign out (ends the session)', async (ctx, req, res) => {
    if (req.caller?.session) await deleteSession(ctx.pool, req.caller.session.idHash);
    clearSessionCookie(ctx, req, res);
    await reply(req, res, { json: { ok: true }, redirect: '/login' });
  }),

  route('get', '/setup', 'public', 'first run: the form that creates the first admin (needs the link from the log)', async (ctx, req, res) => {
    if (await anyUser(ctx.pool)) {
      if (answerKind(req) === 'page') res.redirect(303, req.caller ? '/' : '/login');
      else res.json({ setup_required: false });
      return;
    }
    const token = typeof req.query.token === 'string' ? req.query.token : undefined;
    const valid = token !== undefined && (await setupTokenValid(ctx.pool, token));
    res.locals.csrfToken ??= preSessionToken(ctx, req, res);
    await reply(req, res, {
      json: { setup_required: true, token_valid: valid, csrf_token: res.locals.csrfToken },
      page: 'setup',
      locals: { title: 'Set up Tablewright', token: valid ? token : undefined, invalid: token !== undefined && !valid, email: '' },
    });
  }),

  route('post', '/setup', 'public', 'first run: create the first admin with the setup token; signs them in', async (ctx, req, res) => {
    const body = bodyOf(req);
    try {
      const user = await completeSetup(ctx.pool, body.token, { email: body.email, password: body.password });
      req.log.info({ userId: user.id }, 'first admin created');
      const session = await startSession(ctx, req, res, user.id);
      await reply(req, res, { status: 201, json: { user: publicUser(user), csrf_token: session.csrfToken }, redirect: '/' });
    } catch (err) {
      const token = typeof body.token === 'string' ? body.token : undefined;
      const email = typeof body.email === 'string' ? body.email.slice(0, 254) : '';
      const locals = { title: 'Set up Tablewright', token, invalid: false, email };
      if (!(await formAgain(ctx, req, res, err, 'setup', locals))) throw err;
    }
  }),

  route('get', '/me', 'viewer', 'who the request is authenticated as', async (_ctx, req, res) => {
    const c = req.caller!;
    res.json({ caller: { kind: c.kind, id: c.id, name: c.name, role: c.role } });
  }),
];
