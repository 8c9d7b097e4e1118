// Turns anything thrown into the one AppError shape, so that scripts always get
// {error:{code,message,field}} with a meaningful status and never a stack trace.
import { pgErrorToApp } from '../db/pg_errors.js';
import { AppError } from '../errors.js';

/** PostgreSQL SQLSTATEs that are the client's or the moment's fault, not ours. */
const PG_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  '55P03': { status: 409, code: 'table_busy', message: 'the table is busy (another change or a long query holds it); try again' },
  '40P01': { status: 409, code: 'deadlock', message: 'a concurrent change got in the way; try again' },
  '40001': { status: 409, code: 'serialization_failure', message: 'a concurrent change got in the way; try again' },
  '57014': { status: 503, code: 'query_timeout', message: 'the database took too long to answer; try again' },
  '57P01': { status: 503, code: 'database_unavailable', message: 'the database is restarting; try again shortly' },
  '57P03': { status: 503, code: 'database_unavailable', message: 'the database is starting up; try again shortly' },
  '53300': { status: 503, code: 'database_unavailable', message: 'the database has no free connections; try again shortly' },
};

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

export function toAppError(raw: unknown): AppError {
  if (raw instanceof AppError) return raw;
  const err = raw as { status?: number; statusCode?: number; type?: string; code?: string; message?: string };
  const pg = typeof err?.code === 'string' ? PG_ERRORS[err.code] : undefined;
  if (pg) return new AppError(pg.status, pg.code, pg.message);
  const caused = pgErrorToApp(raw);
  if (caused) return caused;
  if ((typeof err?.code === 'string' && NETWORK_CODES.has(err.code)) || /timeout exceeded when trying to connect|Connection terminated/i.test(err?.message ?? '')) {
    return new AppError(503, 'database_unavailable', 'the database is unreachable right now; try again shortly');
  }
  const status = err?.status ?? err?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const messages: Record<string, string> = {
      'entity.parse.failed': 'the request body is not valid JSON',
      'entity.too.large': 'the request body is too large',
      'parameters.too.many': 'the form has too many fields',
      'encoding.unsupported': 'the request body encoding is not supported',
      'charset.unsupported': 'the request body charset is not supported',
    };
    const code = status === 404 ? 'not_found' : status === 413 ? 'too_large' : 'bad_request';
    return new AppError(status, code, (err.type && messages[err.type]) || (status === 404 ? err.message ?? 'not found' : 'the request could not be read'));
  }
  return new AppError(500, 'internal', 'something went wrong on our side; it has been logged');
}
