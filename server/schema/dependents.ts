// What depends on a table's or a column's PostgreSQL name, shown before a physical rename:
// views (PostgreSQL follows a rename for them: they keep working, but their text in a
// dump or an ORM changes), foreign keys from other tables, and functions whose source
// mentions the name (PL/pgSQL bodies are not tracked by pg_depend: they break at their
// next call). Outside SQL (scripts, BI tools, other applications) cannot be listed: the
// console says so every time.
import type { Queryable } from '../db/pool.js';

export interface Dependents {
  views: string[];
  foreign_keys: string[];
  functions: string[];
}

const LIMIT = 20;

/** Dependents of a relation (attnum undefined) or of one of its columns. */
export async function dependentsOf(db: Queryable, oid: number, attnum?: number): Promise<Dependents> {
  const { rows } = await db.query<Dependents>(
    /* sql */ `WITH target AS (
        SELECT c.oid, c.relname, a.attname
          FROM pg_class c LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = $2::int2 AND NOT a.attisdropped
         WHERE c.oid = $1::oid
      )
      SELECT
        ARRAY(SELECT DISTINCT format('%I.%I', vn.nspname, v.relname)
                FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
                JOIN pg_class v ON v.oid = r.ev_class AND v.oid <> $1::oid JOIN pg_namespace vn ON vn.oid = v.relnamespace
               WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::oid AND ($2::int2 IS NULL OR d.refobjsubid = $2::int2)
               ORDER BY 1 LIMIT ${LIMIT}) AS views,
        ARRAY(SELECT format('%I on %I.%I', k.conname, n.nspname, c.relname)
                FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE k.contype = 'f' AND k.confrelid = $1::oid AND k.conrelid <> $1::oid AND ($2::int2 IS NULL OR $2::int2 = ANY (k.confkey))
               ORDER BY 1 LIMIT ${LIMIT}) AS foreign_keys,
        ARRAY(SELECT format('%I.%I(%s)', pn.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
                FROM pg_proc p JOIN pg_namespace pn ON pn.oid = p.pronamespace, target t
               WHERE pn.nspname NOT IN ('pg_catalog', 'information_schema', 'tablewright') AND pn.nspname NOT LIKE 'pg\\_%'
                 AND p.prosrc ~* ('\\m' || regexp_replace(t.relname, '([^a-zA-Z0-9_])', '\\\\\\1', 'g') || '\\M')
                 AND ($2::int2 IS NULL OR p.prosrc ~* ('\\m' || regexp_replace(t.attname, '([^a-zA-Z0-9_])', '\\\\\\1', 'g') || '\\M'))
               ORDER BY 1 LIMIT ${LIMIT}) AS functions`,
    [oid, attnum ?? null],
  );
  return rows[0] ?? { views: [], foreign_keys: [], functions: [] };
}
