// One log line per request, and a request-scoped logger (req.log) for what a handler logs.
//
// What pino-http did, for a fraction of its cost per request (bench http: pino-http was
// about 8% of a create's CPU): pino-http made two child loggers per request up front
// (serializing the request's bindings into a string each time), and another binding for
// the actor. Here req.log is made on first use only (most requests never log anything
// but their line), and the request's line is written by the root logger with the same
// fields a child would have added: {req: {id, method, url}, actor, res: {statusCode},
// responseTime}, and the same message ("POST /tables/1/rows 201 3ms").
import crypto from 'node:crypto';
import type express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { actorName } from '../auth/caller.js';
import type { Logger } from '../log.js';

declare module 'http' {
  interface IncomingMessage {
    /** the request id: X-Request-Id as sent (when well formed), else a fresh UUID */
    id: string;
    /** a child of the app's logger bound to this request (and its actor, once known) */
    log: Logger;
  }
}

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
/** Not logged when answered: load balancers and probes call these every few seconds. */
const QUIET = new Set(['/healthz', '/readyz']);

const kLog = Symbol('tablewright.requestLogger');
const kStarted = Symbol('tablewright.requestStarted');
type Tracked = Request & { [kLog]?: Logger; [kStarted]?: number };

/** The fields the request's line and its child logger carry. */
function bindings(req: Request): Record<string, unknown> {
  return { req: { id: req.id, method: req.method, url: req.originalUrl }, ...(req.caller ? { actor: actorName(req.caller) } : {}) };
}

/**
 * Installs req.log on the app's request prototype (made on first read, then kept) and
 * answers the middleware that gives each request its id and writes its line.
 */
export function requestLog(app: express.Express, log: Logger): (req: Request, res: Response, next: NextFunction) => void {
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: Tracked): Logger {
      return (this[kLog] ??= log.child(bindings(this)));
    },
    set(this: Tracked, value: Logger) {
      this[kLog] = value;
    },
  });

  const finished = (req: Tracked, res: Response, err?: Error) => {
    const level = err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
    if (!log.isLevelEnabled(level)) return;
    const responseTime = Date.now() - req[kStarted]!;
    const child = req[kLog];
    const fields: Record<string, unknown> = child ? {} : bindings(req);
    fields.res = { statusCode: res.statusCode };
    if (err || res.statusCode >= 500) {
      const error = err ?? new Error(`failed with status code ${res.statusCode}`);
      fields.err = error;
      fields.responseTime = responseTime;
      (child ?? log)[level](fields, `${req.method} ${req.originalUrl} ${res.statusCode} ${error.message}`);
      return;
    }
    fields.responseTime = responseTime;
    (child ?? log)[level](fields, `${req.method} ${req.originalUrl} ${res.statusCode} ${Math.round(responseTime)}ms`);
  };

  return (req: Tracked, res: Response, next: NextFunction) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID_RE.test(incoming) ? incoming : crypto.randomUUID();
    res.setHeader('X-Request-Id', id);
    req.id = id;
    req[kStarted] = Date.now();
    if (!QUIET.has(req.url)) {
      let done = false;
      const once = (err?: Error) => {
        if (done) return;
        done = true;
        finished(req, res, err);
      };
      // 'close' comes after 'finish' (next tick), or alone when the client went away first.
      res.once('close', once);
      res.once('error', once);
    }
    next();
  };
}

/** After the caller is known: a request logger made before that learns the actor too. */
export function bindActor(req: Request): void {
  const made = (req as Tracked)[kLog];
  if (made && req.caller) made.setBindings({ actor: actorName(req.caller) });
}
