// The import's problems: a row's own (its values), PostgreSQL's refusal of a row (a
// constraint, named), and the 422 that ends an all-or-nothing import with all of them.
import { AppError, unprocessable } from '../errors.js';
import type { Model, ModelField } from '../model/compile.js';
import { rowError } from '../model/rows.js';
import { copyErrorRow } from './copy.js';
import { rejectsUrl, type RejectsWriter, type Problem } from './rejects.js';

/** A row's problem with one more field's: one problem per row, its reasons joined. */
export function addProblem(bad: Problem | null, line: number, f: ModelField, message: string): Problem {
  const reason = `${f.meta.name} ${message}`;
  return bad ? { ...bad, reason: `${bad.reason}; ${reason}` } : { line, column: f.column, reason };
}
/** on_error=stop: PostgreSQL refused a row, and the transaction is aborted. */
export class CopyRowError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.reason);
  }
}
/** PostgreSQL refused one row (skip mode): the problem for the rejects, naming the constraint. */
export function refusal(model: Model, err: unknown, line: number): Problem {
  const mapped = rowError(model, err, 'insert');
  const e = err as { constraint?: string; message?: string };
  let reason = mapped instanceof AppError ? mapped.message : (e.message ?? 'PostgreSQL refused the row');
  if (e.constraint && !reason.includes(e.constraint)) reason += ` (constraint "${e.constraint}")`;
  return { line, column: mapped instanceof AppError ? (mapped.field ?? null) : null, reason };
}
/** PostgreSQL refused a row of a batch (a unique value repeated, a link to no row): its line. */
export function copyFailure(model: Model, err: unknown, lines: number[]): Error {
  const row = copyErrorRow(err);
  const mapped = rowError(model, err, 'insert');
  if (!(mapped instanceof AppError) || row === undefined) return mapped instanceof Error ? mapped : (err as Error);
  return new CopyRowError(refusal(model, err, lines[row - 1] ?? 0));
}
/** The 422 of an import that wrote nothing: the first problem, and all of them in details and the rejects file. */
export async function rejected(rejects: RejectsWriter, model: Model): Promise<AppError> {
  const id = await rejects.finish();
  const n = rejects.count;
  const first = rejects.problems[0];
  // The code and first-problem details are those of the row-by-row import before (invalid_csv,
  // {line, field, message}), so that its callers keep working; the rest is added.
  const more = n > 1 ? ` (and ${(n - 1).toLocaleString('en')} more line${n === 2 ? '' : 's'}: see details.problems and the rejects file)` : '';
  return unprocessable(
    'invalid_csv',
    `${first ? `line ${first.line}: ${first.reason}` : 'the file could not be imported'}${more}; nothing was imported into "${model.table.name}"`,
    first?.column ?? undefined,
    { line: first?.line, field: first?.column ?? undefined, message: first?.reason, rejected: n, problems: rejects.problems, rejects_url: id ? rejectsUrl(id) : null },
  );
}
