// The grid's layout in the console (issue 18): which fields show, in which order, how
// wide, and how many stay in place when the grid scrolls sideways. A saved view holds one
// (hidden, order, widths, frozen); the URL may change it for now, as it does filters:
//   hide=col,col        the hidden fields (hide= : none)
//   show=col&show=col   the fields to show, the others hidden (the "Hide fields" form,
//                       whose unchecked boxes send nothing)
//   order=col,col       the column order (fields it leaves out follow in display order)
//   widths=col:120,...  column widths in pixels (widths= : none)
//   frozen=N            the first N shown fields are frozen (0..10)
// The grid shows "unsaved changes" while the URL's layout differs from the view's; Save
// writes it into the view (PATCH /tables/:id/views/:vid). Names that are no field (a
// stale link after a rename) are left out and said, never a 500.
import type { Model } from '../model/compile.js';
import type { ResolvedView } from '../views/apply.js';
import { MAX_FROZEN, MAX_WIDTH, MIN_WIDTH } from '../views/spec.js';

/** What the URL asks for; a part left undefined is the view's. */
export interface LayoutParams {
  hide?: string[];
  show?: string[];
  order?: string[];
  widths?: Record<string, number>;
  frozen?: number;
}

export interface Layout {
  hidden: string[];
  order: string[];
  widths: Record<string, number>;
  frozen: number;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : Array.isArray(v) ? str(v[v.length - 1]) : undefined);
const csv = (v: unknown): string[] | undefined => {
  const s = str(v);
  return s === undefined ? undefined : s.split(',').map((c) => c.trim()).filter(Boolean).slice(0, 2000);
};

/** The layout parameters of a query string (nothing here knows the table: see layoutOf). */
export function layoutParams(query: Record<string, unknown>): LayoutParams {
  const out: LayoutParams = {};
  const hide = csv(query.hide);
  if (hide) out.hide = hide;
  if (query.show !== undefined) {
    const show = Array.isArray(query.show) ? query.show : [query.show];
    out.show = show.filter((s): s is string => typeof s === 'string' && s !== '');
  }
  const order = csv(query.order);
  if (order) out.order = order;
  const widths = csv(query.widths);
  if (widths) {
    out.widths = Object.create(null) as Record<string, number>;
    for (const w of widths) {
      const m = /^(.+):(\d{1,4})$/.exec(w);
      if (m) out.widths[m[1]!] = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, Number(m[2])));
    }
  }
  const frozen = str(query.frozen);
  if (frozen !== undefined && /^\d{1,2}$/.test(frozen)) out.frozen = Math.min(MAX_FROZEN, Number(frozen));
  return out;
}

/** The layout as query parameters (hide, order, widths, frozen), in the order links carry them. */
export function appendLayout(q: URLSearchParams, l: LayoutParams): void {
  if (l.hide) q.set('hide', l.hide.join(','));
  if (l.order) q.set('order', l.order.join(','));
  if (l.widths) q.set('widths', Object.entries(l.widths).map(([c, w]) => `${c}:${w}`).join(','));
  if (l.frozen !== undefined) q.set('frozen', String(l.frozen));
}

export const hasLayout = (l: LayoutParams): boolean => Object.values(l).some((v) => v !== undefined);

/** The layout a view gives (or the table's own: every field in display order). */
export function baseLayout(model: Model, resolved: ResolvedView | undefined): Layout {
  return resolved
    ? { hidden: [...resolved.hidden], order: [...resolved.order], widths: { ...resolved.widths }, frozen: resolved.frozen }
    : { hidden: [], order: model.fields.map((f) => f.column), widths: {}, frozen: 0 };
}

/** The layout shown: the view's, with what the URL changes; `unknown` lists names that are no field. */
export function layoutOf(model: Model, resolved: ResolvedView | undefined, p: LayoutParams): { layout: Layout; unknown: string[] } {
  const base = baseLayout(model, resolved);
  const unknown: string[] = [];
  const known = (c: string) => {
    if (model.byColumn.has(c)) return true;
    if (!unknown.includes(c)) unknown.push(c);
    return false;
  };
  const all = model.fields.map((f) => f.column);
  let order = base.order;
  if (p.order) {
    const named = [...new Set(p.order.filter(known))];
    order = [...named, ...base.order.filter((c) => !named.includes(c))];
  }
  // A field the base order misses (added since the view was saved) shows at the end.
  order = [...order.filter((c) => model.byColumn.has(c)), ...all.filter((c) => !order.includes(c))];
  let hidden = base.hidden;
  if (p.show) {
    const shown = new Set(p.show.filter(known));
    hidden = all.filter((c) => !shown.has(c));
  } else if (p.hide) hidden = [...new Set(p.hide.filter(known))];
  const widths: Record<string, number> = {};
  for (const [c, w] of Object.entries(p.widths ?? base.widths)) if (known(c)) widths[c] = w;
  return { layout: { hidden, order, widths, frozen: p.frozen ?? base.frozen }, unknown };
}

/** Does the layout shown differ from the view's (or, without a view, from the table's own)? */
export function layoutChanged(model: Model, resolved: ResolvedView | undefined, shown: Layout): boolean {
  const base = baseLayout(model, resolved);
  const visible = (l: Layout) => l.order.filter((c) => !l.hidden.includes(c)).join(',');
  const widths = (w: Record<string, number>) => JSON.stringify(Object.entries(w).sort(([a], [b]) => a.localeCompare(b)));
  return visible(base) !== visible(shown) || [...base.hidden].sort().join(',') !== [...shown.hidden].sort().join(',') || widths(base.widths) !== widths(shown.widths) || base.frozen !== shown.frozen;
}

/** The full layout as URL parameters, with a change: what the header menus' links carry. */
export function layoutWith(l: Layout, change: Partial<Layout>): LayoutParams {
  const next = { ...l, ...change };
  return { hide: next.hidden, order: next.order, widths: next.widths, frozen: next.frozen };
}

/** `column` moved by `by` places among the shown fields (hidden ones keep their places). */
export function moved(l: Layout, column: string, by: number): string[] {
  const shown = l.order.filter((c) => !l.hidden.includes(c));
  const i = shown.indexOf(column);
  const j = i + by;
  if (i < 0 || j < 0 || j >= shown.length) return l.order;
  const target = shown[j]!;
  const order = l.order.filter((c) => c !== column);
  const at = order.indexOf(target) + (by > 0 ? 1 : 0);
  order.splice(at, 0, column);
  return order;
}
