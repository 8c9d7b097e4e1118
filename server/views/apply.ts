// A saved view against the table as it is now. Fields are found by id (a renamed column
// is followed); what no longer fits (a field trashed, a filter on a field whose type
// changed, a value the type no longer parses) is left out and reported as a problem, so
// that a view always lists rows and never fails the request.
import { AppError } from '../errors.js';
import type { Model, ModelField } from '../model/compile.js';
import { filterCondition, Params, parseSort } from '../model/query.js';
import type { FieldRef, FilterNode, ViewSpec } from './spec.js';

export interface ViewProblem {
  /** which part of the view: filter, sort, hidden, order, widths */
  part: string;
  /** the column as the view saved it */
  column: string;
  field_id: number | null;
  reason: 'field_trashed' | 'field_retyped' | 'invalid';
  message: string;
}

/** The view as the listing uses it now. */
export interface ResolvedView {
  /** the filter's conditions (AND-ed), their values added to `params` */
  where(params: Params): string[];
  /** sort=col,-col with current columns ('' for none) */
  sort: string;
  size: number | null;
  /** current columns left out of rows */
  hidden: Set<string>;
  /** every current column in the view's order (those it does not name follow in display order) */
  order: string[];
  widths: Record<string, number>;
  frozen: number;
  problems: ViewProblem[];
}

type Found = { field: ModelField | 'id' } | { problem: ViewProblem };

function find(model: Model, ref: FieldRef, part: string): Found {
  if (ref.field_id === null) return model.hasId ? { field: 'id' } : { problem: { part, column: ref.column, field_id: null, reason: 'invalid', message: `table "${model.table.name}" has no id column` } };
  const field = model.fields.find((f) => f.meta.id === ref.field_id);
  if (!field) return { problem: { part, column: ref.column, field_id: ref.field_id, reason: 'field_trashed', message: `the field "${ref.column}" is no longer in the table (trashed); left out` } };
  return { field };
}

const columnOf = (f: ModelField | 'id') => (f === 'id' ? 'id' : f.column);

/** Current columns of refs that still name a field; problems for those that do not. */
function columns(model: Model, list: FieldRef[], part: string, problems: ViewProblem[]): string[] {
  const out: string[] = [];
  for (const ref of list) {
    const found = find(model, ref, part);
    if ('problem' in found) problems.push(found.problem);
    else out.push(columnOf(found.field));
  }
  return out;
}

interface Compiled {
  sql: (params: Params) => string | null;
}

function compileNode(model: Model, node: FilterNode, problems: ViewProblem[]): Compiled {
  if ('any' in node || 'all' in node) {
    const any = 'any' in node;
    const members = (any ? (node as { any: FilterNode[] }).any : (node as { all: FilterNode[] }).all).map((m) => compileNode(model, m, problems));
    return {
      sql: (params) => {
        const parts = members.map((m) => m.sql(params)).filter((s): s is string => s !== null);
        // A group whose members were all left out restricts nothing, as a left-out clause.
        return parts.length === 0 ? null : `(${parts.join(any ? ' OR ' : ' AND ')})`;
      },
    };
  }
  const clause = node;
  const found = find(model, clause, 'filter');
  if ('problem' in found) {
    problems.push(found.problem);
    return { sql: () => null };
  }
  const column = columnOf(found.field);
  if (found.field !== 'id' && clause.type !== undefined && found.field.meta.type !== clause.type) {
    problems.push({ part: 'filter', column: clause.column, field_id: clause.field_id, reason: 'field_retyped', message: `the field "${column}" is ${found.field.type.label} now (the view filtered it as ${clause.type}); its filter is left out` });
    return { sql: () => null };
  }
  try {
    // Tried on its own first: a clause that fails leaves no values behind in `params`.
    filterCondition(model, column, clause.op, clause.value, new Params(), 'filter');
  } catch (err) {
    if (!(err instanceof AppError) || err.status !== 400) throw err;
    problems.push({ part: 'filter', column: clause.column, field_id: clause.field_id, reason: 'invalid', message: `${err.message}; this filter is left out` });
    return { sql: () => null };
  }
  return { sql: (params) => filterCondition(model, column, clause.op, clause.value, params, 'filter') };
}

export function resolveView(model: Model, spec: ViewSpec): ResolvedView {
  const problems: ViewProblem[] = [];
  const filters = spec.filter.map((n) => compileNode(model, n, problems));

  const sortParts: string[] = [];
  for (const s of spec.sort) {
    const found = find(model, s, 'sort');
    if ('problem' in found) {
      problems.push(found.problem);
      continue;
    }
    const part = `${s.desc ? '-' : ''}${columnOf(found.field)}`;
    try {
      parseSort(model, [...sortParts, part].join(','));
      sortParts.push(part);
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 400) throw err;
      problems.push({ part: 'sort', column: s.column, field_id: s.field_id, reason: found.field !== 'id' && found.field.meta.type !== s.type ? 'field_retyped' : 'invalid', message: `${err.message}; this sort is left out` });
    }
  }

  const hidden = new Set(columns(model, spec.hidden, 'hidden', problems));
  const named = columns(model, spec.order, 'order', problems);
  const order = [...named, ...model.fields.map((f) => f.column).filter((c) => !named.includes(c))];
  const widths: Record<string, number> = {};
  for (const w of spec.widths) {
    const found = find(model, w, 'widths');
    if ('problem' in found) problems.push(found.problem);
    else widths[columnOf(found.field)] = w.width;
  }
  return {
    where: (params) => filters.map((f) => f.sql(params)).filter((s): s is string => s !== null),
    sort: sortParts.join(','),
    size: spec.size,
    hidden,
    order,
    widths,
    frozen: spec.frozen,
    problems,
  };
}

/** A view's filter as scripts read it back: clauses with their current column. */
export function filterJson(model: Model | undefined, nodes: FilterNode[]): unknown[] {
  return nodes.map((n) => {
    if ('any' in n) return { any: filterJson(model, n.any) };
    if ('all' in n) return { all: filterJson(model, n.all) };
    return { column: currentColumn(model, n), op: n.op, value: n.value };
  });
}

export function currentColumn(model: Model | undefined, ref: FieldRef): string {
  if (!model || ref.field_id === null) return ref.column;
  return model.fields.find((f) => f.meta.id === ref.field_id)?.column ?? ref.column;
}
