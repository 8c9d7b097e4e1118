-- name: catalog_constraints
-- UNIQUE, FOREIGN KEY and EXCLUDE constraints on tables of the managed schemas (primary
-- keys come with catalog_relations), with the columns they cover (attnums) and, for a
-- foreign key, the referenced table and its ON DELETE action
-- (a no action, r restrict, c cascade, n set null, d set default). ours: a UNIQUE over
-- several fields that tablewright.table_indexes describes (031_table_indexes.sql).
-- $1: the schema names; $2: the oids of the tables to read, or NULL for all.
SELECT con.conrelid::int8        AS table_oid,
       con.conname               AS name,
       con.contype::text         AS kind,
       con.conkey::int2[]        AS columns,
       nullif(con.confrelid, 0)::int8 AS ref_oid,
       con.confkey::int2[]       AS ref_columns,
       nullif(con.confdeltype::text, ' ') AS on_delete,
       EXISTS (SELECT 1 FROM tablewright.table_indexes ti JOIN tablewright.tables t ON t.id = ti.table_id
                WHERE t.table_oid = con.conrelid AND ti.name = con.conname) AS ours
  FROM pg_constraint con
  JOIN pg_namespace n ON n.oid = con.connamespace
 WHERE n.nspname = ANY($1::text[])
   AND con.conrelid <> 0
   AND con.contype IN ('u', 'f', 'x')
   AND ($2::oid[] IS NULL OR con.conrelid = ANY ($2::oid[]))
 ORDER BY con.conrelid, con.conname;
