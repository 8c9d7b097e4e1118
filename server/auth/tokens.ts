// API tokens for scripts. The token is shown once, at creation; only its SHA-256 is
// stored (a random 32-byte value needs no slow hash: it cannot be guessed or brute-forced).
import { notFound } from '../errors.js';
import type { Queryable } from '../db/pool.js';
import type { Caller } from './caller.js';
import type { Role } from './roles.js';
import { randomSecret, sha256 } from './secret.js';
import { parseRole, parseTokenName } from './validate.js';

export const TOKEN_PREFIX = 'tw_';
/** last_used_at is written at most this often per token, not on every request. */
const TOUCH_EVERY_SECONDS = 60;

export interface ApiToken {
  id: number;
  name: string;
  role: Role;
  prefix: string;
  created_at: Date;
  created_by: string | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
}

const COLUMNS = 'id, name, role, prefix, created_at, created_by, last_used_at, revoked_at, revoked_by';

export async function listTokens(db: Queryable): Promise<ApiToken[]> {
  const { rows } = await db.query<ApiToken>(
    /* sql */ `SELECT ${COLUMNS} FROM tablewright.api_tokens ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC`,
  );
  return rows;
}

/** Creates a token; the plain value is in the result and nowhere else, ever. */
export async function createToken(
  db: Queryable,
  input: { name: unknown; role: unknown },
  actor: string,
): Promise<ApiToken & { token: string }> {
  const name = parseTokenName(input.name);
  const role = parseRole(input.role);
  const token = TOKEN_PREFIX + randomSecret();
  const { rows } = await db.query<ApiToken>(
    /* sql */ `INSERT INTO tablewright.api_tokens (name, role, token_hash, prefix, created_by)
               VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [name, role, sha256(token), token.slice(0, TOKEN_PREFIX.length + 6), actor],
  );
  return { ...rows[0]!, token };
}

export async function revokeToken(db: Queryable, id: number, actor: string): Promise<ApiToken> {
  const { rows } = await db.query<ApiToken>(
    /* sql */ `UPDATE tablewright.api_tokens SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, $2)
                WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, actor],
  );
  if (!rows[0]) throw notFound('token');
  return rows[0];
}

/** The caller a bearer token stands for, or undefined when it is unknown or revoked. */
export async function resolveToken(db: Queryable, token: string): Promise<Caller | undefined> {
  if (token.length === 0 || token.length > 200) return undefined;
  const hash = sha256(token);
  const { rows } = await db.query<{ id: number; name: string; role: Role; stale: boolean }>(
    /* sql */ `SELECT id, name, role,
                      (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2)) AS stale
                 FROM tablewright.api_tokens
                WHERE token_hash = $1 AND revoked_at IS NULL`,
    [hash, TOUCH_EVERY_SECONDS],
  );
  const row = rows[0];
  if (!row) return undefined;
  if (row.stale) await db.query(/* sql */ `UPDATE tablewright.api_tokens SET last_used_at = now() WHERE id = $1`, [row.id]);
  return { kind: 'token', id: row.id, name: row.name, role: row.role };
}
