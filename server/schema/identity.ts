// Before the schema editor changes a table, it makes sure the stored oid still names that
// table: after a restore (or a DROP and CREATE by hand) it may name nothing, or another
// table. When the table is certainly found again (its comment names it), its oid and its
// fields' attnums are refreshed inside the change; when it is found only by name, or not
// at all, the change answers 409 pointing at the drift report instead of failing halfway
// (a 500 "column X not found in relation <old oid>").
import { qualified } from '../db/ident.js';
import { notOwnerMessage } from '../db/privileges.js';
import { AppError, conflict } from '../errors.js';
import { locateTable, matchColumns } from '../introspect/identity.js';
import { parseTableComment } from './comments.js';
import type { CatalogTable } from '../introspect/snapshot.js';
import type { Change } from './change.js';
import type { TableMeta } from './metadata.js';

/** What the check needs to know of the relation a stored oid names now (IDENTITY_SQL's columns, prefixed so that a table's row can carry them). */
export interface IdentityRow {
  same_db: boolean | null;
  rel_schema: string | null;
  rel_name: string | null;
  rel_comment: string | null;
  rel_owner: string | null;
  role: string;
  may_alter: boolean | null;
}

/**
 * The identity check's columns, over `c` (pg_class, LEFT JOINed on the stored oid) and `n` (its
 * pg_namespace): a statement that reads the table's row can bring them along.
 */
export const IDENTITY_SQL = /* sql */ `(SELECT identity FROM tablewright.database_identity) = tablewright.current_database_identity() AS same_db,
        n.nspname AS rel_schema, c.relname AS rel_name, obj_description(c.oid, 'pg_class') AS rel_comment,
        pg_get_userbyid(c.relowner) AS rel_owner, current_user AS role, pg_has_role(current_user, c.relowner, 'USAGE') AS may_alter`;

export async function ensureIdentity(c: Change, table: TableMeta): Promise<TableMeta> {
  const { rows } = await c.tx.query<IdentityRow>(
    /* sql */ `SELECT ${IDENTITY_SQL}
       FROM (SELECT $1::oid AS oid) x LEFT JOIN pg_class c ON c.oid = x.oid LEFT JOIN pg_namespace n ON n.oid = c.relnamespace`,
    [table.table_oid ?? 0],
  );
  return (await identityHolds(c, table, rows[0]!)) ? table : relocate(c, table);
}

/**
 * Whether the stored oid still names the table (its row from IDENTITY_SQL): true, or
 * false when it must be found again (relocate); 409 when the role may not alter it.
 */
export async function identityHolds(c: Change, table: TableMeta, r: IdentityRow): Promise<boolean> {
  const schemas = { data: c.deps.config.dataSchema, trash: c.deps.config.trashSchema };
  const tag = parseTableComment(r.rel_comment)?.tableId;
  if (r.same_db !== false && r.rel_schema === schemas.data && r.rel_name === table.table_name && (tag === undefined || tag === table.id)) {
    // the role must be allowed to alter it (a restore run as another role leaves that role the owner)
    if (r.may_alter === false) throw conflict('insufficient_privilege', notOwnerMessage(String(qualified(schemas.data, table.table_name)), r.rel_owner!, r.role, table.table_name));
    return true;
  }
  return false;
}

/** Finds the table again when its stored oid names nothing or another relation: its oid and attnums refreshed, or 409. */
export async function relocate(c: Change, table: TableMeta): Promise<TableMeta> {
  const schemas = { data: c.deps.config.dataSchema, trash: c.deps.config.trashSchema };
  const found = await locateTable(c.tx, table, schemas);
  // The same answer as any request that meets drift (server/db/pg_errors.ts): 409 schema_drift.
  const drift = (why: string) => new AppError(409, 'schema_drift', `${why}; see the drift report (GET /reconcile, or the Drift page) and resolve it there first`, undefined, { reconcile: '/reconcile' });
  if (!found) throw drift(`table "${table.name}" (${schemas.data}.${table.table_name}) is not in the database as the metadata describes it`);
  if (found.rel.name !== table.table_name) throw drift(`table "${table.name}" was renamed outside the console to ${found.rel.name}`);
  if (found.by !== 'comment') {
    throw drift(`table "${table.name}" is not the relation it was (its catalog identity changed, as after a restore), and its comment does not confirm which one it is now`);
  }
  await c.tx.query(`UPDATE tablewright.tables SET table_oid = $2 WHERE id = $1`, [table.id, found.rel.oid]);
  const fields = await refreshFieldIdentities(c, table.id, found.rel);
  c.deps.log.info({ tableId: table.id, from: table.table_oid, to: found.rel.oid, fields }, 'table re-identified by its comment before a schema change');
  return { ...table, table_oid: found.rel.oid };
}

/** Records the attnums of a table's fields as the relation has them now (matched by comment, then name). */
export async function refreshFieldIdentities(c: Change, tableId: number, rel: CatalogTable): Promise<number> {
  const { rows } = await c.tx.query<{ id: number; column_name: string; attnum: number | null; trashed_at: Date | null; trash_name: string | null }>(
    `SELECT id, column_name, attnum, trashed_at, trash_name FROM tablewright.fields WHERE table_id = $1`,
    [tableId],
  );
  // attnums are what is being refreshed: match by comment and name only
  const cols = matchColumns(rel, rows, { sameOid: false, restored: true });
  const stale = rows.filter((f) => cols.has(f.id) && cols.get(f.id)!.attnum !== f.attnum);
  if (stale.length) {
    await c.tx.query(
      /* sql */ `UPDATE tablewright.fields f SET attnum = s.attnum FROM unnest($1::int8[], $2::int2[]) AS s(id, attnum) WHERE f.id = s.id`,
      [stale.map((f) => f.id), stale.map((f) => cols.get(f.id)!.attnum)],
    );
  }
  return stale.length;
}
