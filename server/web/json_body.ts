// JSON in and out of the HTTP layer, exactly: request bodies are read by parseExactJson
// (a number a double would change stays its text), and res.json writes by
// stringifyExact (such text goes out as it came). See server/fields/exact_json.ts.
import express, { type NextFunction, type Request, type Response } from 'express';
import { AppError } from '../errors.js';
import { JsonSyntaxError, parseExactJson, stringifyExact } from '../fields/exact_json.js';

/** Middleware: an application/json body -> req.body, every digit kept; a 400 when it is not JSON. */
export function exactJsonBody(limit: string) {
  const readText = express.text({ type: 'application/json', limit });
  const parse = (req: Request, _res: Response, next: NextFunction) => {
    if (typeof req.body !== 'string' || !req.is('application/json')) return next();
    const text = req.body;
    if (text.trim() === '') {
      req.body = {};
      return next();
    }
    try {
      req.body = parseExactJson(text);
    } catch (err) {
      if (!(err instanceof JsonSyntaxError)) return next(err);
      return next(new AppError(400, 'bad_request', `the request body is not valid JSON: ${err.message.slice(0, 120)}`, 'body'));
    }
    next();
  };
  return [readText, parse];
}

/**
 * res.json for an app: JSON.stringify's output, with RawJson values written exactly.
 *
 * Answers to anything but GET and HEAD go out without express's send(), and so without
 * the ETag it would compute (a sha1 of the body, and the body turned into a Buffer for
 * it, on every create): an ETag only serves a later conditional GET or HEAD of the same
 * URL, which a POST, PATCH or DELETE answer is never matched against (express's
 * freshness check, too, is for GET and HEAD alone).
 */
export function useExactJsonResponses(app: express.Express): void {
  app.response.json = function json(this: Response, body: unknown) {
    if (!this.get('Content-Type')) this.set('Content-Type', 'application/json; charset=utf-8');
    const text = stringifyExact(body);
    const method = this.req.method;
    if (method === 'GET' || method === 'HEAD' || this.statusCode === 204 || this.statusCode === 304) return this.send(text);
    this.setHeader('Content-Length', Buffer.byteLength(text));
    this.end(text, 'utf8');
    return this;
  };
}
