// What a saved view holds (its `spec`), read from a request against the table's model.
// Fields are stored by id, with the column and type they had when the view was saved: a
// column rename keeps the view working, and a field since trashed or retyped is noticed
// (server/views/apply.ts drops that clause and says so).
import { badRequest } from '../errors.js';
import { JsonSyntaxError, parseExactJson, RawJson } from '../fields/exact_json.js';
import type { Model } from '../model/compile.js';
import { filterCondition, MAX_PAGE_SIZE, Params, parseSort } from '../model/query.js';

/** A field as a view names it; field_id null is the row id. */
export interface FieldRef {
  field_id: number | null;
  column: string;
  /** the field's type when the view was saved */
  type?: string;
}

export interface Clause extends FieldRef {
  op: string;
  value: unknown;
}

/** A filter: a clause, or a group whose members must all (`all`) or any (`any`) match. */
export type FilterNode = Clause | { any: FilterNode[] } | { all: FilterNode[] };

export interface ViewSpec {
  /** AND-ed */
  filter: FilterNode[];
  sort: Array<FieldRef & { desc: boolean }>;
  hidden: FieldRef[];
  order: FieldRef[];
  widths: Array<FieldRef & { width: number }>;
  /** how many leading columns (after the id) stay in place when the grid scrolls sideways */
  frozen: number;
  size: number | null;
}

export const emptySpec = (): ViewSpec => ({ filter: [], sort: [], hidden: [], order: [], widths: [], frozen: 0, size: null });

const MAX_CLAUSES = 100;
const MAX_DEPTH = 4;
export const MIN_WIDTH = 40;
export const MAX_WIDTH = 2000;
export const MAX_FROZEN = 10;

export function fieldRef(model: Model, column: unknown, param: string, opts: { id?: boolean } = {}): FieldRef {
  if (typeof column !== 'string' || column === '') throw badRequest(`${param} names a field by its column`, param);
  if (column === 'id' && model.hasId && opts.id !== false) return { field_id: null, column: 'id' };
  const f = model.byColumn.get(column);
  if (!f) throw badRequest(`"${column.slice(0, 60)}" is not a field of table "${model.table.name}"`, param);
  return { field_id: f.meta.id, column: f.column, type: f.meta.type };
}

/** Form inputs carry lists and objects as JSON text. */
function decoded(raw: unknown, param: string): unknown {
  if (typeof raw !== 'string') return raw;
  const t = raw.trim();
  if (t === '') return null;
  if (t.startsWith('[') || t.startsWith('{')) {
    // exactly, as a JSON body is read: a number past a double stays its digits (RawJson)
    try {
      return parseExactJson(t);
    } catch (err) {
      if (err instanceof JsonSyntaxError && /nested deeper/.test(err.message)) throw badRequest(`${param} is not valid JSON: ${err.message}`, param);
      throw badRequest(`${param} is not valid JSON`, param);
    }
  }
  return raw;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function filterValue(v: unknown, param: string): unknown {
  // a RawJson is a number a double would change (9007199254740993, 1e400): kept as written
  const primitive = (x: unknown) => x === null || typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' || x instanceof RawJson;
  if (primitive(v) || v === undefined) return v ?? null;
  if (Array.isArray(v) && v.length <= 1000 && v.every(primitive)) return v;
  throw badRequest(`${param} is a value (text, a number, true/false) or, for "in", a list of them`, param);
}

function parseNode(model: Model, raw: unknown, param: string, depth: number, count: { n: number }): FilterNode {
  if (!isObject(raw)) throw badRequest(`${param} is a clause {column, op, value} or a group {any: [...]} / {all: [...]}`, param);
  for (const kind of ['any', 'all'] as const) {
    if (raw[kind] !== undefined) {
      if (depth >= MAX_DEPTH) throw badRequest(`filter groups nest at most ${MAX_DEPTH} deep`, param);
      if (!Array.isArray(raw[kind])) throw badRequest(`${param}.${kind} is a list of clauses`, `${param}.${kind}`);
      // An empty group would say nothing (read as "no restriction", an empty "any" would match every row): refused.
      if ((raw[kind] as unknown[]).length === 0) throw badRequest(`${param}.${kind} is empty: a group needs at least one clause`, `${param}.${kind}`);
      const members = (raw[kind] as unknown[]).map((m, i) => parseNode(model, m, `${param}.${kind}.${i}`, depth + 1, count));
      return kind === 'any' ? { any: members } : { all: members };
    }
  }
  if (++count.n > MAX_CLAUSES) throw badRequest(`a view has at most ${MAX_CLAUSES} filter clauses`, 'filter');
  const ref = fieldRef(model, raw.column ?? raw.field, `${param}.column`);
  const op = raw.op === undefined ? 'eq' : raw.op;
  if (typeof op !== 'string') throw badRequest(`${param}.op is a filter operator`, `${param}.op`);
  const value = filterValue(raw.value, `${param}.value`);
  // The same checks the listing makes: an operator the type has, a value it parses.
  filterCondition(model, ref.column, op, value, new Params(), `${param}.value`);
  return { ...ref, op, value };
}

/**
 * The filter as sent: the listing's own form ({column: {op: value}} or {column: value}),
 * or a list of clauses {column, op, value} and groups {any: [...]}, {all: [...]}.
 */
export function parseViewFilter(model: Model, input: unknown): FilterNode[] {
  const raw = decoded(input, 'filter');
  if (raw === undefined || raw === null || raw === '') return [];
  const count = { n: 0 };
  if (Array.isArray(raw)) return raw.map((n, i) => parseNode(model, n, `filter.${i}`, 1, count));
  if (!isObject(raw)) throw badRequest('filter is a list of clauses {column, op, value}, or {column: {op: value}}', 'filter');
  if (raw.any !== undefined || raw.all !== undefined) return [parseNode(model, raw, 'filter', 1, count)];
  const nodes: FilterNode[] = [];
  for (const [column, spec] of Object.entries(raw)) {
    const entries: Array<[string, unknown]> = isObject(spec) ? Object.entries(spec) : [['eq', spec]];
    for (const [op, value] of entries) {
      const values = Array.isArray(value) && op !== 'in' ? value : [value];
      for (const v of values) nodes.push(parseNode(model, { column, op, value: v }, `filter.${column.slice(0, 60)}.${op.slice(0, 20)}`, 1, count));
    }
  }
  return nodes;
}

/** sort=col,-col as the listing takes it, or a list of those or of {column, desc}. */
export function parseViewSort(model: Model, input: unknown): ViewSpec['sort'] {
  const raw = decoded(input, 'sort');
  if (raw === undefined || raw === null || raw === '') return [];
  const parts = (Array.isArray(raw) ? raw : String(raw).split(',')).map((p, i) => {
    if (isObject(p)) return `${p.desc === true ? '-' : ''}${String(p.column ?? '')}`;
    if (typeof p !== 'string') throw badRequest(`sort.${i} is a column, -column for descending`, 'sort');
    return p.trim();
  }).filter(Boolean);
  parseSort(model, parts.join(',')); // the listing's checks: known fields, sortable, not twice, at most 10
  return parts.map((p) => ({ ...fieldRef(model, p.replace(/^-/, ''), 'sort'), desc: p.startsWith('-') }));
}

function columnList(raw: unknown, param: string): string[] {
  const v = decoded(raw, param);
  if (v === undefined || v === null || v === '') return [];
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw badRequest(`${param} is a list of columns`, param);
}

function refs(model: Model, raw: unknown, param: string): FieldRef[] {
  const out: FieldRef[] = [];
  for (const [i, c] of columnList(raw, param).entries()) {
    const ref = fieldRef(model, c, `${param}.${i}`, { id: false });
    if (out.some((r) => r.field_id === ref.field_id)) throw badRequest(`"${c.slice(0, 60)}" is named twice in ${param}`, param);
    out.push(ref);
  }
  return out;
}

function parseWidths(model: Model, input: unknown): ViewSpec['widths'] {
  const raw = decoded(input, 'widths');
  if (raw === undefined || raw === null || raw === '') return [];
  const entries: Array<[unknown, unknown]> = Array.isArray(raw)
    ? raw.map((w) => (isObject(w) ? [w.column, w.width] : [undefined, undefined]))
    : isObject(raw)
      ? Object.entries(raw)
      : [];
  if (!Array.isArray(raw) && !isObject(raw)) throw badRequest('widths is {column: pixels}', 'widths');
  return entries.map(([column, width]) => {
    const n = typeof width === 'string' && /^\d+$/.test(width) ? Number(width) : width;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < MIN_WIDTH || n > MAX_WIDTH) {
      throw badRequest(`widths.${String(column).slice(0, 60)} is a whole number of pixels from ${MIN_WIDTH} to ${MAX_WIDTH}`, `widths.${String(column).slice(0, 60)}`);
    }
    return { ...fieldRef(model, column, `widths.${String(column).slice(0, 60)}`, { id: false }), width: n };
  });
}

function intIn(raw: unknown, param: string, min: number, max: number): number {
  const n = typeof raw === 'string' && /^\d{1,6}$/.test(raw.trim()) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw badRequest(`${param} is a whole number from ${min} to ${max}`, param);
  return n;
}

/** The spec after applying `input` to `base` (PATCH: only what is sent changes). */
export function parseViewSpec(model: Model, input: Record<string, unknown>, base: ViewSpec = emptySpec()): ViewSpec {
  const spec: ViewSpec = { ...base };
  if (input.filter !== undefined) spec.filter = parseViewFilter(model, input.filter);
  if (input.sort !== undefined) spec.sort = parseViewSort(model, input.sort);
  if (input.hidden !== undefined) spec.hidden = refs(model, input.hidden, 'hidden');
  if (input.order !== undefined) spec.order = refs(model, input.order, 'order');
  if (input.widths !== undefined) spec.widths = parseWidths(model, input.widths);
  if (input.frozen !== undefined) spec.frozen = input.frozen === null || input.frozen === '' ? 0 : intIn(input.frozen, 'frozen', 0, MAX_FROZEN);
  if (input.size !== undefined) spec.size = input.size === null || input.size === '' ? null : intIn(input.size, 'size', 1, MAX_PAGE_SIZE);
  return spec;
}
