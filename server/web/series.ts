// Several app-wide middlewares as one: express's router pays for every layer on every
// request (its next(), a path match, the request's url restored), and the row API's
// requests pass a dozen app-wide layers before their route. Run in series here, each
// behaves as it would as its own layer: next() goes on, next(err) stops and hands the
// error on, a throw or a rejected promise is next(err) (as Express 5 does for a layer).
import type { NextFunction, Request, RequestHandler, Response } from 'express';

export function series(...handlers: RequestHandler[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    let i = 0;
    const step = (err?: unknown): void => {
      if (err !== undefined && err !== null) return next(err);
      if (i === handlers.length) return next();
      const handler = handlers[i++]!;
      try {
        const out = handler(req, res, step) as unknown;
        if (out && typeof (out as Promise<unknown>).then === 'function') {
          (out as Promise<unknown>).then(undefined, (e: unknown) => next(e ?? new Error('Rejected promise')));
        }
      } catch (e) {
        next(e);
      }
    };
    step();
  };
}
