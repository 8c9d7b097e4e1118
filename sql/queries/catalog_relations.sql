-- name: catalog_relations
-- Every table (plain or partitioned, not a partition) in the managed schemas: its catalog
-- identity, estimated rows and size (from the planner statistics: free to read, exact
-- enough for a listing), column slots used (dropped ones included: PostgreSQL never reuses
-- them, and a table has at most 1600), its primary key and its comment.
-- $1: the schema names (DATA_SCHEMA, TRASH_SCHEMA); $2: the oids of the tables to read, or NULL for all.
SELECT c.oid::int8                                                   AS oid,
       n.nspname                                                     AS schema,
       c.relname                                                     AS name,
       c.relkind::text                                               AS kind,
       greatest(c.reltuples, 0)::float8                              AS est_rows,
       c.relpages::int8 * current_setting('block_size')::int8        AS est_bytes,
       c.relnatts::int                                               AS slots,
       d.description                                                 AS comment,
       pk.conname                                                    AS pk_name,
       pk.conkey::int2[]                                             AS pk_columns
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
  LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
 WHERE n.nspname = ANY($1::text[])
   AND c.relkind IN ('r', 'p')
   AND NOT c.relispartition
   AND ($2::oid[] IS NULL OR c.oid = ANY ($2::oid[]))
 ORDER BY n.nspname, c.relname;
