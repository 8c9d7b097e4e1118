// What the schema routes hand the schema editor: its dependencies and who is acting.
import type { Request } from 'express';
import { actorName } from '../../auth/caller.js';
import type { AppContext } from '../../context.js';
import type { Actor, EditorDeps } from '../../schema/change.js';

export const editorDeps = (ctx: AppContext): EditorDeps => ({
  pool: ctx.pool,
  log: ctx.log,
  config: ctx.config,
  instanceId: ctx.instanceId,
  onCommitted: (tableId, version) => ctx.models?.schemaChanged(tableId, version),
});
export const actorOf = (req: Request): Actor => ({ name: actorName(req.caller) });

/** A field's or table's request body: JSON or form, always an object. */
export function body(req: Request): Record<string, unknown> {
  return req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
}
