// Saved views of a table (CONTRACT.md): GET/POST /tables/:id/views, GET/PATCH/DELETE
// /tables/:id/views/:vid. Anyone who may read the table keeps personal views; editors and
// admins manage the shared ones (server/views/store.ts). The listing and the CSV export
// apply a view with ?view=:vid (viewFor below).
import type { Request } from 'express';
import { actorName } from '../../auth/caller.js';
import type { AppContext } from '../../context.js';
import type { Model } from '../../model/compile.js';
import type { ListRequest, Row } from '../../model/rows.js';
import { idParam } from '../../schema/input.js';
import { currentColumn, filterJson, resolveView, type ResolvedView } from '../../views/apply.js';
import { parseViewSpec } from '../../views/spec.js';
import { createView, getView, listViews, removeView, updateView, type ViewCaller, type ViewRow } from '../../views/store.js';
import { reply } from '../negotiate.js';
import { route } from '../route.js';
import { useModel } from './rows.js';
import { body, editorDeps } from './schema_deps.js';
import { badRequest } from '../../errors.js';

export const viewCaller = (req: Request): ViewCaller => ({ actor: actorName(req.caller), role: req.caller?.role });

/** A view as scripts read it: fields by their current column, and what no longer fits. */
export function viewJson(view: ViewRow, model: Model) {
  const resolved = resolveView(model, view.spec);
  const col = (ref: Parameters<typeof currentColumn>[1]) => currentColumn(model, ref);
  return {
    id: view.id,
    table_id: view.table_id,
    name: view.name,
    shared: view.owner === null,
    default: view.is_default,
    ...(view.owner ? { owner: view.owner } : {}),
    filter: filterJson(model, view.spec.filter),
    sort: view.spec.sort.map((s) => `${s.desc ? '-' : ''}${col(s)}`).join(','),
    hidden: view.spec.hidden.map(col),
    order: view.spec.order.map(col),
    widths: Object.fromEntries(view.spec.widths.map((w) => [col(w), w.width])),
    frozen: view.spec.frozen,
    size: view.spec.size,
    problems: resolved.problems,
    created_at: view.created_at,
    created_by: view.created_by,
    updated_at: view.updated_at,
    updated_by: view.updated_by,
  };
}

const viewId = (req: Request) => idParam(req.params.vid, 'vid');

/** The view named by ?view=, resolved against the model; undefined without ?view. */
export async function viewFor(ctx: AppContext, req: Request, model: Model): Promise<{ view: ViewRow; resolved: ResolvedView } | undefined> {
  const raw = (req.query as Record<string, unknown>).view;
  if (raw === undefined || raw === '' || raw === 'all') return undefined;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) throw badRequest('view is the id of one of the table\'s views', 'view');
  const view = await getView(ctx.pool, model.tableId, Number(raw), viewCaller(req));
  return { view, resolved: resolveView(model, view.spec) };
}

/** The listing through a view: its filter AND-ed with the request's; the request's sort and size win. */
export function throughView(list: ListRequest, resolved: ResolvedView | undefined): ListRequest {
  if (!resolved) return list;
  return {
    ...list,
    view: resolved,
    sort: list.sort === undefined || list.sort === '' ? resolved.sort : list.sort,
    size: list.size === undefined || list.size === '' ? (resolved.size ?? undefined) : list.size,
  };
}

/** Columns a row shows through a view, in its order: `id` first, hidden ones left out. */
export function visibleColumns(model: Model, resolved: ResolvedView | undefined): string[] {
  const cols = resolved ? resolved.order.filter((c) => !resolved.hidden.has(c)) : model.fields.map((f) => f.column);
  return cols;
}

export function shapeRow(row: Row, model: Model, resolved: ResolvedView | undefined): Row {
  if (!resolved) return row;
  const out: Row = {};
  if ('id' in row) out.id = row.id;
  for (const c of visibleColumns(model, resolved)) if (c in row) out[c] = row[c];
  return out;
}

export const viewRoutes = [
  route('get', '/tables/:id/views', 'viewer', "the table's saved views: the shared ones and the caller's own", async (ctx, req, res) => {
    const json = await useModel(ctx, req, async (model) => ({ views: (await listViews(ctx.pool, model.tableId, viewCaller(req))).map((v) => viewJson(v, model)) }));
    res.json(json);
  }),

  route('post', '/tables/:id/views', 'viewer', 'save a view: name, shared?, default?, filter?, sort?, hidden?, order?, widths?, frozen?, size? (shared views need editor)', async (ctx, req, res) => {
    const b = body(req);
    const json = await useModel(ctx, req, async (model) => {
      const spec = parseViewSpec(model, b);
      return viewJson(await createView(editorDeps(ctx), viewCaller(req), model.tableId, b, spec), model);
    });
    res.location(`/tables/${json.table_id}/views/${json.id}`);
    await reply(req, res, { status: 201, json, redirect: `/tables/${json.table_id}?view=${json.id}` });
  }),

  route('get', '/tables/:id/views/:vid', 'viewer', 'one saved view', async (ctx, req, res) => {
    res.json(await useModel(ctx, req, async (model) => viewJson(await getView(ctx.pool, model.tableId, viewId(req), viewCaller(req)), model)));
  }),

  route('patch', '/tables/:id/views/:vid', 'viewer', 'change a saved view: only what is sent changes (shared views need editor)', async (ctx, req, res) => {
    const b = body(req);
    const json = await useModel(ctx, req, async (model) =>
      viewJson(await updateView(editorDeps(ctx), viewCaller(req), model.tableId, viewId(req), b, (old) => parseViewSpec(model, b, old)), model),
    );
    await reply(req, res, { json, redirect: `/tables/${json.table_id}?view=${json.id}` });
  }),

  route('delete', '/tables/:id/views/:vid', 'viewer', 'delete a saved view (204; shared views need editor)', async (ctx, req, res) => {
    const tableId = idParam(req.params.id);
    await removeView(editorDeps(ctx), viewCaller(req), tableId, viewId(req));
    await reply(req, res, { status: 204, json: null, redirect: `/tables/${tableId}` });
  }),
];
