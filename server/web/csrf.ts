// CSRF protection for browsers. Requests authenticated by a bearer token need none (a
// browser never adds that header by itself). A cookie-authenticated request that changes
// something must carry the session's synchronizer token, from the `_csrf` form field or
// the X-CSRF-Token header (htmx sends it, see public/js/app.js). Independently, a
// browser that says the request comes from another site (Sec-Fetch-Site: cross-site) may
// not change anything without a bearer token: that also covers the login form.
import type { NextFunction, Request, Response } from 'express';
import { sameSecret } from '../auth/secret.js';
import { AppError } from '../errors.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

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
  if (expected && !(typeof sent === 'string' && sameSecret(sent, expected))) {
    throw new AppError(403, 'csrf', 'the form is missing its CSRF token or the token is stale; reload the page and try again');
  }
  next();
}
