-- name: drift_candidates
-- The reconcile's first pass, inside the database: which managed tables are certainly in
-- step with their metadata, so that only the others (and every table no metadata
-- describes) are read in full and compared field by field. A table passes when it is
-- where its metadata says (same oid, schema and name, and a comment naming no other table),
-- has no dropped columns beyond the
-- warning, no column the metadata does not know, and every field has its column (same
-- attnum and name) with the expected type, NOT NULL, UNIQUE and index, and no default on
-- either side. Anything else (a default, a link, a table a link points to) is compared in
-- full: this pass may send a clean table to the second pass, never skip a drifted one.
-- $1: the schema names {DATA_SCHEMA, TRASH_SCHEMA}; $2: the column type each field type
-- creates, by 'type:decimals' (from the field type registry); $3: COLUMN_SLOT_WARNING.
WITH rel AS (
  SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relnatts, pk.conkey AS pk_key,
         substring(d.description FROM '\(tablewright table (\d+)\)(?: \{.*\})?$')::int8 AS tag
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
    LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
   WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
), att AS MATERIALIZED (
  -- the live columns of those tables, read once for both uses below (pg_attribute holds
  -- every column of the database: the system catalogs' and other schemas' too)
  SELECT a.attrelid, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.atthasdef,
         a.attname = 'id' AND cardinality(r.pk_key) = 1 AND a.attnum = r.pk_key[1] AS is_id_key
    FROM pg_attribute a JOIN rel r ON r.oid = a.attrelid
   WHERE a.attnum > 0 AND NOT a.attisdropped
), matched AS (
  -- joined on the oid alone (an estimate the planner gets right); in_place says whether
  -- the table is also where the metadata says
  SELECT t.id, t.trashed_at IS NOT NULL AS trashed, r.oid, r.relnatts,
         r.schema = CASE WHEN t.trashed_at IS NULL THEN ($1::text[])[1] ELSE ($1::text[])[2] END
           AND r.name = CASE WHEN t.trashed_at IS NULL THEN t.table_name ELSE coalesce(t.trash_name, t.table_name) END
           AND (r.tag IS NULL OR r.tag = t.id) AS in_place
    FROM tablewright.tables t
    JOIN rel r ON r.oid = t.table_oid
), linked AS (
  SELECT DISTINCT (options ->> 'table_id')::bigint AS id FROM tablewright.fields WHERE type = 'link'
), idx AS (
  -- indexes that back no constraint (a UNIQUE constraint's own index is the constraint)
  SELECT i.indrelid AS oid, i.indkey[0] AS attnum, i.indisunique AS uniq,
         i.indpred IS NULL AS whole, i.indpred IS NULL AND i.indexprs IS NULL AND i.indnatts = 1 AS single, i.indnatts AS natts
    FROM pg_index i JOIN rel r ON r.oid = i.indrelid
   WHERE NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.conrelid = i.indrelid)
), uniq AS (
  SELECT k.conrelid AS oid, k.conkey[1] AS attnum
    FROM pg_constraint k JOIN rel r ON r.oid = k.conrelid
   WHERE k.contype = 'u' AND cardinality(k.conkey) = 1
  UNION
  SELECT oid, attnum FROM idx WHERE uniq AND single
), indexed AS (
  -- one column's own index; one over several columns is an index over several fields
  SELECT DISTINCT oid, attnum FROM idx WHERE NOT uniq AND whole AND natts = 1
), multi AS (
  -- indexes and UNIQUE constraints over several columns that no table_indexes row
  -- describes (hand-made in psql): drift to adopt, so their table is compared
  SELECT DISTINCT r.oid
    FROM pg_index i JOIN rel r ON r.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
   WHERE i.indnatts > 1 AND NOT i.indisprimary
     AND NOT EXISTS (SELECT 1 FROM tablewright.table_indexes ti JOIN tablewright.tables t ON t.id = ti.table_id
                      WHERE t.table_oid = i.indrelid AND ti.name = ic.relname)
), field_check AS (
  SELECT f.table_id,
         count(*) AS n,
         bool_and(a.attnum IS NOT NULL AND (f.trashed_at IS NOT NULL OR (
               f.type <> 'link'
           AND format_type(a.atttypid, a.atttypmod) = coalesce(f.pg_type, $2::jsonb ->> (f.type || ':' || coalesce(f.options ->> 'decimals', '')))
           AND (a.attnotnull AND NOT EXISTS (SELECT 1 FROM pg_constraint nn WHERE nn.conrelid = a.attrelid AND nn.contype = 'n'
                                              AND nn.conkey[1] = a.attnum AND NOT nn.convalidated)) = f.not_null
           AND f.default_value IS NULL AND f.pg_default IS NULL AND NOT a.atthasdef
           AND f.is_unique = (u.oid IS NOT NULL)
           -- a unique field's UNIQUE index is its index too
           AND f.indexed = (x.oid IS NOT NULL OR (f.indexed AND u.oid IS NOT NULL))
         ))) AS ok
    FROM tablewright.fields f
    JOIN matched m ON m.id = f.table_id AND NOT m.trashed AND m.in_place
    LEFT JOIN att a ON a.attrelid = m.oid AND a.attnum = f.attnum
                   AND a.attname = CASE WHEN f.trashed_at IS NULL THEN f.column_name ELSE f.trash_name END
    LEFT JOIN uniq u ON u.oid = m.oid AND u.attnum = f.attnum
    LEFT JOIN indexed x ON x.oid = m.oid AND x.attnum = f.attnum
   GROUP BY f.table_id
), live_columns AS (
  -- live columns per table, and whether one of them is the primary key "id" (not a
  -- field: every managed table has it)
  SELECT a.attrelid AS oid, count(*) AS n,
         count(*) FILTER (WHERE a.is_id_key) AS id_key
    FROM att a
   GROUP BY a.attrelid
), verified AS (
  SELECT m.id, m.oid
    FROM matched m
    LEFT JOIN field_check fc ON fc.table_id = m.id
    LEFT JOIN live_columns lc ON lc.oid = m.oid
   WHERE m.in_place
     AND NOT EXISTS (SELECT 1 FROM linked l WHERE l.id = m.id)
     AND NOT EXISTS (SELECT 1 FROM multi x WHERE x.oid = m.oid)
     AND (m.trashed OR (
           coalesce(fc.ok, true)
       AND lc.n = coalesce(fc.n, 0) + lc.id_key
       AND (m.relnatts < $3 OR m.relnatts = lc.n)))
)
-- Anti joins (NOT EXISTS), never NOT IN over a CTE: PostgreSQL 15 misestimates "verified"
-- at millions of rows, will not hash a NOT IN that big, and rescans it for every row (46 s
-- of 53 at 10,000 tables; PostgreSQL 18 happened to hash it).
SELECT (SELECT coalesce(array_agg(id), '{}') FROM verified)::int8[] AS verified_tables,
       (SELECT coalesce(array_agg(t.id), '{}') FROM tablewright.tables t WHERE NOT EXISTS (SELECT 1 FROM verified v WHERE v.id = t.id))::int8[] AS candidate_tables,
       (SELECT coalesce(array_agg(r.oid), '{}') FROM rel r WHERE NOT EXISTS (SELECT 1 FROM verified v WHERE v.oid = r.oid))::int8[] AS candidate_oids,
       (SELECT count(*) FROM rel)::int AS tables,
       (SELECT coalesce(sum(n), 0) FROM live_columns)::int AS columns;
