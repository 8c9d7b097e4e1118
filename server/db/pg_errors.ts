// PostgreSQL errors caused by what a client sent or what a DBA made by hand (a view, a
// trigger, a revoked privilege, a column dropped in psql), told as the 4xx they are.
// The operations check the common cases first and name things in their own terms
// (server/schema/catalog.ts dependentObjects, server/model/rows.ts rowError); this is the
// net under every route and job, so that none of them answers 500 for such a cause.
import { AppError } from '../errors.js';

export interface PgError {
  code?: string;
  message?: string;
  detail?: string;
  hint?: string;
  constraint?: string;
  table?: string;
  column?: string;
}

const isPg = (err: unknown): err is PgError & { code: string } =>
  typeof err === 'object' && err !== null && typeof (err as PgError).code === 'string' && /^[0-9A-Z]{5}$/.test((err as PgError).code!);

/** "view v depends on column c of table t" -> "view v"; any other line as it is. */
/** No client writes id: a NULL id means the table's identity (or default) was dropped in SQL. */
export function idNotGenerated(): AppError {
  return new AppError(
    409,
    'id_not_generated',
    `the table's id column is no longer filled by PostgreSQL (its identity or default was removed outside the console), so no row can be created; the drift report (GET /reconcile) offers to restore it`,
  );
}

export function dependentsFromDetail(detail: string | undefined): string[] {
  if (!detail) return [];
  return detail
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => line.replace(/^rule _RETURN on /, '').replace(/ depends on .*$/, ''))
    .slice(0, 20);
}

/** The drift report is where a DBA's change to a managed table is resolved. */
export const schemaDrift = (pgMessage: string | undefined) =>
  new AppError(
    409,
    'schema_drift',
    `the table no longer matches its description (PostgreSQL: ${pgMessage ?? 'an object is missing'}); it was changed outside the console: see the drift report (GET /reconcile) to resolve it`,
    undefined,
    { reconcile: '/reconcile' },
  );

/**
 * SQLSTATE of a write refused by the sync trigger of an online type change in flight: its
 * value would not convert to the field's new type (server/schema/online/trigger.ts).
 */
export const WOULD_NOT_CONVERT = 'TW001';

/** The AppError for a PostgreSQL error a client or a DBA caused; undefined for anything else. */
export function pgErrorToApp(err: unknown): AppError | undefined {
  if (!isPg(err)) return undefined;
  const { code } = err;
  const said = err.message ?? code;
  if (code === '2BP01' || (code === '0A000' && / depends on /.test(err.detail ?? ''))) {
    const objects = dependentsFromDetail(err.detail);
    return new AppError(
      409,
      'dependent_objects',
      `other objects depend on what this changes${objects.length ? `: ${objects.join(', ')}` : ''} (PostgreSQL: ${said}); drop or change them in SQL first, then try again`,
      undefined,
      { objects },
    );
  }
  // A stored formula's generated column reads the column whose type would change: the
  // schema editor does not carry a formula over a change of its input's type (yet).
  if (code === '0A000' && /used by a generated column/.test(said)) {
    const columns = [...(err.detail ?? '').matchAll(/used by generated column "((?:[^"]|"")+)"/g)].map((m) => m[1]!.replace(/""/g, '"'));
    return new AppError(
      409,
      'used_by_formula',
      `a formula reads this column, so its type cannot change${columns.length ? ` (the formula's column: ${columns.join(', ')})` : ''}; convert or trash the formula first, then try again (PostgreSQL: ${said})`,
      undefined,
      { generated_columns: columns },
    );
  }
  if (code === '42501') {
    return new AppError(
      409,
      'insufficient_privilege',
      `the database role Tablewright connects as lacks a privilege this needs (PostgreSQL: ${said}); a DBA can grant it, or make that role the table's owner`,
      undefined,
      { pg_message: said },
    );
  }
  if (code === '42703' || code === '42P01') return schemaDrift(said);
  // No operator, function or collation for what is asked, with the table as it is: a CHECK
  // constraint or an index expression made in psql that cannot follow its column to a new
  // type ("operator does not exist: text < integer"), or a column of a type only read here
  // (xml, circle, an enum) asked to match or sort. Our own SQL is typed: these come from
  // objects made outside the console.
  // 42804 the same for a column's DEFAULT a DBA set, which a type change cannot cast ("default
  // for column ... cannot be cast automatically": a 500 before, a hostile review's finding).
  if (code === '42883' || code === '42P22' || code === '42804') {
    return new AppError(
      409,
      'incompatible_object',
      `the database cannot do this with the table as it is now (PostgreSQL: ${said}): a constraint, an index, a default or a column type made outside the console does not allow it; change that in SQL first`,
      undefined,
      { pg_code: code },
    );
  }
  // RAISE in a trigger or a function a DBA made (P0001, and the other PL/pgSQL errors).
  if (code.startsWith('P0')) {
    return new AppError(422, 'rejected_by_database', `the database refused this: ${said}${err.hint ? ` (${err.hint})` : ''}`, undefined, { pg_code: code });
  }
  if (code === WOULD_NOT_CONVERT) return new AppError(422, 'would_not_convert', said, err.column);
  if (code === '23514') return new AppError(422, 'check_violation', `a value breaks the check ${err.constraint ? `"${err.constraint}"` : 'constraint'} on this table`, err.column, { constraint: err.constraint });
  if (code === '23P01') return new AppError(409, 'conflicting_value', `a value conflicts with another row (exclusion constraint ${err.constraint ? `"${err.constraint}"` : ''})`, err.column);
  if (code === '23505') return new AppError(409, 'duplicate_value', `a value must be unique and another row has it${err.constraint ? ` (${err.constraint})` : ''}`, err.column);
  if (code === '23503' || code === '23001') return new AppError(409, 'linked', `other rows refer to this, or it refers to a row that is not there${err.constraint ? ` (${err.constraint})` : ''}`, err.column);
  if (code === '23502' && err.column === 'id') return idNotGenerated();
  if (code === '23502') return new AppError(422, 'invalid_value', `${err.column ?? 'a value'} is required`, err.column);
  if (code.startsWith('22')) return new AppError(422, 'invalid_value', `a value does not fit (PostgreSQL: ${said})`, err.column);
  if (code === '54000') return new AppError(422, 'value_too_large', `a value is too large for the database (PostgreSQL: ${said})`, err.column);
  if (code === '54001') return new AppError(422, 'too_complex', `the request is too complex for the database (PostgreSQL: ${said})`);
  if (code === '53100' || code === '53200') return new AppError(503, 'database_unavailable', 'the database is out of disk or memory right now; try again later');
  return undefined;
}
