-- name: catalog_columns
-- The live columns of every table in the managed schemas (dropped ones are counted from
-- pg_class.relnatts instead), with their type as format_type() prints it, nullability (a
-- NOT NULL added NOT VALID, PostgreSQL 18+, is not one yet: rows may hold NULLs),
-- default expression, identity/generated kind and comment. pg_description is joined
-- directly: col_description() per column is one index probe per row.
-- $1: the schema names; $2: the oids of the tables to read, or NULL for all.
SELECT a.attrelid::int8                          AS table_oid,
       a.attnum::int                             AS attnum,
       a.attname                                 AS name,
       format_type(a.atttypid, a.atttypmod)      AS type,
       t.typname                                 AS type_name,
       a.attnotnull AND NOT EXISTS (SELECT 1 FROM pg_constraint nn
         WHERE nn.conrelid = a.attrelid AND nn.contype = 'n' AND nn.conkey[1] = a.attnum AND NOT nn.convalidated) AS not_null,
       pg_get_expr(ad.adbin, ad.adrelid)         AS default_expr,
       nullif(a.attidentity::text, '')           AS identity,
       nullif(a.attgenerated::text, '')          AS generated,
       d.description                             AS comment
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  LEFT JOIN pg_description d ON d.objoid = a.attrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
 WHERE n.nspname = ANY($1::text[])
   AND c.relkind IN ('r', 'p')
   AND NOT c.relispartition
   AND a.attnum > 0
   AND NOT a.attisdropped
   AND ($2::oid[] IS NULL OR a.attrelid = ANY ($2::oid[]))
 ORDER BY a.attrelid, a.attnum;
