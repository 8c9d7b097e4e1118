// Display names are free text; physical names are readable slugs of them, validated,
// unique in their table/schema (checked against the catalog too, so an untracked object
// of the same name is a clear 409), and never a reserved word.
import type { Queryable } from '../db/pool.js';
import { IDENTIFIER_RE, MAX_IDENTIFIER_BYTES } from '../db/ident.js';
import { AppError, badRequest, conflict } from '../errors.js';

export const MAX_DISPLAY_NAME = 255;

/** Names PostgreSQL or we reserve for every table: the primary key and system columns. */
const RESERVED_COLUMNS = new Set(['id', 'oid', 'tableoid', 'xmin', 'xmax', 'cmin', 'cmax', 'ctid']);

let reservedWords: Set<string> | undefined;
/** PostgreSQL's reserved key words (from the server itself, once per process). */
export async function loadReservedWords(db: Queryable): Promise<Set<string>> {
  if (!reservedWords) {
    const { rows } = await db.query<{ word: string }>(`SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')`);
    reservedWords = new Set(rows.map((r) => r.word));
  }
  return reservedWords;
}

export function validateDisplayName(raw: unknown, field = 'name'): string {
  if (typeof raw !== 'string') throw badRequest('a name is required', field);
  const name = raw.trim();
  if (name.length === 0) throw badRequest('a name is required', field);
  if (name.length > MAX_DISPLAY_NAME) throw badRequest(`a name is at most ${MAX_DISPLAY_NAME} characters`, field);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw badRequest('a name may not contain control characters', field);
  return name;
}

/** 'Café Orders (2024)' -> 'cafe_orders_2024'; '' when nothing readable is left. */
export function slugify(display: string): string {
  let slug = display
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (/^[0-9]/.test(slug)) slug = `n_${slug}`;
  return truncateBytes(slug, MAX_IDENTIFIER_BYTES - 4).replace(/_+$/, '');
}

function truncateBytes(s: string, max: number): string {
  return s.length > max ? s.slice(0, max) : s; // slugs are ASCII: one byte a character
}

/**
 * Checks a physical name a caller chose: the identifier rule (400) and reserved words
 * (400). Uniqueness is checked separately, against metadata and the catalog.
 */
export async function validatePhysicalName(db: Queryable, name: unknown, field: string, kind: 'table' | 'column'): Promise<string> {
  if (typeof name !== 'string' || !IDENTIFIER_RE.test(name) || Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
    throw new AppError(
      400,
      'invalid_identifier',
      `"${String(name).slice(0, 80)}" is not a valid ${kind} name: use lowercase letters, digits and _, starting with a letter or _, at most ${MAX_IDENTIFIER_BYTES} bytes`,
      field,
    );
  }
  // A JSON key of rows (columns) and of objects keyed by name: never the prototype's.
  if (name === '__proto__') throw badRequest(`"__proto__" cannot name a ${kind}; choose another ${kind} name`, field);
  if (name.startsWith(TRASH_PREFIX)) throw badRequest(`names starting with ${TRASH_PREFIX} are reserved for the trash; choose another ${kind} name`, field);
  if ((await loadReservedWords(db)).has(name)) throw badRequest(`"${name}" is a reserved word in PostgreSQL; choose another ${kind} name`, field);
  if (kind === 'column' && RESERVED_COLUMNS.has(name)) throw badRequest(`"${name}" is reserved (every table has it); choose another column name`, field);
  return name;
}

/**
 * A free physical name derived from a display name: its slug, or `fallback`, made
 * unique with _2, _3... against `taken` (metadata and catalog names together).
 */
export async function derivePhysicalName(db: Queryable, display: string, fallback: string, taken: (name: string) => boolean, kind: 'table' | 'column'): Promise<string> {
  const reserved = await loadReservedWords(db);
  let base = slugify(display) || fallback;
  if (reserved.has(base) || (kind === 'column' && RESERVED_COLUMNS.has(base))) base = `${base}_`;
  if (!taken(base)) return base;
  for (let i = 2; i < 10_000; i++) {
    const candidate = `${base}_${i}`;
    if (!taken(candidate)) return candidate;
  }
  throw conflict('name_taken', `no free ${kind} name for "${display}"`);
}

/**
 * Names of objects we park (trashed tables and columns, copies kept by a lossy type
 * change) start with this prefix, which users may not choose, and carry the object's id:
 * so they never collide with each other nor with anything a user names.
 */
export const TRASH_PREFIX = '_tw_';

export function trashName(kind: 't' | 'f' | 'was_f', id: number, name: string): string {
  return truncateBytes(`${TRASH_PREFIX}${kind}${id}_${name}`, MAX_IDENTIFIER_BYTES);
}
