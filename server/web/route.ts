// Every HTTP route is declared as data: method, path, who may call it, and a thin
// handler. The app registers them from this table, and the authorization tests are
// generated from it, so a route without an access rule cannot be added by accident.
import type { NextFunction, Request, Response } from 'express';
import type { AppContext } from '../context.js';

/** public: anyone; viewer: read; editor: rows; admin: schema, drift, trash, users. */
export type Access = 'public' | 'viewer' | 'editor' | 'admin';
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export type Handler = (ctx: AppContext, req: Request, res: Response, next: NextFunction) => Promise<void> | void;

export interface RouteDef {
  method: Method;
  path: string;
  access: Access;
  /** a short line for README and error messages */
  summary: string;
  handler: Handler;
}

export const route = (method: Method, path: string, access: Access, summary: string, handler: Handler): RouteDef => ({
  method,
  path,
  access,
  summary,
  handler,
});
