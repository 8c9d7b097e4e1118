// What the schema routes hand the schema editor: its dependencies and who is acting.
import type { Request } from 'express';
import { actorName } from '../../auth/caller.js';
import type { AppContext } from '../../context.js';
import { badRequest } from '../../errors.js';
import { RawJson } from '../../fields/exact_json.js';
import type { Actor, EditorDeps } from '../../schema/change.js';
import { hasUnreadBody, unsupportedBody } from '../unread_body.js';

export const editorDeps = (ctx: AppContext): EditorDeps => ({
  pool: ctx.pool,
  log: ctx.log,
  config: ctx.config,
  instanceId: ctx.instanceId,
  onCommitted: (tableId, version) => ctx.models?.schemaChanged(tableId, version),
});
export const actorOf = (req: Request): Actor => ({ name: actorName(req.caller) });

/**
 * A field's or table's request body: JSON or form, always an object. No body is an empty
 * one; a JSON list, string, number or null where an object goes is a 400 (read as {}, a
 * row route would create an empty row from it).
 */
export function body(req: Request): Record<string, unknown> {
  if (req.body === undefined) {
    if (hasUnreadBody(req)) throw unsupportedBody(req);
    return {};
  }
  if (req.body && typeof req.body === 'object' && !Array.isArray(req.body) && !(req.body instanceof RawJson)) return req.body as Record<string, unknown>;
  throw badRequest('the request body must be an object of named values ({"name": value, ...}), not a list or a single value', 'body');
}
