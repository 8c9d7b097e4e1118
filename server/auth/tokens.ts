// API tokens for scripts. The token is shown once, at creation; only its SHA-256 is
// stored (a random 32-byte value needs no slow hash: it cannot be guessed or brute-forced).
//
// Instances cache resolved tokens (server/auth/token_cache.ts). Whatever changes what a
// token stands for must therefore NOTIFY AUTH_CHANNEL in the statement (or transaction)
// that changes it, so that every instance drops its cache when the change commits. Today
// that is revokeToken alone: a token's caller comes from its own row only (name, role,
// revoked_at), never from a user account, and no code path updates name or role.
import { AUTH_CHANNEL } from '../bus/index.js';
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

/**
 * Revokes a token, and announces it on AUTH_CHANNEL in the same statement: PostgreSQL
 * delivers the notification when (and only if) the revocation commits, and every instance
 * then drops its token cache. `nonce` asks the instances to confirm (Bus.confirmAuthChange).
 */
export async function revokeToken(db: Queryable, id: number, actor: string, opts: { nonce?: string } = {}): Promise<ApiToken> {
  const { rows } = await db.query<ApiToken & { notified: unknown }>(
    /* sql */ `UPDATE tablewright.api_tokens SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, $2)
                WHERE id = $1
            RETURNING ${COLUMNS}, pg_notify($3, json_build_object('op', 'revoke', 'token_id', id, 'nonce', $4::text)::text) AS notified`,
    [id, actor, AUTH_CHANNEL, opts.nonce ?? null],
  );
  if (!rows[0]) throw notFound('token');
  const { notified: _notified, ...token } = rows[0];
  return token;
}

/** Whether a bearer value can be a token at all: anything else is refused without a query. */
export function plausibleToken(token: string): boolean {
  return token.length > 0 && token.length <= 200;
}

/**
 * The caller a bearer token stands for, or undefined when it is unknown or revoked. One
 * round trip: the lookup, and in the same statement the last_used_at touch when it is
 * older than TOUCH_EVERY_SECONDS (a data-modifying CTE always runs; it writes only then).
 */
export async function resolveToken(db: Queryable, token: string): Promise<Caller | undefined> {
  if (!plausibleToken(token)) return undefined;
  const { rows } = await db.query<{ id: number; name: string; role: Role }>(
    /* sql */ `WITH found AS (
                 SELECT id, name, role, last_used_at
                   FROM tablewright.api_tokens
                  WHERE token_hash = $1 AND revoked_at IS NULL
               ), touched AS (
                 UPDATE tablewright.api_tokens t SET last_used_at = now()
                   FROM found
                  WHERE t.id = found.id
                    AND (found.last_used_at IS NULL OR found.last_used_at < now() - make_interval(secs => $2))
               )
               SELECT id, name, role FROM found`,
    [sha256(token), TOUCH_EVERY_SECONDS],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { kind: 'token', id: row.id, name: row.name, role: row.role };
}
