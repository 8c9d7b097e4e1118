-- name: drift_candidates
-- The reconcile's first pass, inside the database: which managed tables are certainly in
-- step with their metadata, so that only the others (and every table no metadata
-- describes) are read in full and compared field by field. A table passes when it is
-- where its metadata says (same oid, schema and name, and a comment naming no other table),
-- has no dropped columns beyond the warning, no column the metadata does not know (but its
-- key "id", filled by PostgreSQL), and every field has its column (same attnum and name) with the expected type,
-- NOT NULL, UNIQUE and index, and no default on either side. Anything else (a default, a
-- link, a table a link points to) is compared in full: this pass may send a clean table to
-- the second pass, never skip a drifted one.
-- $1: the schema names {DATA_SCHEMA, TRASH_SCHEMA}; $2: the column type each field type
-- creates, by 'type:decimals' (from the field type registry); $3: COLUMN_SLOT_WARNING.
--
-- Cost, at 10,000 tables x 20 columns: fields meet their columns in one hash join on
-- (table oid, attnum), two integers; names and types are compared on the joined rows, never
-- sorted or hashed as keys, and both sides are projected narrow first (attname is a 64-byte
-- name). One hash aggregate per table follows. The version this replaces joined on the names
-- too and sorted 190,000 rows by them: at the default work_mem of 4 MB, PostgreSQL 15 spilled
-- about 100 MB to temporary files and spent over a second of CPU. The snapshot also raises
-- work_mem for its transaction (snapshot.ts), so the join's hash stays in memory.
-- bool_and() skips NULLs: every condition below is coalesced to false, so that a value this
-- pass cannot compare (an unknown type, say) fails the table instead of being passed over.
WITH rel AS (
  SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relnatts, pk.conkey AS pk_key,
         substring(d.description FROM '\(tablewright table (\d+)\)(?: \{.*\})?$')::int8 AS tag
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
    LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
   WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
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
), col_flags AS (
  -- the few columns with a UNIQUE of their own, an index of their own, or a NOT NULL
  -- added NOT VALID (PostgreSQL 18+: attnotnull is set, but rows may hold NULLs, so the
  -- column is not NOT NULL yet): one row per column, joined once
  SELECT oid, attnum, bool_or(uniq) AS uniq, bool_or(indexed) AS indexed, bool_or(not_valid) AS not_valid
    FROM (SELECT k.conrelid AS oid, k.conkey[1] AS attnum, true AS uniq, false AS indexed, false AS not_valid
            FROM pg_constraint k JOIN rel r ON r.oid = k.conrelid
           WHERE k.contype = 'u' AND cardinality(k.conkey) = 1
          UNION ALL
          SELECT nn.conrelid, nn.conkey[1], false, false, true
            FROM pg_constraint nn JOIN rel r ON r.oid = nn.conrelid
           WHERE nn.contype = 'n' AND NOT nn.convalidated
          UNION ALL
          -- one column's own index; one over several columns is an index over several fields
          SELECT oid, attnum, uniq AND single, NOT uniq AND whole AND natts = 1, false
            FROM idx WHERE (uniq AND single) OR (NOT uniq AND whole AND natts = 1)) f
   GROUP BY oid, attnum
), multi AS (
  -- indexes and UNIQUE constraints over several columns that no table_indexes row
  -- describes (hand-made in psql): drift to adopt, so their table is compared
  SELECT DISTINCT r.oid
    FROM pg_index i JOIN rel r ON r.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
   WHERE i.indnatts > 1 AND NOT i.indisprimary
     AND NOT EXISTS (SELECT 1 FROM tablewright.table_indexes ti JOIN tablewright.tables t ON t.id = ti.table_id
                      WHERE t.table_oid = i.indrelid AND ti.name = ic.relname)
), cols AS (
  -- every column slot of those tables, dropped ones included (they are counted, not
  -- compared), narrow: attname as text, the type as (oid, typmod) until a field is met.
  -- Joined to pg_class itself, not to rel: a CTE has no statistics, and the planner, taking
  -- its oids for 200 distinct values, would hash all of pg_attribute instead of rel.
  SELECT a.attrelid AS oid, a.attnum, a.attname::text COLLATE "C" AS name, a.atttypid, a.atttypmod,
         a.attnotnull, a.atthasdef, a.attisdropped AS dropped,
         a.attname = 'id' AND cardinality(pk.conkey) = 1 AND a.attnum = pk.conkey[1] AS is_id_key,
         a.attidentity <> '' OR a.atthasdef AS filled
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
   WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0
), expected AS (
  -- what each field of a live table expects of its column; type is NULL where this pass
  -- does not compare (a link, a default, a type it cannot name): such a field never
  -- passes. Joined to the metadata tables, not to matched (no statistics either); only a
  -- table in place is verified below.
  SELECT t.table_oid AS oid, f.attnum,
         CASE WHEN f.trashed_at IS NULL THEN f.column_name ELSE f.trash_name END AS name,
         f.trashed_at IS NOT NULL AS trashed,
         CASE WHEN f.type <> 'link' AND f.default_value IS NULL AND f.pg_default IS NULL
              THEN coalesce(f.pg_type, $2::jsonb ->> (f.type || ':' || coalesce(f.options ->> 'decimals', ''))) END AS type,
         f.not_null, f.is_unique, f.indexed
    FROM tablewright.fields f
    JOIN tablewright.tables t ON t.id = f.table_id
   WHERE t.trashed_at IS NULL AND t.table_oid IS NOT NULL
), field_counts AS (
  SELECT table_id, count(*) AS n FROM tablewright.fields GROUP BY table_id
), per_table AS (
  -- Every column slot with the field that names its attnum, grouped by table (by pg_attribute's
  -- own attrelid, whose statistics the planner has: a full join's coalesce(...) would look
  -- like 190,000 groups, sorted on disk). ok: every live column met its field (or is the key
  -- "id"); fields meets the table's field count when every field met its column; a column
  -- two fields claim appears twice, and live_rows then exceeds the live columns.
  SELECT c.oid,
         count(*) FILTER (WHERE c.dropped) AS dropped,
         count(*) FILTER (WHERE NOT c.dropped) AS live_rows,
         count(e.oid) AS fields,
         bool_and(coalesce(
           CASE WHEN c.dropped THEN e.oid IS NULL
                -- the key "id", filled by PostgreSQL (identity or a default: else the
                -- compare reports it; a table adopted read-only is compared in full)
                WHEN e.oid IS NULL THEN c.is_id_key AND c.filled
                WHEN c.is_id_key OR c.name IS DISTINCT FROM e.name THEN false
                WHEN e.trashed THEN true
                ELSE format_type(c.atttypid, c.atttypmod) = e.type
                 AND (c.attnotnull AND NOT coalesce(k.not_valid, false)) = e.not_null
                 AND NOT c.atthasdef
                 AND e.is_unique = coalesce(k.uniq, false)
                 -- a unique field's UNIQUE index is its index too
                 AND e.indexed = (coalesce(k.indexed, false) OR (e.indexed AND coalesce(k.uniq, false)))
           END, false)) AS ok
    FROM cols c
    LEFT JOIN expected e ON e.oid = c.oid AND e.attnum = c.attnum
    LEFT JOIN col_flags k ON k.oid = e.oid AND k.attnum = e.attnum
   GROUP BY c.oid
), verified AS (
  SELECT m.id, m.oid
    FROM matched m
    LEFT JOIN per_table p ON p.oid = m.oid
    LEFT JOIN field_counts fc ON fc.table_id = m.id
   WHERE m.in_place
     AND NOT EXISTS (SELECT 1 FROM linked l WHERE l.id = m.id)
     AND NOT EXISTS (SELECT 1 FROM multi x WHERE x.oid = m.oid)
     AND (m.trashed OR (
           p.ok
       AND p.fields = coalesce(fc.n, 0)
       AND p.live_rows = m.relnatts - p.dropped
       AND (m.relnatts < $3 OR p.dropped = 0)))
)
-- Anti joins (NOT EXISTS), never NOT IN over a CTE: PostgreSQL 15 misestimates "verified"
-- at millions of rows, will not hash a NOT IN that big, and rescans it for every row (46 s
-- of 53 at 10,000 tables; PostgreSQL 18 happened to hash it).
SELECT (SELECT coalesce(array_agg(id), '{}') FROM verified)::int8[] AS verified_tables,
       (SELECT coalesce(array_agg(t.id), '{}') FROM tablewright.tables t WHERE NOT EXISTS (SELECT 1 FROM verified v WHERE v.id = t.id))::int8[] AS candidate_tables,
       (SELECT coalesce(array_agg(r.oid), '{}') FROM rel r WHERE NOT EXISTS (SELECT 1 FROM verified v WHERE v.oid = r.oid))::int8[] AS candidate_oids,
       (SELECT count(*) FROM rel)::int AS tables,
       (SELECT coalesce(sum(r.relnatts - p.dropped), 0) FROM rel r JOIN per_table p ON p.oid = r.oid)::int AS columns;
