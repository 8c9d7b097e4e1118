// CSRF protection for browsers. Requests authenticated by a bearer token need none (a
// browser never adds that header by itself). A cookie-authenticated request that changes
// something must carry the session's synchronizer token, from the `_csrf` form field or
// the X-CSRF-Token header (htmx sends it, see public/js/app.js). Before there is a
// session, a form POST to /login or /setup must carry the pre-session token its page was
// given (web/auth.ts preSessionToken): no page elsewhere can sign a victim in as the
// attacker (login CSRF). A JSON body needs none: no other site can make a browser send
// one without a CORS preflight, which this server never allows. Independently, a browser
// that says the request comes from another site (Sec-Fetch-Site: cross-site) may not
// change anything without a bearer token.
import type { NextFunction, Request, Response } from 'express';
import { sameSecret } from '../auth/secret.js';
import { AppError } from '../errors.js';
import { PRESESSION_COOKIE, readCookie } from './auth.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Routes that read a multipart body themselves (streamed uploads), after this middleware
 * has run: for them the `_csrf` field can only be checked by the route, as a form field
 * that comes before the file (see checkMultipartCsrf). Any other multipart request
 * needs the X-CSRF-Token header.
 */
const MULTIPART_ROUTES = [/^\/tables\/\d+\/rows\/import$/, /^\/tables\/import(\/upload)?$/];

/** Anonymous forms that sign someone in: /login, and /setup (which signs the new admin in). */
const SIGN_IN_FORMS = new Set(['/login', '/setup']);
/** What a form on another site can send without a preflight. */
const FORM_BODIES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** set when the CSRF check waits for a multipart route to read the `_csrf` field */
      csrfPending?: string;
    }
  }
}

/** For MULTIPART_ROUTES: throws 403 unless the `_csrf` form field read so far is right. */
export function checkMultipartCsrf(req: Request, fields: Record<string, string>): void {
  if (req.csrfPending === undefined) return;
  const sent = fields._csrf;
  if (!(typeof sent === 'string' && sameSecret(sent, req.csrfPending))) {
    throw new AppError(403, 'csrf', 'the form is missing its CSRF token (it must come before the file) or the token is stale; reload the page and try again');
  }
  req.csrfPending = undefined;
}

export function csrfProtection(req: Request, _res: Response, next: NextFunction): void {
  const body = req.body as Record<string, unknown> | undefined;
  const sent = (body && typeof body === 'object' && typeof body._csrf === 'string' ? body._csrf : undefined) ?? req.get('X-CSRF-Token');
  // The field is ours: handlers never see it (it is not a column, not a setting).
  if (body && typeof body === 'object' && '_csrf' in body) delete body._csrf;
  if (SAFE.has(req.method) || req.caller?.kind === 'token') return next();
  if (req.get('Sec-Fetch-Site') === 'cross-site') {
    throw new AppError(403, 'csrf', 'cross-site request refused: changes need a page of this console or an API token');
  }
  const expected = req.caller?.session?.csrfToken;
  // Routing ignores case and a trailing slash (/LOGIN/ reaches /login): so does this check.
  if (!expected && SIGN_IN_FORMS.has(req.path.toLowerCase().replace(/\/+$/, '')) && req.is(FORM_BODIES)) {
    const cookie = readCookie(req, PRESESSION_COOKIE);
    if (!(cookie && typeof sent === 'string' && sameSecret(sent, cookie))) {
      throw new AppError(403, 'csrf', 'the form is missing its token, or it is stale (cookies must be allowed for this site); reload the page and try again');
    }
    return next();
  }
  if (expected && sent === undefined && req.is('multipart/form-data') && MULTIPART_ROUTES.some((re) => re.test(req.path))) {
    req.csrfPending = expected;
    return next();
  }
  if (expected && !(typeof sent === 'string' && sameSecret(sent, expected))) {
    throw new AppError(403, 'csrf', 'the form is missing its CSRF token or the token is stale; reload the page and try again');
  }
  next();
}
