// Turning a list request (filters, search, sort, page or cursor) into SQL over a model.
// Every value is a $n parameter; every identifier comes from the compiled model, never
// from the request: a filter or sort key that names no field is a 400.
import { AppError, badRequest } from '../errors.js';
import { optionIdsText } from '../fields/multiple_select.js';
import { FieldValueError, FILTER_OPS, type FilterOp } from '../fields/types.js';
import { parseLinkList } from '../fields/link_list.js';
import { ROW_ALIAS, type Model, type ModelField } from './compile.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** Collects bound values; add() answers the placeholder. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export interface SortKey {
  /** 'id' or a field's column */
  column: string;
  desc: boolean;
  /** the SQL it sorts by (labels for select options and links) */
  expr: string;
  /** it can be NULL: the order says NULLS LAST, and the cursor allows for NULLs */
  nullable: boolean;
}

export interface ListQuery {
  where: string[];
  params: Params;
  sort: SortKey[];
  size: number;
  page?: number;
  after?: Array<string | null>;
}

const TEXTUAL = new Set(['text', 'long_text', 'email', 'url']);
const ID_FILTER_OPS: readonly FilterOp[] = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in'];

function fieldFor(model: Model, column: string, param: string): ModelField | 'id' {
  if (column === 'id' && model.hasId) return 'id';
  const f = model.byColumn.get(column);
  if (!f) throw new AppError(400, 'unknown_field', `"${column.slice(0, 60)}" is not a field of table "${model.table.name}"`, param);
  return f;
}

function parseValue(field: ModelField | 'id', raw: unknown, param: string): unknown {
  if (field === 'id') {
    const s = String(raw).trim();
    if (!/^\d{1,18}$/.test(s)) throw badRequest('an id is a positive whole number', param);
    return Number(s);
  }
  try {
    const v = field.type.parse(raw, field.options);
    if (v === null) throw new FieldValueError('needs a value');
    return v;
  } catch (err) {
    if (err instanceof FieldValueError) throw badRequest(`${field.meta.name}: ${err.message}`, param);
    throw err;
  }
}

function likePattern(raw: unknown): string {
  const s = typeof raw === 'string' ? raw : String(raw ?? '');
  if (s.includes('\0')) throw badRequest('a filter value may not contain NUL bytes', 'filter');
  return `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * What a filter or the search compares: the column, or, for a column adopted read-only as
 * text from a type no field type models (an enum, uuid, inet, xml...: pg_type), its text,
 * as the API shows it. Compared as themselves such columns take no text pattern and no ''
 * (an enum has no ILIKE; '' is no uuid), and one of them made every search of the table fail.
 */
function matchRef(field: ModelField): string {
  return field.meta.pg_type && TEXTUAL.has(field.meta.type) ? `(${field.ref})::text` : field.ref;
}

/** One filter condition; `field` is already known to the model. */
function condition(field: ModelField | 'id', op: FilterOp, raw: unknown, params: Params, param: string): string {
  const ref = field === 'id' ? `${ROW_ALIAS}.id` : matchRef(field);
  const ops = field === 'id' ? ID_FILTER_OPS : field.type.filterOps;
  if (!ops.includes(op)) {
    throw badRequest(`${field === 'id' ? 'id' : field.meta.name} (${field === 'id' ? 'id' : field.type.label}) cannot be filtered with "${op}"; use one of: ${ops.join(', ')}`, param);
  }
  if (field !== 'id' && field.many !== undefined) return manyCondition(field, op, raw, params, param);
  if (field !== 'id' && field.meta.type === 'lookup') return lookupCondition(field, op, raw, params);
  if (field !== 'id' && field.meta.type === 'rollup' && op === 'contains') return `(${ref})::text ILIKE ${params.add(likePattern(raw))}`;
  const textual = field !== 'id' && TEXTUAL.has(field.meta.type);
  switch (op) {
    case 'empty':
      return textual ? `(${ref} IS NULL OR ${ref} = '')` : `${ref} IS NULL`;
    case 'not_empty':
      return textual ? `(${ref} IS NOT NULL AND ${ref} <> '')` : `${ref} IS NOT NULL`;
    case 'contains': {
      const target = field !== 'id' && field.meta.type === 'json' ? `${ref}::text` : ref;
      return `${target} ILIKE ${params.add(likePattern(raw))}`;
    }
    case 'has_any':
    case 'has_all':
    case 'has_none': {
      // The chosen options' ids as one int[] parameter; && and @> can use the column's GIN index.
      const ids = parseValue(field, raw, param);
      const p = `${params.add(ids)}::int[]`;
      if (op === 'has_any') return `${ref} && ${p}`;
      if (op === 'has_all') return `${ref} @> ${p}`;
      return `(${ref} IS NULL OR NOT (${ref} && ${p}))`;
    }
    case 'in': {
      const list = Array.isArray(raw) ? raw : String(raw ?? '').split(',');
      const values = list.map((v) => (typeof v === 'string' ? v.trim() : v)).filter((v) => v !== '');
      if (values.length === 0) throw badRequest('"in" needs a comma-separated list of values', param);
      if (values.length > 1000) throw badRequest('"in" takes at most 1000 values', param);
      const placeholders = values.map((v) => params.add(parseValue(field, v, param)));
      return `${ref} IN (${placeholders.join(', ')})`;
    }
    default: {
      const sqlOp = { eq: '=', neq: 'IS DISTINCT FROM', gt: '>', gte: '>=', lt: '<', lte: '<=' }[op];
      return `${ref} ${sqlOp} ${params.add(parseValue(field, raw, param))}`;
    }
  }
}

/** A lookup's value is a list: contains (any value's text), eq (some value's text equals), empty, not_empty. */
function lookupCondition(field: ModelField, op: FilterOp, raw: unknown, params: Params): string {
  const ref = field.ref;
  if (op === 'empty') return `jsonb_array_length(${ref}) = 0`;
  if (op === 'not_empty') return `jsonb_array_length(${ref}) > 0`;
  const match = op === 'contains' ? `v ILIKE ${params.add(likePattern(raw))}` : `v = ${params.add(String(raw ?? ''))}`;
  return `EXISTS (SELECT 1 FROM jsonb_array_elements_text(${ref}) AS v WHERE ${match})`;
}

/**
 * A many-to-many field's value is its [{id,label}] list: empty / not_empty, and eq / neq /
 * in by a linked row's id ("12", "#12") or its label.
 */
function manyCondition(field: ModelField, op: FilterOp, raw: unknown, params: Params, param: string): string {
  const ref = field.ref;
  if (op === 'empty') return `jsonb_array_length(${ref}) = 0`;
  if (op === 'not_empty') return `jsonb_array_length(${ref}) > 0`;
  let list: ReturnType<typeof parseLinkList>;
  try {
    list = parseLinkList(op === 'in' ? raw : Array.isArray(raw) ? raw : [raw]);
  } catch (err) {
    if (err instanceof FieldValueError) throw badRequest(`${field.meta.name}: ${err.message}`, param);
    throw err;
  }
  if (list.ids.length + list.labels.length === 0) throw badRequest(`${field.meta.name}: give a linked row's id or label`, param);
  const has = `EXISTS (SELECT 1 FROM jsonb_array_elements(${ref}) AS e WHERE (e->>'id') = ANY(${params.add(list.ids)}::text[]) OR (e->>'label') = ANY(${params.add(list.labels)}::text[]))`;
  if (op === 'eq' || op === 'in') return has;
  if (op === 'neq') return `NOT ${has}`;
  throw badRequest(`${field.meta.name} (many-to-many link) cannot be filtered with "${op}"; use one of: eq, neq, in, empty, not_empty`, param);
}

/**
 * One condition named by column and operator (a saved view's clause, one filter chip):
 * the same checks as the filter parameter, the same 400s naming `param`.
 */
export function filterCondition(model: Model, column: string, op: string, value: unknown, params: Params, param: string): string {
  const field = fieldFor(model, column, param);
  if (!(FILTER_OPS as readonly string[]).includes(op)) throw badRequest(`"${op.slice(0, 20)}" is not a filter operator; use one of: ${FILTER_OPS.join(', ')}`, param);
  return condition(field, op as FilterOp, value, params, param);
}

/**
 * filter[col][op]=v (or filter[col]=v for eq), AND-ed. `raw` is the parsed query string's
 * `filter` object.
 */
export function parseFilters(model: Model, raw: unknown, params: Params): string[] {
  if (raw === undefined || raw === '') return [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badRequest('filters look like filter[column][op]=value', 'filter');
  const where: string[] = [];
  for (const [column, spec] of Object.entries(raw as Record<string, unknown>)) {
    const param = `filter[${column.slice(0, 60)}]`;
    const field = fieldFor(model, column, param);
    const entries: Array<[string, unknown]> = spec !== null && typeof spec === 'object' && !Array.isArray(spec) ? Object.entries(spec) : [['eq', spec]];
    for (const [op, value] of entries) {
      if (!(FILTER_OPS as readonly string[]).includes(op)) throw badRequest(`"${op.slice(0, 20)}" is not a filter operator; use one of: ${FILTER_OPS.join(', ')}`, `${param}[${op.slice(0, 20)}]`);
      const values = Array.isArray(value) && op !== 'in' && !op.startsWith('has_') ? value : [value];
      for (const v of values) where.push(condition(field, op as FilterOp, v, params, `${param}[${op}]`));
    }
  }
  return where;
}

/** search=text: any text-like field contains it (case-insensitive). */
export function parseSearch(model: Model, raw: unknown, params: Params): string[] {
  if (raw === undefined || raw === '') return [];
  if (typeof raw !== 'string') throw badRequest('search is one piece of text', 'search');
  if (raw.length > 200) throw badRequest('search is at most 200 characters', 'search');
  if (model.searchable.length === 0) return ['false'];
  const p = params.add(likePattern(raw));
  return [`(${model.searchable.map((f) => `${matchRef(f)} ILIKE ${p}`).join(' OR ')})`];
}

function sortExpr(field: ModelField | 'id'): string {
  if (field === 'id') return `${ROW_ALIAS}.id`;
  if (field.meta.type === 'single_select') {
    // Options sort by label, not by id: a position in the labels' order.
    const ids = [...(field.options.choices as Array<{ id: number; label: string }>)].sort((a, b) => a.label.localeCompare(b.label)).map((c) => c.id);
    return ids.length ? `array_position(ARRAY[${ids.join(',')}]::int[], ${field.ref})` : field.ref;
  }
  if (field.meta.type === 'multiple_select') {
    // By the labels, in the options' order, as the grid shows them ('a, b' before 'b').
    return optionIdsText(field.ref, field.options);
  }
  if (field.meta.type === 'link' && field.link?.labelRef) return field.link.labelRef;
  // a list sorts by its first linked row's label (the lists are ordered by id)
  if (field.many !== undefined) return `(${field.ref} -> 0 ->> 'label')`;
  if (field.meta.type === 'lookup') return `(${field.ref} ->> 0)`;
  return field.ref;
}

/** sort=col,-col (the table's key breaks ties, id for ours, so every order is stable and total). */
export function parseSort(model: Model, raw: unknown): SortKey[] {
  const keys: SortKey[] = [];
  if (raw !== undefined && raw !== '') {
    const text = Array.isArray(raw) ? raw.join(',') : String(raw);
    for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
      const desc = part.startsWith('-');
      const column = desc ? part.slice(1) : part;
      const field = fieldFor(model, column, 'sort');
      if (field !== 'id' && field.meta.type === 'json') throw badRequest(`${field.meta.name} (JSON) cannot be sorted`, 'sort');
      if (keys.some((k) => k.column === column)) throw badRequest(`"${column}" is sorted twice`, 'sort');
      // Every field counts as nullable (metadata's NOT NULL may not hold yet: a NOT VALID
      // constraint, drift); only an id that is the primary key never is NULL.
      keys.push({ column, desc, expr: sortExpr(field), nullable: !(field === 'id' && model.rowId) });
      if (keys.length > 10) throw badRequest('sort by at most 10 fields', 'sort');
    }
  }
  for (const k of model.key) if (!keys.some((s) => s.expr === k.expr)) keys.push({ column: k.column, desc: false, expr: k.expr, nullable: false });
  return keys;
}

export function parseSize(raw: unknown): number {
  if (raw === undefined || raw === '') return DEFAULT_PAGE_SIZE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) throw badRequest(`size is a whole number from 1 to ${MAX_PAGE_SIZE}`, 'size');
  return n;
}

export function parsePage(raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw badRequest('page is a whole number from 1', 'page');
  return n;
}

/** Cursors are opaque to scripts: base64url JSON of the last row's sort values. */
export function encodeCursor(values: Array<string | null>): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(raw: unknown, keys: number): Array<string | null> {
  try {
    const v = JSON.parse(Buffer.from(String(raw), 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === keys && v.every((x) => x === null || typeof x === 'string')) return v as Array<string | null>;
  } catch {
    // fall through
  }
  throw badRequest('after is not a cursor from this listing (sort and cursor must match)', 'after');
}

/**
 * Rows strictly after the cursor in the sort order. NULLs sort last in both directions
 * (orderBy), and the table's key breaks ties.
 */
export function keysetCondition(sort: SortKey[], after: Array<string | null>, params: Params): string {
  const alternatives: string[] = [];
  for (let i = 0; i < sort.length; i++) {
    const { expr, desc, nullable } = sort[i]!;
    const v = after[i];
    // Nothing sorts after a NULL in this key (NULLs last): no alternative here, and no
    // placeholders either (an unused $n has no type and fails the query).
    if (v === null) continue;
    const parts: string[] = [];
    for (let j = 0; j < i; j++) {
      parts.push(after[j] === null ? `${sort[j]!.expr} IS NULL` : `${sort[j]!.expr} = ${params.add(after[j])}`);
    }
    const beyond = `${expr} ${desc ? '<' : '>'} ${params.add(v)}`;
    parts.push(nullable ? `(${beyond} OR ${expr} IS NULL)` : beyond);
    alternatives.push(parts.join(' AND '));
  }
  return alternatives.length ? `(${alternatives.map((a) => `(${a})`).join(' OR ')})` : 'false';
}

/**
 * NULLs last in both directions (an empty value is never "the biggest"). ASC puts them
 * last already; DESC says so only where the key can be NULL, so that a descending walk
 * of a NOT NULL key (id) still reads its index backwards.
 */
export function orderBy(sort: SortKey[]): string {
  return sort.map((k) => `${k.expr} ${k.desc ? (k.nullable ? 'DESC NULLS LAST' : 'DESC') : 'ASC'}`).join(', ');
}
