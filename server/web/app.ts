// The HTTP application: middleware, the route table, and one error handler.
import { createRequire } from 'node:module';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { publicDir } from '../paths.js';
import { authorize, resolveCaller, setupState } from './auth.js';
import { csrfProtection } from './csrf.js';
import { toAppError } from './errors.js';
import { createMetrics } from './metrics.js';
import { exactJsonBody, useExactJsonResponses } from './json_body.js';
import { answerKind } from './negotiate.js';
import { renderView, setViewCache } from './render.js';
import { requestLog } from './request_log.js';
import type { RouteDef } from './route.js';
import { allRoutes } from './routes/index.js';
import { securityHeaders } from './security.js';
import { series } from './series.js';
import { flashLocals } from './flash.js';
import { refuseUnreadableBodies } from './unread_body.js';

const require = createRequire(import.meta.url);
const htmxFile = require.resolve('htmx.org/dist/htmx.min.js');

/** Limits on what a request may carry; larger bodies answer 413, malformed ones 400. */
export const BODY_LIMIT = '1mb';
export const MAX_FORM_FIELDS = 1000;

export function createApp(ctx: AppContext, routes: RouteDef[] = allRoutes): express.Express {
  const app = express();
  setViewCache(ctx.config.production);
  app.disable('x-powered-by');
  app.set('trust proxy', ctx.config.trustProxy);
  // filter[col][op]=v in query strings needs the nested parser.
  app.set('query parser', 'extended');

  // The layers every request passes are run as two (series.ts): these, and after the
  // static files, the body parsers and the caller's identity.
  ctx.metrics ??= createMetrics(ctx);
  app.use(series(keepQuery, requestLog(app, ctx.log), ctx.metrics.observe, securityHeaders()));

  app.get('/vendor/htmx.min.js', (_req, res) => {
    res.sendFile(htmxFile, { maxAge: ctx.config.production ? '7d' : 0 });
  });
  app.use('/public', express.static(publicDir, { maxAge: ctx.config.production ? '1h' : 0 }));
  // Browsers ask for /favicon.ico whatever the page links: the icon, not a 404 per page.
  app.get('/favicon.ico', (_req, res) => res.redirect(301, '/public/favicon.svg'));

  // JSON bodies and answers keep every digit of every number (json_body.ts).
  useExactJsonResponses(app);
  app.use(
    series(
      exactJsonBody(BODY_LIMIT),
      express.urlencoded({ extended: true, limit: BODY_LIMIT, parameterLimit: MAX_FORM_FIELDS }),
      methodOverride,
      // Who is calling (bearer token or session cookie), then CSRF for cookie sessions;
      // each route's access rule is enforced by authorize() where the route is registered.
      resolveCaller(ctx),
      csrfProtection,
      refuseUnreadableBodies,
      (_req, res, next) => {
        res.locals.title = 'Tablewright';
        // The cached drift summary for the layout's banner (never a reconcile per page view).
        res.locals.drift = ctx.drift?.current();
        next();
      },
      flashLocals,
    ),
  );

  const setupNeeded = setupState(ctx);
  for (const r of routes) {
    // the access rule and the handler as one layer of the route (series.ts)
    app[r.method](r.path, series(authorize(ctx, r.access, setupNeeded), (req: Request, res: Response, next: NextFunction) => r.handler(ctx, req, res, next)));
  }

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(toAppError(Object.assign(new Error(`no route for ${req.method} ${req.path}`), { status: 404 })));
  });
  app.use(errorHandler(ctx));
  return app;
}

/**
 * Express 5 parses the query string again on every read of req.query (a getter); a
 * listing reads it several times (flash, filters, view). Parsed once, kept as a value.
 */
function keepQuery(req: Request, _res: Response, next: NextFunction): void {
  // The query parser drops a key named __proto__ (filter[__proto__][eq]=1) without a word:
  // a filter a caller sent would be ignored and every row answered. Refused instead.
  const q = req.url.indexOf('?');
  const named = q >= 0 ? protoKey(req.url.slice(q + 1)) : undefined;
  if (named !== undefined) return next(new AppError(400, 'bad_request', `a query parameter or key may not be named __proto__ (in ${named.slice(0, 60)})`, named.split('[', 1)[0] || '__proto__'));
  Object.defineProperty(req, 'query', { value: req.query, writable: true, configurable: true, enumerable: true });
  next();
}
/** The key (the part before =) of the query string that names __proto__, percent-encoded or not. */
function protoKey(query: string): string | undefined {
  if (!/proto/i.test(query)) return undefined;
  for (const part of query.split('&')) {
    const key = part.split('=', 1)[0]!.replace(/\+/g, ' ');
    let decoded = key;
    try {
      decoded = decodeURIComponent(key);
    } catch {
      // not percent-encoding: the parser reads it as it is
    }
    if (decoded.includes('__proto__')) return decoded;
  }
  return undefined;
}

/** Plain HTML forms can only POST: `_method=PATCH|PUT|DELETE` in the body stands for the verb. */
function methodOverride(req: Request, _res: Response, next: NextFunction): void {
  const body = req.body as Record<string, unknown> | undefined;
  if (req.method === 'POST' && body && typeof body === 'object' && typeof body._method === 'string') {
    const verb = body._method.toUpperCase();
    if (verb === 'PATCH' || verb === 'PUT' || verb === 'DELETE') req.method = verb;
    delete body._method;
  }
  next();
}

function errorHandler(ctx: AppContext) {
  return async (raw: unknown, req: Request, res: Response, _next: NextFunction): Promise<void> => {
    const err = toAppError(raw);
    if (err.status >= 500) (req.log ?? ctx.log).error({ err: raw }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err.status === 503 && !res.get('Retry-After')) res.set('Retry-After', '2');
    const kind = answerKind(req);
    res.vary('Accept').vary('HX-Request');
    if (kind === 'json') {
      res.status(err.status).json(err.toJSON());
      return;
    }
    // htmx shows errors in the flash area (aria-live), whatever the form targeted.
    if (kind === 'fragment') res.set('HX-Retarget', '#flash').set('HX-Reswap', 'innerHTML');
    const locals = { ...res.locals, title: 'Error', error: err };
    try {
      const html =
        kind === 'fragment'
          ? await renderView('partials/error', locals)
          : await renderView('pages/error', locals, { layout: true });
      res.status(err.status).type('html').send(html);
    } catch (renderErr) {
      ctx.log.error({ err: renderErr }, 'error page failed to render');
      res.status(err.status).json(err.toJSON());
    }
  };
}

