// The one way an identifier or a DDL literal enters SQL text.
//
// Identifiers are validated against the naming rule, then double-quoted; values never
// come through here: they are bound as $n parameters. literal() exists only for DDL,
// where PostgreSQL accepts no parameters (COMMENT ON ... IS, DEFAULT ...).
import { AppError } from '../errors.js';

/** Names we create: lowercase, [a-z_][a-z0-9_]*, at most 63 bytes (NAMEDATALEN - 1). */
export const IDENTIFIER_RE = /^[a-z_][a-z0-9_]*$/;
export const MAX_IDENTIFIER_BYTES = 63;

/** A quoted identifier. Only ident() makes one, so a Quoted in SQL text was validated. */
export class Quoted {
  readonly #text: string;
  private constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
  /** @internal used by ident() and identAny() only */
  static make(text: string): Quoted {
    return new Quoted(text);
  }
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Validates a name we manage and quotes it. Throws 400 naming `field` when it is not valid. */
export function ident(name: string, field = 'name'): Quoted {
  if (!IDENTIFIER_RE.test(name) || Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
    throw new AppError(400, 'invalid_identifier', `"${name.slice(0, 80)}" is not a valid SQL name (lowercase letters, digits and _, at most 63 bytes)`, field);
  }
  return Quoted.make(quote(name));
}

/**
 * Quotes a name read from the catalog (it may be anything PostgreSQL allowed: mixed case,
 * spaces). Only for names that came from pg_catalog, never from a request.
 */
export function identFromCatalog(name: string): Quoted {
  if (name.length === 0 || name.includes('\0') || Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
    throw new AppError(400, 'invalid_identifier', 'catalog name is empty or too long');
  }
  return Quoted.make(quote(name));
}

/** schema.name, each part quoted separately (never split a qualified name on a dot). */
export function qualified(schema: string, name: string): Quoted {
  return Quoted.make(`${ident(schema, 'schema')}.${identFromCatalog(name)}`);
}

/** A string literal for DDL only (COMMENT ON, DEFAULT): standard quoting, E'' when needed. */
export function literal(value: string): string {
  if (value.includes('\0')) throw new AppError(400, 'invalid_value', 'text may not contain NUL bytes');
  let escaped = value.replace(/'/g, "''");
  if (escaped.includes('\\')) {
    escaped = escaped.replace(/\\/g, '\\\\');
    return `E'${escaped}'`;
  }
  return `'${escaped}'`;
}
