-- name: table_ddl
-- What the console's SQL tab prints for one table: its DDL as PostgreSQL has it, read
-- from pg_catalog (never from our metadata), in the shape pg_dump would write it.
-- Every statement takes $1: the table's oid (e.g. 'data.customers'::regclass).
-- Names come back already quoted (format('%I')), so that the text can be run as it is.

-- statement: relation
-- The table itself: its qualified name, kind, persistence, storage options and comment.
SELECT format('%I.%I', n.nspname, c.relname)          AS qualified,
       quote_ident(n.nspname)                          AS schema,
       c.relkind::text                                 AS kind,
       c.relpersistence::text                          AS persistence,
       c.reloptions                                    AS options,
       pg_get_userbyid(c.relowner)                     AS owner,
       d.description                                   AS comment
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
 WHERE c.oid = $1;

-- statement: columns
-- Live columns in attnum order (dropped ones are gone from the DDL, as in pg_dump):
-- the type as format_type() prints it, the collation when it is not the type's default,
-- the default or generation expression, identity with its sequence, NOT NULL, comment.
SELECT quote_ident(a.attname)                                       AS name,
       format_type(a.atttypid, a.atttypmod)                         AS type,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
            THEN format('%I.%I', cn.nspname, co.collname) END       AS collation,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS default_expr,
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS generated_expr,
       nullif(a.attgenerated::text, '')                             AS generated,
       nullif(a.attidentity::text, '')                              AS identity,
       CASE WHEN a.attidentity <> '' THEN pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) END AS identity_sequence,
       a.attnotnull                                                 AS not_null,
       d.description                                                AS comment
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
  LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  LEFT JOIN pg_description d ON d.objoid = a.attrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
 WHERE a.attrelid = $1
   AND a.attnum > 0
   AND NOT a.attisdropped
 ORDER BY a.attnum;

-- statement: constraints
-- Table constraints as pg_get_constraintdef() prints them: primary key first, then
-- unique, foreign keys, checks, exclusions. NOT NULL is a column property above
-- (PostgreSQL 18 also lists it here, as contype 'n'); constraint triggers are triggers.
SELECT quote_ident(con.conname)                  AS name,
       con.contype::text                         AS kind,
       pg_get_constraintdef(con.oid, true)       AS definition,
       d.description                             AS comment
  FROM pg_constraint con
  LEFT JOIN pg_description d ON d.objoid = con.oid AND d.classoid = 'pg_constraint'::regclass AND d.objsubid = 0
 WHERE con.conrelid = $1
   AND con.contype IN ('p', 'u', 'f', 'c', 'x')
 ORDER BY array_position(ARRAY['p', 'u', 'f', 'c', 'x'], con.contype::text), con.conname;

-- statement: indexes
-- Indexes that are not the backing index of a constraint above (those come with their
-- constraint), as pg_get_indexdef() prints them.
SELECT quote_ident(ic.relname)                   AS name,
       pg_get_indexdef(i.indexrelid)             AS definition,
       d.description                             AS comment
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  LEFT JOIN pg_description d ON d.objoid = i.indexrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
 WHERE i.indrelid = $1
   AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x'))
 ORDER BY ic.relname;

-- statement: triggers
-- User triggers (not the internal ones behind foreign keys), as pg_get_triggerdef() prints them.
SELECT quote_ident(tg.tgname)                    AS name,
       pg_get_triggerdef(tg.oid, true)           AS definition
  FROM pg_trigger tg
 WHERE tg.tgrelid = $1
   AND NOT tg.tgisinternal
 ORDER BY tg.tgname;
