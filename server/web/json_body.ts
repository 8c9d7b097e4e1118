// JSON in and out of the HTTP layer, exactly: request bodies are read by parseExactJson
// (a number a double would change stays its text), and res.json writes by
// stringifyExact (such text goes out as it came). See server/fields/exact_json.ts.
import express, { type NextFunction, type Request, type Response } from 'express';
import { AppError } from '../errors.js';
import { JsonSyntaxError, parseExactJson, stringifyExact } from '../fields/exact_json.js';

/** Middleware: an application/json body -> req.body, every digit kept; a 400 when it is not JSON. */
export function exactJsonBody(limit: string) {
  const readBytes = express.raw({ type: 'application/json', limit });
  const maxBytes = limitBytes(limit);
  const parse = (req: Request, _res: Response, next: NextFunction) => {
    if (!Buffer.isBuffer(req.body) || !req.is('application/json')) return next();
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset && charset !== 'utf-8' && charset !== 'utf8') {
      req.body = undefined;
      return next(new AppError(415, 'unsupported_media_type', `JSON is read as UTF-8 only, not ${charset.slice(0, 40)}`, 'body'));
    }
    parseInto(req, req.body, next);
  };
  // The row API's usual request (a plain application/json body of a stated length, not
  // compressed) is read here directly; everything else (other types and charsets,
  // Content-Encoding, chunked bodies, past the limit) goes through body-parser as before,
  // with its answers (413, 415, 400).
  const fast = (req: Request, res: Response, next: NextFunction) => {
    const h = req.headers;
    const type = h['content-type'];
    const length = h['content-length'];
    if (!(type && PLAIN_JSON.has(type.toLowerCase())) || h['content-encoding'] !== undefined || h['transfer-encoding'] !== undefined || !length || !/^\d{1,9}$/.test(length) || Number(length) > maxBytes) {
      return readBytes(req, res, (err?: unknown) => (err ? next(err) : parse(req, res, next)));
    }
    const expected = Number(length);
    const chunks: Buffer[] = [];
    let received = 0;
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      req.removeListener('data', onData).removeListener('end', onEnd).removeListener('error', finish).removeListener('aborted', onAborted);
      if (err) return next(err);
      if (received !== expected) return next(Object.assign(new Error('request size did not match content length'), { status: 400, type: 'request.size.invalid' }));
      parseInto(req, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received), next);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > expected) return finish(Object.assign(new Error('request size did not match content length'), { status: 400, type: 'request.size.invalid' }));
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onAborted = () => finish(Object.assign(new Error('request aborted'), { status: 400, type: 'request.aborted' }));
    req.on('data', onData).on('end', onEnd).on('error', finish).on('aborted', onAborted);
  };
  return fast;
}

/** '1mb', '100kb', '512b' or '2048' in bytes, as body-parser reads its limit. */
function limitBytes(limit: string): number {
  const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(limit.trim());
  if (!m) throw new Error(`body limit "${limit}" is not like 1mb, 100kb or 512b`);
  return Number(m[1]) * ({ b: 1, kb: 1024, mb: 1024 * 1024 } as Record<string, number>)[(m[2] ?? 'b').toLowerCase()]!;
}

const PLAIN_JSON = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8']);

/** UTF-8, refusing bytes that are not (a lenient decode would store U+FFFD in their place). */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function parseInto(req: Request, bytes: Buffer, next: NextFunction): void {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    req.body = undefined;
    return next(new AppError(400, 'bad_request', 'the request body is not valid UTF-8 (JSON must be UTF-8)', 'body'));
  }
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
