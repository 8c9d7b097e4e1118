// The console's grid of rows on the table page: one fragment for the current query
// (filters, search, sort, page, the view and its layout), and the grid's own add/delete
// forms (which answer the grid again, keeping the query). Editing one cell in place is
// grid_cell_edit.ts. The JSON API for rows is routes/rows.ts; these handlers call the
// same model functions.
import type { Request, Response } from 'express';
import { MULTIPLE_MARK } from '../row_page.js';
import { allows } from '../../auth/roles.js';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors.js';
import type { FilterOp } from '../../fields/types.js';
import type { Model, ModelField } from '../../model/compile.js';
import { DEFAULT_PAGE_SIZE, filterCondition, Params, parsePage, parseSize } from '../../model/query.js';
import { createRow, deleteRow, listRows, type ListRequest, type ListResult } from '../../model/rows.js';
import { idParam } from '../../schema/input.js';
import { cellView, editorView } from '../grid_view.js';
import { linkPicker, linkValueFromLabel } from '../link_picker.js';
import { rowCellsHtml } from '../grid_cells.js';
import { answerKind, reply } from '../negotiate.js';
import { route } from '../route.js';
import { useModel, rowsChanged } from './rows.js';
import { body } from './schema_deps.js';
import { tableLocals } from './tables.js';
import { writeContext } from '../../history/stamp.js';
import { withFlash, type FlashKey } from '../flash.js';
import { gridView, viewBar, type GridView } from '../grid_saved_views.js';
import { throughView } from './views.js';
import { appendLayout, hasLayout, layoutChanged, layoutOf, layoutParams, layoutWith, moved, type Layout, type LayoutParams } from '../grid_layout.js';

/**
 * The Undo a notice offers after a row action (views/partials/undo_notice.ejs): the action
 * is named by its request id, which the history records with every entry it made.
 */
export interface UndoOffer {
  tableId: number;
  request: string;
  rows: number[];
  label: string;
}

export const undoOffer = (req: Request, rows: number[], label: string): UndoOffer | undefined =>
  req.id === undefined ? undefined : { tableId: idParam(req.params.id), request: String(req.id), rows, label };

export const PAGE_SIZES = [25, 50, 100, 250, 500, 1000];
const VALUELESS_OPS = new Set(['empty', 'not_empty']);
const MAX_SORT_KEYS = 10;

export interface FilterSpec {
  column: string;
  op: string;
  value: string;
}

/** What the grid shows, as its URL carries it. */
export interface GridState {
  filters: FilterSpec[];
  search: string;
  sort: string;
  page: number;
  size: number;
  /** a saved view's id, 'all' for none, '' for the default */
  view: string;
  /** the layout's changes the URL carries (grid_layout.ts): hidden, order, widths, frozen */
  layout: LayoutParams;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? str(v[v.length - 1]) : '');
const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(str) : typeof v === 'object' && v !== null ? Object.values(v).map(str) : [str(v)]);

/**
 * The grid's state from a query string. The filter bar is a plain GET form, which cannot
 * name inputs by the chosen column, so its filters come as parallel lists fc/fo/fv
 * (column, operator, value); the API's filter[col][op]=v is read too.
 */
export function gridState(query: Record<string, unknown>): GridState {
  const filters: FilterSpec[] = [];
  const cols = list(query.fc);
  const ops = list(query.fo);
  const vals = list(query.fv);
  cols.forEach((column, i) => {
    const op = ops[i] || 'eq';
    const value = vals[i] ?? '';
    // The filter bar's blank row (no column, or no value for an operator that needs one).
    if (!column || (value === '' && !VALUELESS_OPS.has(op))) return;
    filters.push({ column, op, value });
  });
  const api = query.filter;
  if (api && typeof api === 'object' && !Array.isArray(api)) {
    for (const [column, spec] of Object.entries(api as Record<string, unknown>)) {
      const entries = spec !== null && typeof spec === 'object' && !Array.isArray(spec) ? Object.entries(spec) : [['eq', spec] as [string, unknown]];
      for (const [op, v] of entries) for (const value of Array.isArray(v) ? v : [v]) filters.push({ column, op, value: str(value) });
    }
  }
  return {
    filters,
    search: str(query.search),
    sort: str(query.sort),
    page: parsePage(str(query.page) || undefined) ?? 1,
    size: parseSize(str(query.size) || undefined),
    view: /^(\d{1,15}|all)$/.test(str(query.view)) ? str(query.view) : '',
    layout: layoutParams(query),
  };
}

/** The state as a query string (without '?'): what links and forms carry. */
export function stateQuery(state: GridState, overrides: Partial<GridState> = {}): string {
  const s = { ...state, ...overrides };
  const q = new URLSearchParams();
  for (const f of s.filters) {
    q.append('fc', f.column);
    q.append('fo', f.op);
    q.append('fv', f.value);
  }
  if (s.search) q.set('search', s.search);
  if (s.sort) q.set('sort', s.sort);
  if (s.page > 1) q.set('page', String(s.page));
  if (s.size !== DEFAULT_PAGE_SIZE) q.set('size', String(s.size));
  if (s.view) q.set('view', s.view);
  appendLayout(q, s.layout);
  return q.toString();
}

/** The state as listRows reads it (filters AND-ed; several on one column and operator too). */
export function listRequestOf(state: GridState, extra: Partial<ListRequest> = {}): ListRequest {
  // Keyed by what the request names (fc=__proto__, fo=constructor...): objects without a
  // prototype, or filter['__proto__'][op] would write onto Object.prototype.
  const filter: Record<string, Record<string, string[]>> = Object.create(null);
  for (const f of state.filters) ((filter[f.column] ??= Object.create(null))[f.op] ??= []).push(f.value);
  // "in" takes one comma-separated list: several "in" filters on a column join theirs.
  for (const ops of Object.values(filter)) if (ops.in) ops.in = [ops.in.join(',')];
  const flat = Object.fromEntries(
    Object.entries(filter).map(([c, ops]) => [c, Object.fromEntries(Object.entries(ops).map(([op, vs]) => [op, op === 'in' ? vs[0]! : vs]))]),
  );
  return { filter: flat, search: state.search, sort: state.sort, page: String(state.page), size: String(state.size), ...extra };
}

/** Why the listing would refuse this one filter (undefined: it is fine). */
function filterError(model: Model, f: FilterSpec): string | undefined {
  try {
    filterCondition(model, f.column, f.op, f.value, new Params(), 'filter');
    return undefined;
  } catch (err) {
    if (err instanceof AppError && err.status === 400) return err.message;
    throw err;
  }
}

/** A browser navigating (no htmx, no JSON): it gets whole pages. */
const browserPage = (req: Request) => answerKind(req) === 'page';

export const canEdit = (req: Request) => allows(req.caller?.role, 'editor');

export function fieldInfo(f: ModelField) {
  return {
    column: f.column,
    name: f.meta.name,
    type: f.meta.type,
    label: f.type.label,
    filterOps: f.type.filterOps as readonly FilterOp[],
    sortable: f.meta.type !== 'json',
    numeric: f.meta.type === 'number',
    readOnly: f.meta.read_only,
  };
}

/** Numbered pages around the current one: 1 … 4 5 [6] 7 8 … 20 (null is a gap). */
export function pageList(page: number, pages: number): Array<number | null> {
  const out: Array<number | null> = [];
  const wanted = new Set([1, pages, page - 2, page - 1, page, page + 1, page + 2].filter((p) => p >= 1 && p <= pages));
  let last = 0;
  for (const p of [...wanted].sort((a, b) => a - b)) {
    if (p > last + 1) out.push(null);
    out.push(p);
    last = p;
  }
  return out;
}

/**
 * The header's sort state and links, from sort=col,-col. A plain link sorts by its column
 * alone (then the other way round); `addHref` (shift+click, public/js/grid.js) keeps the
 * other keys and adds this column after them, or turns its direction where it already is.
 */
export function sortLinks(sort: string, href: (sort: string) => string) {
  const keys = sort.split(',').map((s) => s.trim()).filter(Boolean);
  const indexOf = (column: string) => keys.findIndex((k) => k === column || k === `-${column}`);
  const direction = (column: string): 'ascending' | 'descending' | 'none' => {
    const i = indexOf(column);
    return i < 0 ? 'none' : keys[i]!.startsWith('-') ? 'descending' : 'ascending';
  };
  return {
    sortKeys: keys,
    sortOf: direction,
    /** 1, 2, … when several keys sort the rows; 0 otherwise (no number shown) */
    sortOrder: (column: string) => (keys.length > 1 ? indexOf(column) + 1 : 0),
    /** ARIA allows one sorted header: the first key's */
    ariaSort: (column: string) => (indexOf(column) === 0 ? direction(column) : undefined),
    sortHref: (column: string) => href(keys[0] === column ? `-${column}` : column),
    addHref: (column: string) => {
      const i = indexOf(column);
      // parseSort takes at most 10 keys: past that, a new column is not added.
      if (i < 0 && keys.length >= MAX_SORT_KEYS) return href(keys.join(','));
      const next = i < 0 ? [...keys, column] : keys.map((k, j) => (j !== i ? k : k.startsWith('-') ? column : `-${column}`));
      return href(next.join(','));
    },
  };
}

/**
 * The layout's controls (grid.ejs): the "Hide fields" menu (every field in order, shown or
 * not), each header's menu (move left/right, hide, freeze up to here) as links, and what
 * public/js/grid.js needs to drag and resize (the full layout as a query).
 */
function layoutLocals(model: Model, layout: Layout, href: (change: Partial<Layout>) => string) {
  const shownCols = layout.order.filter((c) => !layout.hidden.includes(c));
  return {
    frozen: Math.min(layout.frozen, shownCols.length),
    allFields: layout.order.map((c) => ({ column: c, name: model.byColumn.get(c)!.meta.name, shown: !layout.hidden.includes(c) })),
    hiddenCount: layout.hidden.length,
    layoutOrder: layout.order.join(','),
    layoutWidths: Object.entries(layout.widths).map(([c, w]) => `${c}:${w}`).join(','),
    moveHref: (column: string, by: number) => {
      const i = shownCols.indexOf(column) + by;
      return i < 0 || i >= shownCols.length ? null : href({ order: moved(layout, column, by) });
    },
    hideHref: (column: string) => href({ hidden: [...layout.hidden, column] }),
    showAllHref: href({ hidden: [] }),
    freezeHref: (n: number) => href({ frozen: n }),
  };
}

/** The grid for the table page: none for a table in the trash (it has no rows to show). */
export async function gridForPage(ctx: AppContext, req: Request, trashed: boolean): Promise<Record<string, unknown> | null> {
  return trashed ? null : gridLocals(ctx, req);
}

/**
 * Everything views/partials/grid.ejs needs. A query the model refuses (an unknown column,
 * an operator the type has not, a bad value: 400) shows as a message in the grid, with
 * the rows unfiltered, rather than failing the whole table page.
 */
export async function gridLocals(ctx: AppContext, req: Request, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const tableId = idParam(req.params.id);
  let state: GridState;
  let problem: string | undefined;
  try {
    state = gridState(req.query as Record<string, unknown>);
  } catch (err) {
    if (!(err instanceof AppError) || err.status !== 400) throw err;
    problem = err.message;
    state = { filters: [], search: '', sort: '', page: 1, size: DEFAULT_PAGE_SIZE, view: '', layout: {} };
  }
  // A filter the model refuses (a value its type does not take, an operator it lacks) is
  // marked beside it and left out; the others still apply.
  let filterErrors: Array<string | undefined> = [];
  const sizeAsked = (req.query as Record<string, unknown>).size !== undefined;
  const load = (s: GridState) =>
    useModel(ctx, req, async (model) => {
      filterErrors = s.filters.map((f) => filterError(model, f));
      const gv = await gridView(ctx, req, model, s.view);
      // The view's page size, unless the URL asks for one.
      const size = !sizeAsked && gv.resolved?.size ? gv.resolved.size : s.size;
      const valid = { ...s, size, filters: s.filters.filter((_, i) => !filterErrors[i]) };
      return { model, gv, size, result: await listRows(ctx.pool, model, throughView(listRequestOf(valid), gv.resolved)) };
    });
  let loaded: { model: Model; result: ListResult; gv: GridView; size: number };
  try {
    loaded = await load(state);
  } catch (err) {
    if (!(err instanceof AppError) || err.status !== 400) throw err;
    problem = err.message;
    loaded = await load({ ...state, filters: [], search: '', sort: '', page: 1 });
  }
  const { model, result, gv } = loaded;
  // The default view, opened without asking, stays in every link the grid makes.
  state = { ...state, size: loaded.size, view: gv.active ? String(gv.active.id) : state.view };
  if (gv.missing) problem = 'That view is not there (deleted, or another user\'s personal view): the rows are shown without it.';
  const editable = canEdit(req) && !model.table.read_only;
  // The view's layout (or the table's own), with what the URL changes: its column order,
  // without its hidden fields. Once the URL changes any of it, links carry all of it.
  const { layout, unknown } = layoutOf(model, gv.resolved, state.layout);
  if (unknown.length) problem = `The layout names what is no field of this table (left out): ${unknown.slice(0, 5).join(', ')}.`;
  state = { ...state, layout: hasLayout(state.layout) ? layoutWith(layout, {}) : {} };
  const shown = layout.order.filter((c) => !layout.hidden.includes(c)).map((c) => model.byColumn.get(c)!).filter(Boolean);
  const fields = shown.map((f) => ({ ...fieldInfo(f), width: layout.widths[f.column] }));
  const count = result.count ?? 0;
  const pages = Math.max(1, Math.ceil(count / state.size));
  const base = `/tables/${tableId}`;
  const q = (o: Partial<GridState> = {}) => stateQuery(state, o);
  const effectiveSort = state.sort || gv.resolved?.sort || '';
  const { sortKeys, sortOf, sortOrder, ariaSort, sortHref, addHref } = sortLinks(effectiveSort, (sort) => `${base}?${q({ sort, page: 1 })}`);
  const validFilters = state.filters.filter((_, i) => !filterErrors[i]);
  const bar = viewBar(req, model, gv, { base, filters: validFilters, search: state.search, sort: state.sort, layout, layoutChanged: layoutChanged(model, gv.resolved, layout), href: (view) => `${base}?${stateQuery({ filters: [], search: '', sort: '', page: 1, size: DEFAULT_PAGE_SIZE, view, layout: {} })}` });
  // The add-row form is there for editors only: only they need the link pickers' rows.
  const addFields = editable ? model.fields.filter((f) => !f.meta.read_only) : [];
  const pickers = await Promise.all(addFields.map((f) => linkPicker(ctx, f)));
  return {
    tableId,
    tableName: model.table.name,
    fields,
    hasId: model.hasId,
    // The DOM key of a row: its id, or its place on the page when the id names no one row.
    rows: result.rows.map((row, i) => {
      const key = model.rowId ? String(row.id) : `p${i + 1}`;
      const cells = shown.map((f) => ({ view: cellView(f, row[f.column]), editable: editable && !f.meta.read_only }));
      return { id: row.id as number | undefined, key, cellsHtml: rowCellsHtml(tableId, key, fields, cells) };
    }),
    addInputs: addFields.map((f, i) => ({ ...fieldInfo(f), editor: editorView(f, null, pickers[i]), required: f.meta.not_null && f.meta.default_value == null })),
    state,
    problem,
    filterErrors,
    bar,
    ...layoutLocals(model, layout, (change) => `${base}?${q({ layout: layoutWith(layout, change) })}`),
    editable,
    count,
    countExact: result.count_exact !== false,
    pages,
    pageList: pageList(Math.min(state.page, pages), pages),
    sizes: PAGE_SIZES,
    sortKeys,
    sortOf,
    sortOrder,
    ariaSort,
    sortHref,
    sortAddHref: addHref,
    pageHref: (page: number, size = state.size) => `${base}?${q({ page, size })}`,
    removeFilterHref: (i: number) => `${base}?${q({ filters: state.filters.filter((_, j) => j !== i), page: 1 })}`,
    query: q(),
    exportHref: (excel: boolean) => {
      const s = q({ page: 1, size: DEFAULT_PAGE_SIZE });
      return `${base}/rows.csv${s || excel ? '?' : ''}${s}${s && excel ? '&' : ''}${excel ? 'excel=1' : ''}`;
    },
    ...extra,
  };
}

/** The grid, answered for the current query string. */
export async function answerGrid(ctx: AppContext, req: Request, res: Response, opts: { status?: number; json?: unknown; extra?: Record<string, unknown>; flash?: [FlashKey, number] } = {}) {
  const tableId = idParam(req.params.id);
  const grid = await gridLocals(ctx, req, opts.extra);
  const state = grid.state as GridState;
  // htmx shows the page's URL, so that reload and back show the same grid.
  if (req.get('HX-Request') === 'true' && req.method === 'GET') res.set('HX-Push-Url', `/tables/${tableId}${stateQuery(state) ? `?${stateQuery(state)}` : ''}`);
  await reply(req, res, {
    status: opts.status,
    json: opts.json ?? { rows: [] },
    fragment: 'grid',
    locals: { grid },
    redirect: ((url) => (opts.flash ? withFlash(url, ...opts.flash) : url))(`/tables/${tableId}${stateQuery(state) ? `?${stateQuery(state)}` : ''}`),
  });
}

/** A form value: the last of repeated inputs (a hidden "false" before a checkbox); a multiple select's values, joined (row_page.ts MULTIPLE_MARK). */
export const formValue = (v: unknown): unknown => (Array.isArray(v) ? (v[0] === MULTIPLE_MARK ? v.slice(1).map(String).join(',') : v[v.length - 1]) : v === MULTIPLE_MARK ? '' : v);

export const rowId = (req: Request) => idParam(req.params.rid, 'rid');

// ---------------------------------------------------------------- routes

export const gridRoutes = [
  route('get', '/tables/:id/grid', 'viewer', 'the console grid of rows for the query (fc/fo/fv or filter[col][op], search, sort, page, size)', async (ctx, req, res) => {
    if (browserPage(req)) {
      // A browser asking for the grid alone gets the table page with the same query.
      const qs = req.originalUrl.indexOf('?');
      res.redirect(303, `/tables/${idParam(req.params.id)}${qs >= 0 ? req.originalUrl.slice(qs) : ''}`);
      return;
    }
    await answerGrid(ctx, req, res);
  }),

  route('post', '/tables/:id/grid/rows', 'editor', 'add a row from the grid form; answers the grid for the query string', async (ctx, req, res) => {
    const values = Object.fromEntries(Object.entries(body(req)).map(([k, v]) => [k, formValue(v)]).filter(([, v]) => v !== '' && v !== undefined));
    try {
      const row = await useModel(ctx, req, async (model) => {
        // A link input takes the linked row's label as well as its id (link_picker.ts).
        for (const f of model.fields) if (f.column in values) values[f.column] = await linkValueFromLabel(ctx, f, values[f.column], f.column);
        return createRow(ctx.pool, model, values, writeContext(req));
      });
      rowsChanged(ctx, req, 'create', [row.id as number]);
      await answerGrid(ctx, req, res, { status: 201, json: row, extra: { undo: undoOffer(req, [row.id as number], `Row ${row.id} added.`) } });
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500 || err.status === 404) throw err;
      // The form again, with what was typed and the message beside the field.
      await reply(req, res, {
        status: err.status,
        json: err.toJSON(),
        fragment: 'grid',
        page: 'table',
        locals: await tableLocals(ctx, idParam(req.params.id), { grid: await gridLocals(ctx, req, { addError: err.message, addErrorField: err.field, addValues: values }) }),
      });
    }
  }),

  route('delete', '/tables/:id/grid/rows/:rid', 'editor', 'delete a row from the grid; answers the grid for the query string', async (ctx, req, res) => {
    const id = rowId(req);
    await useModel(ctx, req, (model) => deleteRow(ctx.pool, model, id, writeContext(req)));
    rowsChanged(ctx, req, 'delete', [id]);
    await answerGrid(ctx, req, res, { json: { deleted: id }, extra: { undo: undoOffer(req, [id], `Row ${id} deleted (it is in the row trash).`) }, flash: ['row_deleted', id] });
  }),
];
