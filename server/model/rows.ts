// Row operations over a compiled model. Values are parsed and validated by the field
// types before any SQL runs: a bad value is a 422 naming the field and the reason, and
// nothing is written. Writes return the row as reads do (with link labels) in the same
// round trip.
import { idNotGenerated, pgErrorToApp } from '../db/pg_errors.js';
import type { Queryable } from '../db/pool.js';
import { queryAfter } from '../db/bounded_query.js';
import { AppError, badRequest, conflict, notFound, unprocessable } from '../errors.js';
import { FieldValueError } from '../fields/types.js';
import { isStaleModelError } from './cache.js';
import { stampSql, type WriteContext } from '../history/stamp.js';
import { rowToJson, ROW_ALIAS, type Model, type ModelField } from './compile.js';
import { rowJsonText, rowsJsonText } from './row_json.js';
import { RawJson, stringifyExact } from '../fields/exact_json.js';
import { modelStatement, queryStatement } from './statements.js';
import { fieldOfJunctionConstraint, manyWriteCtes, resolveManyValues, splitManyValues, type ManyWrite } from './link_writes.js';
import {
  decodeCursor,
  encodeCursor,
  keysetCondition,
  orderBy,
  Params,
  parseFilters,
  parsePage,
  parseSearch,
  parseSize,
  parseSort,
} from './query.js';

/** Bulk requests take at most this many rows. */
export const MAX_BULK_ROWS = 1000;
/** Below this many rows (estimated) an exact count is always taken. */
export const EXACT_COUNT_LIMIT = 100_000;
/** An exact count of a filtered listing may take this long before an estimate is used. */
export const COUNT_TIMEOUT_MS = 300;

export type Row = Record<string, unknown>;

/**
 * The one way a row write names its table: every INSERT, UPDATE and DELETE of rows (the
 * API one at a time and in bulk, the grid, CSV imports in a request or a job) takes its
 * target from here, so a table adopted read-only refuses them all, and a table whose
 * `id` does not name one row (a composite key) is never written by id.
 */
export function writeTarget(model: Model): string {
  if (model.table.read_only) {
    throw conflict('read_only', `table "${model.table.name}" was adopted read-only (${model.rowId ? 'its id is not filled by PostgreSQL' : 'its rows have no single id'}); rows cannot be added, changed or deleted here`);
  }
  if (!model.rowId) throw conflict('read_only', `rows of table "${model.table.name}" have no single id; they cannot be changed here`);
  return model.relation;
}

/** Single-row reads by id need an id that names one row. */
function byIdTarget(model: Model): void {
  if (!model.rowId) {
    throw conflict('no_row_id', `rows of table "${model.table.name}" have no single id (${model.hasId ? 'its key has several columns' : 'it has no id column'}); find them with the listing's filters`);
  }
}

export interface ListRequest {
  filter?: unknown;
  search?: unknown;
  sort?: unknown;
  size?: unknown;
  page?: unknown;
  after?: unknown;
  /** '0' skips the count, '1' asks for it with a cursor */
  count?: unknown;
  /** a saved view's conditions (server/views/apply.ts), AND-ed with the filters */
  view?: { where(params: Params): string[] };
}

export interface ListResult {
  rows: Row[];
  /** cursor for the rows after these (pass as `after`); null on the last page */
  next: string | null;
  count?: number;
  /** false when count is PostgreSQL's estimate (a big table, or a slow filter) */
  count_exact?: boolean;
  page?: number;
  size: number;
}

export function listRows(pool: import('pg').Pool, model: Model, req: ListRequest): Promise<ListResult> {
  return listWith(pool, model, req, (rows) => rows.map((r) => rowToJson(model, r)));
}

/**
 * The same listing with its rows as JSON text (server/model/row_json.ts: no object per
 * row), for an answer that goes out as JSON as it is: the row API's GET without a view.
 */
export function listRowsJson(pool: import('pg').Pool, model: Model, req: ListRequest): Promise<Omit<ListResult, 'rows'> & { rows: RawJson }> {
  return listWith(pool, model, req, (rows) => new RawJson(rowsJsonText(model, rows)));
}

async function listWith<R>(pool: import('pg').Pool, model: Model, req: ListRequest, write: (rows: Row[]) => R): Promise<Omit<ListResult, 'rows'> & { rows: R }> {
  const params = new Params();
  const where = [...(req.view?.where(params) ?? []), ...parseFilters(model, req.filter, params), ...parseSearch(model, req.search, params)];
  const sort = parseSort(model, req.sort);
  const size = parseSize(req.size);
  const page = parsePage(req.page);
  if (page !== undefined && req.after !== undefined && req.after !== '') throw badRequest('use page or after, not both', 'after');
  const filterWhere = [...where];
  const filterValues = [...params.values];
  if (req.after !== undefined && req.after !== '') where.push(keysetCondition(sort, decodeCursor(req.after, sort.length), params));

  const keys = sort.map((k, i) => `(${k.expr})::text AS "__k${i}"`).join(', ');
  const pageOf = (from: string) =>
    `${from}` + (where.length ? ` WHERE ${where.join(' AND ')}` : '') + ` ORDER BY ${orderBy(sort)} LIMIT ${size + 1}` + (page !== undefined ? ` OFFSET ${(page - 1) * size}` : '');
  const readsLateral = (s: string) => model.lateralAliases.some((a) => s.includes(`${a}.`));
  // Link laterals (many-to-many, lookups, rollups) that no condition or sort key reads are
  // computed for the page's rows alone: the page is chosen first, then joined to them (a
  // sort or an offset over the whole table would otherwise compute them for every row).
  const narrow = model.rowId && !where.some(readsLateral) && !sort.some((k) => readsLateral(k.expr));
  const pageFirst = narrow && model.lateralAliases.length > 0;
  // A page past the first skips OFFSET rows: PostgreSQL reads (and would project, every
  // field formatted) each of them. The ids are chosen first, by a scan that reads the
  // sort keys and the id alone (an index-only scan in id order), and only the page's rows
  // are read in full: page 2,000 of a 50-field table went from seconds to tens of ms.
  const idsFirst = narrow && page !== undefined && page > 1;
  const text = idsFirst
    ? `SELECT ${model.selectList}, ${keys} FROM ${model.from} WHERE ${ROW_ALIAS}.id IN (SELECT ${ROW_ALIAS}.id FROM ${pageOf(model.plainFrom)}) ORDER BY ${orderBy(sort)}`
    : pageFirst
      ? `SELECT ${model.selectList}, ${sort.map((_, i) => `${ROW_ALIAS}."__k${i}"`).join(', ')} FROM (SELECT ${ROW_ALIAS}.*, ${keys} FROM ${pageOf(model.plainFrom)}) AS ${ROW_ALIAS} ${model.joins} ORDER BY ${orderBy(sort)}`
      : `SELECT ${model.selectList}, ${keys} FROM ${pageOf(model.from)}`;
  const keyset = req.after !== undefined && req.after !== '';
  const { rows } = await queryStatement<Row>(pool, modelStatement(model, text, () => text), params.values).catch((err: { code?: string }) => {
    // A cursor decodes to strings; one that does not fit the sort's types (a text for the
    // id, a number past bigint) is PostgreSQL's data exception: the client's cursor is bad.
    if (keyset && typeof err?.code === 'string' && err.code.startsWith('22')) throw badRequest('after is not a cursor from this listing (sort and cursor must match)', 'after');
    throw rowError(model, err, 'select');
  });
  const more = rows.length > size;
  const pageRows = more ? rows.slice(0, size) : rows;
  const last = pageRows[pageRows.length - 1];
  const result: Omit<ListResult, 'rows'> & { rows: R } = {
    rows: write(pageRows),
    next: more && last ? encodeCursor(sort.map((_, i) => (last[`__k${i}`] as string | null) ?? null)) : null,
    size,
    ...(page !== undefined ? { page } : {}),
  };
  // The count is a second scan of every matching row: taken when asked (count=1), or for
  // a numbered page (page=N: a pager needs the total); a plain listing or a cursor page
  // answers without it. count=0 skips it always.
  const wantCount = req.count === undefined || req.count === '' ? page !== undefined : req.count === '1' || req.count === 'true' || req.count === true;
  // What this page already tells of the count: where it starts (unknown after a cursor).
  const seen = page !== undefined ? { offset: (page - 1) * size, rows: pageRows.length, more } : keyset ? undefined : { offset: 0, rows: pageRows.length, more };
  if (wantCount) Object.assign(result, await countRows(pool, model, filterWhere, filterValues, seen));
  return result;
}

/**
 * A count that stays fast on big tables. A numbered page that is the last one (`seen`:
 * fewer rows than asked for) is its own exact count, with no second scan. Otherwise:
 * below EXACT_COUNT_LIMIT rows (PostgreSQL's estimate of the table), an exact count with a
 * short statement_timeout, the planner's estimate when that runs out; past it, the
 * estimate at once (reltuples unfiltered, the plan's rows filtered), never less than the
 * rows already seen. An exact count of a filter over a million rows is a scan of them all,
 * longer than a page may take. `count_exact` says which.
 *
 * One round trip: the timeout is set transaction-locally in the same Sync batch
 * (db/bounded_query.ts), and the table's estimate is read in the same statement, the
 * exact count being a CASE branch that PostgreSQL evaluates only when the estimate is
 * small.
 */
export async function countRows(
  pool: import('pg').Pool,
  model: Model,
  where: string[],
  values: unknown[],
  seen?: { offset: number; rows: number; more: boolean },
): Promise<{ count: number; count_exact: boolean }> {
  // A page past the end (no rows) says only that there are at most `offset` rows.
  if (seen && !seen.more && (seen.rows > 0 || seen.offset === 0)) return { count: seen.offset + seen.rows, count_exact: true };
  const atLeast = seen ? seen.offset + seen.rows + (seen.more ? 1 : 0) : 0;
  // the link laterals (many-to-many, lookups, rollups) only when a condition reads them
  const from = where.some((w) => model.lateralAliases.some((a) => w.includes(`${a}.`))) ? model.from : model.plainFrom;
  const countSql = `SELECT count(*)::int8 AS n FROM ${from}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
  const oid = `$${values.length + 1}`;
  // n is null when the table is past EXACT_COUNT_LIMIT and the listing is filtered: the
  // plan's estimate follows.
  const text = `SELECT CASE WHEN e.n > ${EXACT_COUNT_LIMIT} THEN ${where.length ? 'NULL' : 'e.n'} ELSE (${countSql}) END AS n, e.n > ${EXACT_COUNT_LIMIT} AS estimated
           FROM (SELECT coalesce((SELECT reltuples::int8 FROM pg_class WHERE oid = ${oid}::oid), -1) AS n) e`;
  const client = await pool.connect();
  const planned = async () => {
    // EXPLAIN's one column is named "QUERY PLAN"
    const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: { 'Plan Rows': number } }> }>(`EXPLAIN (FORMAT JSON) ${countSql.replace('count(*)::int8 AS n', '1')}`, values);
    return { count: Math.max(atLeast, Math.round(rows[0]!['QUERY PLAN'][0]!.Plan['Plan Rows'])), count_exact: false };
  };
  try {
    const preamble = [`SELECT set_config('statement_timeout', '${COUNT_TIMEOUT_MS}', true), set_config('transaction_read_only', 'on', true)`];
    try {
      const { rows } = await queryAfter(client, preamble, text, [...values, model.table.table_oid]);
      const row = rows[0] as { n: number | string | null; estimated: boolean };
      if (row.n === null) return await planned();
      return { count: Math.max(atLeast, Number(row.n)), count_exact: !row.estimated };
    } catch (err) {
      if ((err as { code?: string }).code !== '57014') throw err;
      return await planned();
    }
  } finally {
    client.release();
  }
}

export async function getRow(db: Queryable, model: Model, id: number): Promise<Row> {
  byIdTarget(model);
  const { rows } = await db.query<Row>(`SELECT ${model.selectList} FROM ${model.from} WHERE ${ROW_ALIAS}.id = $1`, [id]).catch((err: unknown) => {
    throw rowError(model, err, 'select');
  });
  if (!rows[0]) throw notFound(`row ${id} of table "${model.table.name}"`);
  return rowToJson(model, rows[0]);
}

export interface FieldProblem {
  field: string;
  message: string;
  /** the key names no field (perhaps one added since this model was compiled) */
  unknown?: true;
}

/**
 * Parses a row body: every key must be a field's column; each value passes its type's
 * parser. For a new row, required fields without a default must be there.
 */
export function parseRowInput(model: Model, body: unknown, mode: 'create' | 'update'): { values: Map<string, unknown>; problems: FieldProblem[] } {
  const values = new Map<string, unknown>();
  const problems: FieldProblem[] = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { values, problems: [{ field: 'row', message: 'a row is an object of {column: value}' }] };
  }
  for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
    if (key === 'id') {
      if (mode === 'create') problems.push({ field: 'id', message: 'ids are assigned by the database' });
      continue;
    }
    const f = model.byColumn.get(key);
    if (!f) {
      problems.push({ field: key.slice(0, 60), message: `no field has the column "${key.slice(0, 60)}"`, unknown: true });
      continue;
    }
    if (f.meta.read_only) {
      problems.push({ field: key, message: `${f.meta.name} is read-only` });
      continue;
    }
    try {
      const v = f.type.parse(raw, f.options);
      if (v === null && f.meta.not_null) throw new FieldValueError('is required');
      values.set(key, v);
    } catch (err) {
      if (!(err instanceof FieldValueError)) throw err;
      problems.push({ field: key, message: `${f.meta.name} ${err.message}` });
    }
  }
  if (mode === 'create') {
    for (const f of model.fields) {
      if (f.meta.not_null && f.meta.default_value == null && !f.type.system && !values.has(f.column) && !problems.some((p) => p.field === f.column)) {
        problems.push({ field: f.column, message: `${f.meta.name} is required` });
      }
    }
  }
  return { values, problems };
}

function invalid(problems: FieldProblem[]): AppError {
  const first = problems[0]!;
  if (first.unknown) return new AppError(422, 'unknown_field', first.message, first.field, { errors: problems });
  return unprocessable('invalid_value', problems.length === 1 ? first.message : `${first.message} (and ${problems.length - 1} more)`, first.field, { errors: problems });
}

type RowOp = 'select' | 'insert' | 'update' | 'delete';
/** What each row operation needs of the table (a write returns the row, so SELECT too). */
const PRIVILEGES: Record<RowOp, string> = { select: 'SELECT', insert: 'INSERT, SELECT', update: 'UPDATE, SELECT', delete: 'DELETE, SELECT' };

/**
 * Database refusals that are about a value or the table, told in the terms of the field
 * or of the operation. Anything else is left to the central mapping (server/db/pg_errors.ts).
 */
export function rowError(model: Model, err: unknown, op: RowOp): unknown {
  // A model older than the table: withModel() evicts it and retries, so it stays as it is.
  if (isStaleModelError(err)) return err;
  const e = err as { code?: string; constraint?: string; column?: string; message?: string };
  const byConstraint = (prefix: string) => {
    const m = e.constraint ? new RegExp(`^${prefix}(\\d+)$`).exec(e.constraint) : null;
    return m ? model.fields.find((f) => f.meta.id === Number(m[1])) : undefined;
  };
  if (e?.code === '42501') {
    return new AppError(
      409,
      'insufficient_privilege',
      `the database role Tablewright connects as lacks ${PRIVILEGES[op]} on ${model.relation} (PostgreSQL: ${e.message}); a DBA can run GRANT ${PRIVILEGES[op]} ON ${model.relation} TO that role`,
      undefined,
      { privileges: PRIVILEGES[op].split(', '), table: model.relation },
    );
  }
  if (op === 'select') return pgErrorToApp(err) ?? err;
  if (e?.code === '23505') {
    const f = byConstraint('uq_f');
    return new AppError(409, 'duplicate_value', f ? `${f.meta.name} must be unique, and another row has this value` : 'a unique value is repeated', f?.column);
  }
  if (e?.code === '23503' && op === 'delete') {
    return new AppError(409, 'linked', `other rows refer to this row (${e.constraint ? `foreign key ${e.constraint}` : 'a foreign key'} made outside the console, without ON DELETE); change or delete them first`);
  }
  if (e?.code === '23503' && op !== 'delete' && fieldOfJunctionConstraint(model, e.constraint)) {
    const f = fieldOfJunctionConstraint(model, e.constraint)!;
    return unprocessable('invalid_link', `${f.meta.name}: a linked row is no longer there`, f.column);
  }
  if (e?.code === '23503') {
    const f = byConstraint('fk_f');
    return unprocessable('invalid_link', f ? `${f.meta.name}: no such row in the linked table` : 'a link points to no row', f?.column);
  }
  if (e?.code === '23502' && e.column === 'id' && !model.byColumn.has('id')) return idNotGenerated();
  if (e?.code === '23502') {
    const f = e.column ? model.byColumn.get(e.column) : undefined;
    return unprocessable('invalid_value', `${f?.meta.name ?? e.column} is required`, e.column);
  }
  if (e?.code === '23514') {
    return unprocessable('check_violation', `a value breaks the check "${e.constraint ?? '?'}" on table "${model.table.name}" (made outside the console)`, e.column, { constraint: e.constraint });
  }
  if (typeof e?.code === 'string' && e.code.startsWith('22')) return unprocessable('invalid_value', 'a value does not fit its field', undefined);
  // A DBA's trigger that raises, and the like: an AppError here, so that the grid's cell
  // editor and the CSV import (which catch AppErrors) show the database's message.
  return pgErrorToApp(err) ?? err;
}

/**
 * Writes take the WriteContext of who they are for (server/history/stamp.ts): the history
 * trigger records it. Without one (internal callers already stamped their transaction)
 * the transaction's own stamp, or the database role, is recorded.
 */
const stamp = (params: Params, w?: WriteContext) => (w ? `, ${stampSql(params, w)} AS "__tw"` : '');

/**
 * The stamp above runs after the row is written, too late for the BEFORE trigger that
 * fills created_by / updated_by (sql/migrations/070_system_fields.sql). A table with
 * such a field gets the stamp as that column's value in the write itself (evaluated
 * before the trigger, which then replaces it with the actor).
 */
function actorColumn(model: Model, w: WriteContext | undefined, mode: 'create' | 'update'): ModelField | undefined {
  if (!w) return undefined;
  const kinds = mode === 'create' ? ['created_by', 'updated_by'] : ['updated_by', 'created_by'];
  for (const k of kinds) {
    const f = model.fields.find((x) => x.type.system === k);
    if (f) return f;
  }
  return undefined;
}

export async function createRow(db: Queryable, model: Model, body: unknown, w?: WriteContext): Promise<Row> {
  const { row, writes } = await insertRow(db, model, body, w);
  // the statement's own snapshot does not see the pairs it wrote: they are read after it
  return writes.length ? withLinks(db, model, rowToJson(model, row), writes) : rowToJson(model, row);
}

/**
 * createRow for an answer that goes out as JSON as it is (the row API's POST): the row as
 * JSON text, written by the model's row writer (row_json.ts), with no object in between.
 */
export async function createRowJson(db: Queryable, model: Model, body: unknown, w?: WriteContext): Promise<{ id: unknown; json: RawJson }> {
  const { row, writes } = await insertRow(db, model, body, w);
  if (writes.length) {
    const linked = await withLinks(db, model, rowToJson(model, row), writes);
    return { id: linked.id, json: new RawJson(stringifyExact(linked)) };
  }
  return { id: row.id, json: new RawJson(rowJsonText(model, row)) };
}

/** The INSERT of createRow: the row as pg returns it (the model's select list). */
async function insertRow(db: Queryable, model: Model, body: unknown, w?: WriteContext): Promise<{ row: Row; writes: ManyWrite[] }> {
  const target = writeTarget(model);
  const { values, problems } = parseRowInput(model, body, 'create');
  if (problems.length) throw invalid(problems);
  const many = splitManyValues(model, values);
  const writes = many.length ? await resolveManyValues(db, many) : [];
  const params = new Params();
  const columns = [...values.keys()];
  for (const c of columns) params.add(values.get(c));
  const actor = actorColumn(model, w, 'create');
  const actorSql = actor ? stampSql(params, w!) : '';
  const stamped = stamp(params, w);
  const build = (ctes: string) => {
    const names = [...columns.map((c) => model.byColumn.get(c)!.quoted), ...(actor ? [actor.quoted] : [])];
    const exprs = [...columns.map((_, i) => `$${i + 1}`), ...(actor ? [actorSql] : [])];
    const insert = names.length ? `INSERT INTO ${target} (${names.join(', ')}) VALUES (${exprs.join(', ')})` : `INSERT INTO ${target} DEFAULT VALUES`;
    return `WITH ${ROW_ALIAS} AS (${insert} RETURNING *)${ctes} SELECT ${model.selectList}${stamped} FROM ${ROW_ALIAS} ${model.joins}`;
  };
  try {
    let rows: Row[];
    if (writes.length) {
      const ctes = manyWriteCtes(writes, params, 'create');
      ({ rows } = await db.query<Row>(build(ctes), params.values));
    } else {
      // one text per set of columns (and whether the write is stamped): built once per model
      const s = modelStatement(model, `create\0${columns.join('\0')}\0${actor ? 'a' : ''}${w ? 'w' : ''}`, () => build(''));
      ({ rows } = await queryStatement<Row>(db, s, params.values));
    }
    return { row: rows[0]!, writes };
  } catch (err) {
    throw rowError(model, err, 'insert');
  }
}

/** A written row with its many-to-many fields read afresh (after the statement that wrote them). */
async function withLinks(db: Queryable, model: Model, row: Row, writes: ManyWrite[]): Promise<Row> {
  const fresh = await getRow(db, model, Number(row.id));
  for (const w of writes) row[w.field.column] = fresh[w.field.column];
  return row;
}

export async function updateRow(db: Queryable, model: Model, id: number, body: unknown, w?: WriteContext): Promise<Row> {
  const target = writeTarget(model);
  const { values, problems } = parseRowInput(model, body, 'update');
  if (problems.length) throw invalid(problems);
  const many = splitManyValues(model, values);
  if (values.size === 0 && many.length === 0) return getRow(db, model, id);
  const writes = many.length ? await resolveManyValues(db, many) : [];
  const params = new Params();
  const sets = [...values].map(([c, v]) => `${model.byColumn.get(c)!.quoted} = ${params.add(v)}`);
  const actor = actorColumn(model, w, 'update');
  if (actor) sets.push(`${actor.quoted} = ${stampSql(params, w!)}`);
  // links alone change no column: the row is locked, not rewritten
  const update = sets.length ? `UPDATE ${target} SET ${sets.join(', ')} WHERE id = ${params.add(id)} RETURNING *` : `SELECT * FROM ${target} WHERE id = ${params.add(id)} FOR UPDATE`;
  let rows: Row[];
  try {
    const ctes = manyWriteCtes(writes, params, 'update');
    ({ rows } = await db.query<Row>(`WITH ${ROW_ALIAS} AS (${update})${ctes} SELECT ${model.selectList}${stamp(params, w)} FROM ${ROW_ALIAS} ${model.joins}`, params.values));
  } catch (err) {
    throw rowError(model, err, 'update');
  }
  if (!rows[0]) throw notFound(`row ${id} of table "${model.table.name}"`);
  return writes.length ? withLinks(db, model, rowToJson(model, rows[0]), writes) : rowToJson(model, rows[0]);
}

/** The row goes to the row trash (the history trigger keeps it, with who and when). */
export async function deleteRow(db: Queryable, model: Model, id: number, w?: WriteContext): Promise<void> {
  const target = writeTarget(model);
  const params = new Params();
  const sql = `WITH ${ROW_ALIAS} AS (DELETE FROM ${target} WHERE id = ${params.add(id)} RETURNING id) SELECT id${stamp(params, w)} FROM ${ROW_ALIAS}`;
  const { rowCount } = await db.query(sql, params.values).catch((err: unknown) => {
    throw rowError(model, err, 'delete');
  });
  if (!rowCount) throw notFound(`row ${id} of table "${model.table.name}"`);
}

// ---------------------------------------------------------------- bulk

export interface RowProblem extends FieldProblem {
  /** position in the request's list */
  index: number;
  /** a row of `create` in PATCH /tables/:id/rows {rows, create} (index counts in that list) */
  new?: true;
  /** the row's id, for a row of `rows` */
  id?: number;
}

function bulkList(body: unknown, what: string): unknown[] {
  const list = Array.isArray(body) ? body : (body as { rows?: unknown })?.rows;
  if (!Array.isArray(list) || list.length === 0) throw badRequest(`${what} takes a non-empty JSON list of rows`, 'rows');
  if (list.length > MAX_BULK_ROWS) throw badRequest(`${what} takes at most ${MAX_BULK_ROWS} rows`, 'rows');
  return list;
}

export function bulkInvalid(problems: RowProblem[]): AppError {
  const first = problems[0]!;
  return unprocessable(
    'invalid_rows',
    `${problems.length} problem${problems.length > 1 ? 's' : ''} in the rows; nothing was written (first: ${first.new ? 'new row' : 'row'} ${first.index}, ${first.message})`,
    first.field,
    { errors: problems },
  );
}

/** All or nothing, in the caller's transaction: every row is validated before any is written. */
export async function createRows(tx: Queryable, model: Model, body: unknown, w?: WriteContext): Promise<Row[]> {
  const target = writeTarget(model);
  const list = bulkList(body, 'a bulk create');
  const parsed = list.map((r) => parseRowInput(model, r, 'create'));
  const problems = parsed.flatMap((p, index) => p.problems.map((x) => ({ index, ...x })));
  if (problems.length) throw bulkInvalid(problems);
  const columns = [...new Set(parsed.flatMap((p) => [...p.values.keys()]))];
  if (!columns.length || columns.some((c) => model.byColumn.get(c)?.many !== undefined)) {
    // Rows with no values at all, or with many-to-many links: one insert each (same transaction).
    const out: Row[] = [];
    for (let i = 0; i < parsed.length; i++) out.push(await createRow(tx, model, list[i], w));
    return out;
  }
  const params = new Params();
  const actor = actorColumn(model, w, 'create');
  const actorSql = actor ? `, ${stampSql(params, w!)}` : ''; // the same parameters serve every row
  const tuples = parsed.map((p) => `(${columns.map((c) => (p.values.has(c) ? params.add(p.values.get(c)) : 'DEFAULT')).join(', ')}${actorSql})`);
  const colList = [...columns, ...(actor ? [actor.column] : [])].map((c) => model.byColumn.get(c)!.quoted).join(', ');
  const insert = `INSERT INTO ${target} (${colList}) VALUES ${tuples.join(', ')}`;
  try {
    const { rows } = await tx.query<Row>(`WITH ${ROW_ALIAS} AS (${insert} RETURNING *) SELECT ${model.selectList}${stamp(params, w)} FROM ${ROW_ALIAS} ${model.joins} ORDER BY ${ROW_ALIAS}.id`, params.values);
    return rows.map((r) => rowToJson(model, r));
  } catch (err) {
    throw rowError(model, err, 'insert');
  }
}

export async function updateRows(tx: Queryable, model: Model, body: unknown, w?: WriteContext): Promise<Row[]> {
  writeTarget(model);
  const list = bulkList(body, 'a bulk update');
  const problems: RowProblem[] = [];
  const ids: number[] = [];
  list.forEach((r, index) => {
    const id = (r as { id?: unknown })?.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) problems.push({ index, field: 'id', message: 'each row needs its id' });
    else ids.push(id);
    problems.push(...parseRowInput(model, r, 'update').problems.map((p) => ({ index, ...p })));
  });
  if (problems.length) throw bulkInvalid(problems);
  const out: Row[] = [];
  for (const [index, r] of list.entries()) {
    try {
      out.push(await updateRow(tx, model, ids[index]!, r, w));
    } catch (err) {
      if (err instanceof AppError) throw bulkInvalid([{ index, field: err.field ?? 'id', message: err.message }]);
      throw err;
    }
  }
  return out;
}

export async function deleteRows(tx: Queryable, model: Model, body: unknown, w?: WriteContext): Promise<number[]> {
  const target = writeTarget(model);
  const raw = Array.isArray(body) ? body : (body as { ids?: unknown })?.ids;
  if (!Array.isArray(raw) || raw.length === 0) throw badRequest('a bulk delete takes {"ids": [...]}', 'ids');
  if (raw.length > MAX_BULK_ROWS) throw badRequest(`a bulk delete takes at most ${MAX_BULK_ROWS} ids`, 'ids');
  const ids = raw.map((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v));
  if (!ids.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v > 0)) throw badRequest('ids are positive whole numbers', 'ids');
  const params = new Params();
  const sql = `WITH ${ROW_ALIAS} AS (DELETE FROM ${target} WHERE id = ANY(${params.add(ids)}::int8[]) RETURNING id) SELECT id${stamp(params, w)} FROM ${ROW_ALIAS}`;
  const { rows } = await tx.query<{ id: number }>(sql, params.values).catch((err: unknown) => {
    throw rowError(model, err, 'delete');
  });
  const deleted = new Set(rows.map((r) => r.id));
  const missing = (ids as number[]).filter((id) => !deleted.has(id));
  if (missing.length) throw new AppError(404, 'not_found', `no rows with ids ${missing.slice(0, 10).join(', ')}; nothing was deleted`, 'ids', { missing });
  return [...deleted];
}
