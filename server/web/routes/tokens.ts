// API tokens (admin only): list, create (the token is shown once), revoke.
import type { Request } from 'express';
import { actorName } from '../../auth/caller.js';
import { ROLES } from '../../auth/roles.js';
import { createToken, listTokens, revokeToken } from '../../auth/tokens.js';
import { parseId } from '../../auth/validate.js';
import { AppError } from '../../errors.js';
import { answerKind, reply } from '../negotiate.js';
import { renderView } from '../render.js';
import { route } from '../route.js';
import { body } from './schema_deps.js';

const bodyOf = (req: Request): Record<string, unknown> => body(req);

export const tokenRoutes = [
  route('get', '/tokens', 'admin', 'the API tokens, with their last use', async (ctx, req, res) => {
    const tokens = await listTokens(ctx.pool);
    await reply(req, res, { json: { tokens }, page: 'tokens', locals: { title: 'API tokens', tokens, roles: ROLES, form: {} } });
  }),

  route('post', '/tokens', 'admin', 'create a token: name, role; the answer holds the token, shown only this once', async (ctx, req, res) => {
    const body = bodyOf(req);
    try {
      const created = await createToken(ctx.pool, { name: body.name, role: body.role }, actorName(req.caller));
      req.log.info({ tokenId: created.id, role: created.role }, 'API token created');
      const tokens = await listTokens(ctx.pool);
      // No redirect for browsers: the page that answers the POST is the only place the token is shown.
      await reply(req, res, {
        status: answerKind(req) === 'json' ? 201 : 200,
        json: created,
        page: 'tokens',
        locals: { title: 'API tokens', tokens, roles: ROLES, created, form: {} },
      });
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500 || answerKind(req) !== 'page') throw err;
      const tokens = await listTokens(ctx.pool);
      const locals = { ...res.locals, title: 'API tokens', tokens, roles: ROLES, error: err, form: { name: body.name, role: body.role } };
      res.status(err.status).type('html').send(await renderView('pages/tokens', locals, { layout: true }));
    }
  }),

  route('delete', '/tokens/:id', 'admin', 'revoke a token (it stops working at once)', async (ctx, req, res) => {
    const id = parseId(req.params.id, 'token');
    const actor = actorName(req.caller);
    // "At once, everywhere": the answer waits until every listening instance has confirmed
    // that it dropped its cached tokens (milliseconds), so that no instance accepts the
    // token after this answer. The bus bounds the wait; see Bus.confirmAuthChange.
    const { result: token, unconfirmed } = ctx.bus
      ? await ctx.bus.confirmAuthChange((nonce) => revokeToken(ctx.pool, id, actor, { nonce }))
      : { result: await revokeToken(ctx.pool, id, actor), unconfirmed: [] };
    ctx.tokens?.clear();
    req.log.info({ tokenId: token.id, unconfirmed: unconfirmed.length > 0 ? unconfirmed : undefined }, 'API token revoked');
    await reply(req, res, { json: { token }, redirect: '/tokens' });
  }),
];
