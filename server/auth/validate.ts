// Input rules for accounts and tokens, shared by the HTTP routes and the CLI.
import { AppError } from '../errors.js';
import { ROLES, isRole, type Role } from './roles.js';

export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 1024;
const EMAIL_RE = /^[^\s@<>"'`]+@[^\s@<>"'`]+$/;

const invalid = (message: string, field: string) => new AppError(422, 'invalid_value', message, field);

export function parseEmail(value: unknown, field = 'email'): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid('an email address is required', field);
  const email = value.trim();
  if (email.length > 254 || !EMAIL_RE.test(email) || email.includes('\0')) throw invalid('this is not an email address', field);
  return email;
}

export function parseRole(value: unknown, field = 'role'): Role {
  if (!isRole(value)) throw invalid(`role must be one of ${ROLES.join(', ')}`, field);
  return value;
}

export function parsePassword(value: unknown, field = 'password'): string {
  if (typeof value !== 'string' || value === '') throw invalid('a password is required', field);
  if (value.length < MIN_PASSWORD) throw invalid(`the password must have at least ${MIN_PASSWORD} characters`, field);
  if (value.length > MAX_PASSWORD) throw invalid(`the password may have at most ${MAX_PASSWORD} characters`, field);
  if (value.includes('\0')) throw invalid('the password may not contain NUL bytes', field);
  return value;
}

export function parseTokenName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid('a name is required', field);
  const name = value.trim();
  if (name.length > 100) throw invalid('the name may have at most 100 characters', field);
  if (name.includes('\0')) throw invalid('the name may not contain NUL bytes', field);
  return name;
}

/** A positive integer id from a path parameter; anything else is a 404 for `what`. */
export function parseId(value: unknown, what: string): number {
  const n = typeof value === 'string' && /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new AppError(404, 'not_found', `${what} not found`);
  return n;
}
