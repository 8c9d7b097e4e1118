// Console accounts (admin only): list, add, change role or password, remove.
import type { Request, Response } from 'express';
import { actorName } from '../../auth/caller.js';
import { ROLES } from '../../auth/roles.js';
import { createUser, listUsers, removeUser, updateUser } from '../../auth/users.js';
import { parseId } from '../../auth/validate.js';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { answerKind, reply } from '../negotiate.js';
import { renderView } from '../render.js';
import { route } from '../route.js';
import { body } from './schema_deps.js';

/** The form or JSON object; a JSON list or single value is a 400 (read as {}, a PATCH would answer 200 changing nothing). */
const bodyOf = (req: Request): Record<string, unknown> => body(req);

/** The users page again, with the error shown by the form (browsers); scripts get the error JSON. */
async function pageWithError(ctx: AppContext, req: Request, res: Response, err: unknown, form: Record<string, unknown>): Promise<boolean> {
  if (!(err instanceof AppError) || err.status >= 500 || answerKind(req) !== 'page') return false;
  const users = await listUsers(ctx.pool);
  const html = await renderView('pages/users', { ...res.locals, title: 'Users', users, roles: ROLES, error: err, form }, { layout: true });
  res.status(err.status).type('html').send(html);
  return true;
}

export const userRoutes = [
  route('get', '/users', 'admin', 'the console accounts', async (ctx, req, res) => {
    const users = await listUsers(ctx.pool);
    await reply(req, res, { json: { users }, page: 'users', locals: { title: 'Users', users, roles: ROLES, form: {} } });
  }),

  route('post', '/users', 'admin', 'add an account: email, role, password', async (ctx, req, res) => {
    const body = bodyOf(req);
    try {
      const user = await createUser(ctx.pool, { email: body.email, role: body.role, password: body.password }, actorName(req.caller));
      req.log.info({ userId: user.id, role: user.role }, 'user created');
      await reply(req, res, { status: 201, json: { user }, redirect: '/users' });
    } catch (err) {
      if (!(await pageWithError(ctx, req, res, err, { email: body.email, role: body.role }))) throw err;
    }
  }),

  route('patch', '/users/:id', 'admin', "change an account's role and/or password (a new password ends its sessions)", async (ctx, req, res) => {
    const body = bodyOf(req);
    try {
      const user = await updateUser(ctx.pool, parseId(req.params.id, 'user'), { role: body.role, password: body.password });
      req.log.info({ userId: user.id, role: user.role }, 'user changed');
      await reply(req, res, { json: { user }, redirect: '/users' });
    } catch (err) {
      if (!(await pageWithError(ctx, req, res, err, {}))) throw err;
    }
  }),

  route('delete', '/users/:id', 'admin', 'remove an account and its sessions (never the last admin)', async (ctx, req, res) => {
    try {
      const user = await removeUser(ctx.pool, parseId(req.params.id, 'user'));
      req.log.info({ userId: user.id }, 'user removed');
      await reply(req, res, { json: { user }, redirect: '/users' });
    } catch (err) {
      if (!(await pageWithError(ctx, req, res, err, {}))) throw err;
    }
  }),
];
