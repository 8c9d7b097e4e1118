// One atomic write of a range of cells: what a paste into the console grid sends (and any
// script may), PATCH /tables/:id/rows {rows: [{id, column: value}], create: [{column: value}]}.
// Changed rows and new rows past the end commit together or not at all. Every value is
// parsed before any SQL runs, so that every bad cell is reported at once (index, field,
// message), not only the first; a database refusal (unique, a link to no row, a DBA's
// trigger) stops at the row it names.
import { AppError, badRequest } from '../errors.js';
import type { Queryable } from '../db/pool.js';
import type { WriteContext } from '../history/stamp.js';
import type { Model } from './compile.js';
import { bulkInvalid, createRows, MAX_BULK_ROWS, parseRowInput, updateRow, writeTarget, type Row, type RowProblem } from './rows.js';

export interface SheetWrite {
  rows: Row[];
  created: Row[];
}

/** The body is the sheet form: an object with `create` (and perhaps `rows`). */
export const isSheetBody = (body: unknown): boolean => body !== null && typeof body === 'object' && !Array.isArray(body) && 'create' in body;

export async function writeSheet(tx: Queryable, model: Model, body: unknown, w?: WriteContext): Promise<SheetWrite> {
  writeTarget(model);
  const b = body as { rows?: unknown; create?: unknown };
  const rows = b.rows === undefined ? [] : b.rows;
  const create = b.create;
  if (!Array.isArray(rows)) throw badRequest('rows is a JSON list of {id, column: value}', 'rows');
  if (!Array.isArray(create)) throw badRequest('create is a JSON list of {column: value}', 'create');
  if (rows.length + create.length === 0) throw badRequest('rows and create are both empty: nothing to write', 'rows');
  if (rows.length + create.length > MAX_BULK_ROWS) throw badRequest(`rows and create together take at most ${MAX_BULK_ROWS} rows`, 'rows');

  const problems: RowProblem[] = [];
  const ids: number[] = [];
  const seen = new Set<number>();
  rows.forEach((r, index) => {
    const id = (r as { id?: unknown })?.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) problems.push({ index, field: 'id', message: 'each row of rows needs its id' });
    else if (seen.has(id)) problems.push({ index, id, field: 'id', message: `row ${id} is listed twice` });
    else {
      seen.add(id);
      ids.push(id);
    }
    problems.push(...parseRowInput(model, r, 'update').problems.map((p) => ({ index, ...(typeof id === 'number' ? { id } : {}), ...p })));
  });
  create.forEach((r, index) => {
    problems.push(...parseRowInput(model, r, 'create').problems.map((p) => ({ index, new: true as const, ...p })));
  });
  if (problems.length) throw bulkInvalid(problems);

  const updated: Row[] = [];
  for (const [index, r] of rows.entries()) {
    try {
      updated.push(await updateRow(tx, model, ids[index]!, r, w));
    } catch (err) {
      if (err instanceof AppError) throw bulkInvalid([{ index, id: ids[index], field: err.field ?? 'id', message: err.message }]);
      throw err;
    }
  }
  let created: Row[] = [];
  if (create.length) {
    try {
      created = await createRows(tx, model, create, w);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const listed = (err.details as { errors?: RowProblem[] } | undefined)?.errors;
      throw bulkInvalid(listed?.length ? listed.map((p) => ({ ...p, new: true as const })) : [{ index: 0, new: true, field: err.field ?? 'row', message: err.message }]);
    }
  }
  return { rows: updated, created };
}
