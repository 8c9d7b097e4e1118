-- name: catalog_indexes
-- Indexes on tables of the managed schemas that do not back a constraint (the primary
-- key's and UNIQUE constraints' own indexes are reported with the constraints): unique or
-- not, the columns they cover (0 stands for an expression), partial or not. Indexes over
-- several fields that tablewright.table_indexes describes are left out.
-- $1: the schema names; $2: the oids of the tables to read, or NULL for all.
SELECT i.indrelid::int8            AS table_oid,
       ic.relname                  AS name,
       i.indisunique               AS is_unique,
       i.indkey::int2[]            AS columns,
       (i.indpred IS NOT NULL)     AS partial,
       (i.indexprs IS NOT NULL)    AS expressions
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = ic.relnamespace
 WHERE n.nspname = ANY($1::text[])
   AND ($2::oid[] IS NULL OR i.indrelid = ANY ($2::oid[]))
   AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid)
   -- an index over several fields of ours (031_table_indexes.sql) is described by its own row
   AND NOT EXISTS (SELECT 1 FROM tablewright.table_indexes ti JOIN tablewright.tables t ON t.id = ti.table_id
                    WHERE t.table_oid = i.indrelid AND ti.name = ic.relname)
 ORDER BY i.indrelid, ic.relname;
