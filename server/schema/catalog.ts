// The few catalog look-ups the schema editor needs while it changes things (the full
// snapshot for reconcile lives in server/introspect).
import type { Queryable } from '../db/pool.js';
import { conflict, type AppError } from '../errors.js';

/** Every relation name in a schema (tables, views, sequences, indexes share one namespace). */
export async function relationNames(db: Queryable, schema: string): Promise<Set<string>> {
  const { rows } = await db.query<{ relname: string }>(
    /* sql */ `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`,
    [schema],
  );
  return new Set(rows.map((r) => r.relname));
}

export async function tableOid(db: Queryable, schema: string, name: string): Promise<number | null> {
  const { rows } = await db.query<{ oid: number | null }>(`SELECT to_regclass(format('%I.%I', $1::text, $2::text))::oid::int8 AS oid`, [schema, name]);
  return rows[0]?.oid ?? null;
}

/** Live column names of a table (not dropped, no system columns). */
export async function columnNames(db: Queryable, oid: number): Promise<Set<string>> {
  const { rows } = await db.query<{ attname: string }>(
    /* sql */ `SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`,
    [oid],
  );
  return new Set(rows.map((r) => r.attname));
}

export async function attnumOf(db: Queryable, oid: number, column: string): Promise<number> {
  const { rows } = await db.query<{ attnum: number }>(
    /* sql */ `SELECT attnum FROM pg_attribute WHERE attrelid = $1 AND attname = $2 AND NOT attisdropped`,
    [oid, column],
  );
  if (!rows[0]) throw new Error(`column ${column} not found in relation ${oid}`);
  return rows[0].attnum;
}

/** Column slots used, dropped ones included: PostgreSQL never reuses them (limit 1600). */
export async function columnSlots(db: Queryable, oid: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT relnatts::int AS n FROM pg_class WHERE oid = $1`, [oid]);
  return rows[0]?.n ?? 0;
}

export const PG_MAX_COLUMNS = 1600;

/**
 * Objects outside the table that depend on it (column null) or on one of its columns: views
 * and materialized views, policies, triggers, rules, other tables' foreign keys, functions
 * with a SQL body. A DBA makes them; PostgreSQL refuses to drop or retype what they use.
 * Described as psql would name them ("view data.v", "policy p on table data.t").
 * `relation` is a quoted, qualified name (qualified()).
 */
export async function dependentObjects(db: Queryable, relation: string, column: string | null = null): Promise<string[]> {
  const { rows } = await db.query<{ what: string }>(
    /* sql */ `WITH target AS (
         SELECT c.oid, (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = $2 AND NOT a.attisdropped) AS attnum
           FROM pg_class c WHERE c.oid = to_regclass($1))
     SELECT DISTINCT CASE WHEN d.classid = 'pg_rewrite'::regclass AND r.ev_class <> t.oid
                 THEN CASE v.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END || v.oid::regclass::text
                 ELSE pg_describe_object(d.classid, d.objid, 0) END AS what
       FROM target t
       JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = t.oid AND d.deptype = 'n'
       LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
       LEFT JOIN pg_class v ON v.oid = r.ev_class
      WHERE ($2::text IS NULL OR d.refobjsubid = t.attnum)
        -- the table's own constraints and defaults follow its columns: not dependents
        AND NOT (d.classid = 'pg_constraint'::regclass AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.oid = d.objid AND k.conrelid = t.oid))
        AND d.classid <> 'pg_attrdef'::regclass
        AND NOT (d.classid = 'pg_class'::regclass AND d.objid = t.oid)
      ORDER BY 1 LIMIT 20`,
    [relation, column],
  );
  return rows.map((r) => r.what);
}

/** 409 dependent_objects naming what stands in the way of `doing` (drop, retype). */
export async function assertNoDependents(db: Queryable, relation: string, column: string | null, doing: string): Promise<void> {
  const objects = await dependentObjects(db, relation, column);
  if (objects.length) throw dependentObjectsError(doing, objects);
}

export function dependentObjectsError(doing: string, objects: string[]): AppError {
  return conflict(
    'dependent_objects',
    `${doing} is not possible: ${objects.join(', ')} ${objects.length === 1 ? 'depends' : 'depend'} on it (made outside the console). Drop or change ${objects.length === 1 ? 'it' : 'them'} in SQL first, then try again`,
    undefined,
    { objects },
  );
}
