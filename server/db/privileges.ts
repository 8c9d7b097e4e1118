// What the connected role may do, checked up front so that a missing privilege is one
// clear sentence naming the GRANT to run, never a 500 halfway through a change. Used at
// start-up (migrate), by the actions that alter tables made by someone else (adopt), by
// `tablewright doctor` and by GET /readyz?details=1.
import type { Queryable } from './pool.js';
import { ident } from './ident.js';

/** A start-up problem of privileges or set-up: one sentence naming the fix (the CLI prints it without a stack). */
export class StartupError extends Error {}

const quote = (name: string) => (/^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`);

/** undefined when the role has what is asked; else the sentence to show. */
export async function missingPrivilege(
  db: Queryable,
  check: { schema: string; need: Array<'USAGE' | 'CREATE'> } | { createSchema: string },
): Promise<string | undefined> {
  const { rows } = await db.query<{ role: string; database: string; can_create: boolean; usage: boolean | null; create: boolean | null }>(
    /* sql */ `SELECT current_user AS role, current_database() AS database,
        has_database_privilege(current_database(), 'CREATE') AS can_create,
        CASE WHEN $1::text IS NULL THEN NULL ELSE has_schema_privilege($1, 'USAGE') END AS usage,
        CASE WHEN $1::text IS NULL THEN NULL ELSE has_schema_privilege($1, 'CREATE') END AS create`,
    ['schema' in check ? check.schema : null],
  );
  const r = rows[0]!;
  if ('createSchema' in check) {
    if (r.can_create) return undefined;
    return (
      `the schema ${quote(check.createSchema)} does not exist and the role ${quote(r.role)} may not create it: as an administrator, run ` +
      `CREATE SCHEMA ${quote(check.createSchema)} AUTHORIZATION ${quote(r.role)}; (or GRANT CREATE ON DATABASE ${quote(r.database)} TO ${quote(r.role)};)`
    );
  }
  const lacking = check.need.filter((p) => (p === 'USAGE' ? !r.usage : !r.create));
  if (!lacking.length) return undefined;
  return `the role ${quote(r.role)} lacks ${lacking.join(' and ')} on schema ${quote(check.schema)}: as an administrator, run GRANT ${lacking.join(', ')} ON SCHEMA ${quote(check.schema)} TO ${quote(r.role)};`;
}

/** Who owns a relation, and whether the connected role may alter it (owner, or member of the owning role). */
export async function relationOwnership(db: Queryable, oid: number): Promise<{ owner: string; role: string; mayAlter: boolean } | undefined> {
  const { rows } = await db.query<{ owner: string; role: string; may: boolean }>(
    /* sql */ `SELECT pg_get_userbyid(c.relowner) AS owner, current_user AS role, pg_has_role(current_user, c.relowner, 'USAGE') AS may
       FROM pg_class c WHERE c.oid = $1`,
    [oid],
  );
  return rows[0] ? { owner: rows[0].owner, role: rows[0].role, mayAlter: rows[0].may } : undefined;
}

/** The sentence for a table the role cannot alter. */
export function notOwnerMessage(relation: string, owner: string, role: string, table: string): string {
  return (
    `must be owner of table ${table}: ${relation} is owned by the role ${quote(owner)}, and Tablewright connects as ${quote(role)}, which may not alter it: as an administrator, run ` +
    `ALTER TABLE ${relation} OWNER TO ${quote(role)}; (or GRANT ${quote(owner)} TO ${quote(role)};)`
  );
}

export interface Capability {
  /** a short key scripts can match */
  key: string;
  ok: boolean;
  /** what it is for, or what is missing and the GRANT that gives it */
  detail: string;
}

/** What the connected role can and cannot do, for `tablewright doctor` and /readyz?details=1. */
export async function describeCapabilities(db: Queryable, schemas: { data: string; trash: string }): Promise<{ role: string; database: string; superuser: boolean; capabilities: Capability[] }> {
  const { rows } = await db.query<{
    role: string;
    database: string;
    superuser: boolean;
    create_db: boolean;
    meta_exists: boolean;
    meta_usage: boolean;
    meta_create: boolean;
    data_exists: boolean;
    data_usage: boolean;
    data_create: boolean;
    trash_exists: boolean;
    trash_usage: boolean;
    trash_create: boolean;
    tables: number;
    not_owned: string[];
    stats: boolean;
  }>(
    /* sql */ `WITH s AS (SELECT nspname, oid FROM pg_namespace WHERE nspname = ANY ($1::text[]))
      SELECT current_user AS role, current_database() AS database,
        (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
        has_database_privilege(current_database(), 'CREATE') AS create_db,
        EXISTS (SELECT 1 FROM s WHERE nspname = 'tablewright') AS meta_exists,
        coalesce((SELECT has_schema_privilege(oid, 'USAGE') FROM s WHERE nspname = 'tablewright'), false) AS meta_usage,
        coalesce((SELECT has_schema_privilege(oid, 'CREATE') FROM s WHERE nspname = 'tablewright'), false) AS meta_create,
        EXISTS (SELECT 1 FROM s WHERE nspname = $2) AS data_exists,
        coalesce((SELECT has_schema_privilege(oid, 'USAGE') FROM s WHERE nspname = $2), false) AS data_usage,
        coalesce((SELECT has_schema_privilege(oid, 'CREATE') FROM s WHERE nspname = $2), false) AS data_create,
        EXISTS (SELECT 1 FROM s WHERE nspname = $3) AS trash_exists,
        coalesce((SELECT has_schema_privilege(oid, 'USAGE') FROM s WHERE nspname = $3), false) AS trash_usage,
        coalesce((SELECT has_schema_privilege(oid, 'CREATE') FROM s WHERE nspname = $3), false) AS trash_create,
        (SELECT count(*)::int FROM pg_class c JOIN s ON s.oid = c.relnamespace WHERE s.nspname IN ($2, $3) AND c.relkind IN ('r', 'p')) AS tables,
        (SELECT coalesce(array_agg(s.nspname || '.' || c.relname || ' (owner ' || pg_get_userbyid(c.relowner) || ')' ORDER BY s.nspname, c.relname), '{}')
           FROM pg_class c JOIN s ON s.oid = c.relnamespace
          WHERE s.nspname IN ($2, $3) AND c.relkind IN ('r', 'p') AND NOT pg_has_role(current_user, c.relowner, 'USAGE')) AS not_owned,
        pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS stats`,
    [['tablewright', schemas.data, schemas.trash], schemas.data, schemas.trash],
  );
  const r = rows[0]!;
  const role = quote(r.role);
  const db_ = quote(r.database);
  const schemaCap = (key: string, name: string, exists: boolean, usage: boolean, create: boolean, what: string): Capability => {
    if (!exists) {
      return r.create_db
        ? { key, ok: true, detail: `schema ${quote(name)} does not exist yet; the role will create it at start` }
        : { key, ok: false, detail: `schema ${quote(name)} does not exist and the role may not create it: CREATE SCHEMA ${quote(name)} AUTHORIZATION ${role};` };
    }
    const lacking = [...(usage ? [] : ['USAGE']), ...(create ? [] : ['CREATE'])];
    return lacking.length
      ? { key, ok: false, detail: `lacks ${lacking.join(' and ')} on schema ${quote(name)} (${what}): GRANT ${lacking.join(', ')} ON SCHEMA ${quote(name)} TO ${role};` }
      : { key, ok: true, detail: `USAGE and CREATE on schema ${quote(name)} (${what})` };
  };
  const capabilities: Capability[] = [
    {
      key: 'create_schemas',
      ok: r.create_db,
      detail: r.create_db
        ? `may create schemas in database ${db_} (needed only when a schema is missing)`
        : `may not create schemas in database ${db_}: fine while tablewright, ${quote(schemas.data)} and ${quote(schemas.trash)} exist; otherwise GRANT CREATE ON DATABASE ${db_} TO ${role};`,
    },
    schemaCap('metadata_schema', 'tablewright', r.meta_exists, r.meta_usage, r.meta_create, 'the metadata'),
    schemaCap('data_schema', schemas.data, r.data_exists, r.data_usage, r.data_create, 'the managed tables'),
    schemaCap('trash_schema', schemas.trash, r.trash_exists, r.trash_usage, r.trash_create, 'trashed tables'),
    {
      key: 'own_tables',
      ok: r.not_owned.length === 0,
      detail: r.not_owned.length === 0
        ? `owns (or is a member of the owner of) all ${r.tables} tables in ${quote(schemas.data)} and ${quote(schemas.trash)}`
        : `cannot alter ${r.not_owned.length} of ${r.tables} tables (adopting or changing them answers 409 until then): ${r.not_owned.slice(0, 5).join(', ')}${r.not_owned.length > 5 ? ', ...' : ''}; ALTER TABLE ... OWNER TO ${role};`,
    },
    {
      key: 'event_triggers',
      ok: r.superuser,
      detail: r.superuser
        ? 'may create event triggers (DDL_EVENT_TRIGGER=true)'
        : 'may not create event triggers (superuser only): DDL_EVENT_TRIGGER stays off, and drift outside the console shows at the next check (DRIFT_CHECK_INTERVAL) instead of within a second',
    },
    {
      key: 'read_activity',
      ok: true,
      detail: r.stats ? 'sees every session in pg_stat_activity' : 'sees its own role\'s sessions in pg_stat_activity (enough: every instance connects as the same role)',
    },
  ];
  return { role: r.role, database: r.database, superuser: r.superuser, capabilities };
}

