// A request body no parser read: JSON and forms are parsed for every route (app.ts); the
// upload routes (CSV and spreadsheet imports) stream their own types. Any other body, or
// an upload type sent to a route that reads JSON or a form, would reach the handler as
// "no body" and, for a row, create an empty one: it is a 415 naming what to send instead.
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors.js';
import { XLSX_TYPE } from '../import/upload.js';

/** The types the upload routes read themselves. */
const UPLOAD_TYPES = ['multipart/form-data', 'text/csv', 'application/csv', 'text/plain', XLSX_TYPE];

/** A write carrying bytes that no body parser turned into req.body. */
export function hasUnreadBody(req: Request): boolean {
  if (req.body !== undefined || req.method === 'GET' || req.method === 'HEAD') return false;
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

export function unsupportedBody(req: Request): AppError {
  const type = String(req.headers['content-type'] ?? 'none').slice(0, 80);
  return new AppError(415, 'unsupported_media_type', `a body of type ${type} is not read here: send JSON (Content-Type: application/json) or a form (application/x-www-form-urlencoded)`, 'body');
}

/** Middleware, after the body parsers: a body of a type no route reads is refused at once. */
export function refuseUnreadableBodies(req: Request, _res: Response, next: NextFunction): void {
  if (hasUnreadBody(req) && !req.is(UPLOAD_TYPES)) return next(unsupportedBody(req));
  next();
}
