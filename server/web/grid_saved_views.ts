// Saved views on the console grid (issue 18): which view the grid shows (?view=ID; the
// table's default view when the URL asks for nothing else; ?view=all for none), and the
// view bar's switcher and "unsaved changes: save / save as new view / reset".
import type { Request } from 'express';
import type { AppContext } from '../context.js';
import { allows } from '../auth/roles.js';
import type { Model } from '../model/compile.js';
import { filterJson, resolveView, type ResolvedView } from '../views/apply.js';
import { listViews, type ViewRow } from '../views/store.js';
import { viewCaller } from './routes/views.js';
import type { Layout } from './grid_layout.js';

export const NO_VIEW = 'all';

/** The grid's URL parameters other than the view: when there are none, the default view opens. */
const GRID_PARAMS = ['fc', 'fo', 'fv', 'filter', 'search', 'sort', 'page', 'size', 'hide', 'show', 'order', 'widths', 'frozen'];

export interface GridView {
  views: ViewRow[];
  active?: ViewRow;
  resolved?: ResolvedView;
  /** ?view= named a view the caller cannot see */
  missing: boolean;
}

export async function gridView(ctx: AppContext, req: Request, model: Model, viewParam: string): Promise<GridView> {
  const views = await listViews(ctx.pool, model.tableId, viewCaller(req));
  const query = req.query as Record<string, unknown>;
  let active: ViewRow | undefined;
  let missing = false;
  if (viewParam === '' && !GRID_PARAMS.some((p) => query[p] !== undefined)) active = views.find((v) => v.is_default);
  else if (/^\d{1,15}$/.test(viewParam)) {
    active = views.find((v) => v.id === Number(viewParam));
    missing = !active;
  }
  return { views, active, resolved: active ? resolveView(model, active.spec) : undefined, missing };
}

/** May this caller change the view in place? Shared: editors and admins; personal: its owner. */
export function maySave(req: Request, view: ViewRow): boolean {
  return view.owner === null ? allows(req.caller?.role, 'editor') : view.owner === viewCaller(req).actor;
}

/**
 * The view bar's locals. `filters` are the URL's valid filters (they narrow the view);
 * saving writes the view's filter and them together, and the sort shown.
 */
export function viewBar(req: Request, model: Model, gv: GridView, opts: { base: string; filters: Array<{ column: string; op: string; value: string }>; search: string; sort: string; layout: Layout; layoutChanged: boolean; href: (view: string) => string }) {
  const { active, resolved } = gv;
  const urlSort = opts.sort;
  const dirty = Boolean(active && resolved && (opts.filters.length > 0 || (urlSort !== '' && urlSort !== resolved.sort) || opts.layoutChanged));
  const unsavedNoView = !active && (opts.filters.length > 0 || urlSort !== '' || opts.layoutChanged);
  const clauses = opts.filters.map((f) => ({ column: f.column, op: f.op, value: f.value }));
  const filter = JSON.stringify([...(active ? filterJson(model, active.spec.filter) : []), ...clauses]);
  return {
    views: gv.views.map((v) => ({ id: v.id, name: v.name, shared: v.owner === null, isDefault: v.is_default, href: opts.href(String(v.id)), current: v.id === active?.id })),
    allHref: opts.href(NO_VIEW),
    active: active ? { id: active.id, name: active.name, shared: active.owner === null } : undefined,
    missing: gv.missing,
    problems: resolved?.problems ?? [],
    dirty,
    unsavedNoView,
    canSave: active ? maySave(req, active) : false,
    canShare: allows(req.caller?.role, 'editor'),
    resetHref: active ? opts.href(String(active.id)) : opts.href(NO_VIEW),
    saveAction: active ? `/tables/${model.tableId}/views/${active.id}` : undefined,
    createAction: `/tables/${model.tableId}/views`,
    filter,
    sort: urlSort || resolved?.sort || '',
    // The layout shown (the view's, or as changed): Save and Save as new view write it.
    hidden: JSON.stringify(opts.layout.hidden),
    order: JSON.stringify(active || opts.layoutChanged ? opts.layout.order : []),
    widths: JSON.stringify(opts.layout.widths),
    frozen: opts.layout.frozen,
    size: active?.spec.size ?? '',
  };
}
