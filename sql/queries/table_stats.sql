-- name: table_stats
-- The tables page's figures for each managed table: PostgreSQL's row estimate
-- (pg_class.reltuples: -1 until the table is first vacuumed or analyzed), the heap size
-- (what an exact count(*) would read) and the size on disk with indexes and TOAST, and
-- the newest audit row (the last schema change: when, by whom, what).
-- $1: the managed schema (DATA_SCHEMA); $2: the table ids to describe.
-- The table is found by name, not by the remembered oid: a table renamed or dropped
-- outside the console simply has no figures (the drift report explains why).
SELECT t.id                                          AS id,
       c.oid::int8                                   AS oid,
       c.reltuples::int8                             AS estimate,
       pg_relation_size(c.oid)::int8                 AS heap_bytes,
       pg_total_relation_size(c.oid)::int8           AS total_bytes,
       pg_size_pretty(pg_total_relation_size(c.oid)) AS size,
       last.at                                       AS last_change_at,
       last.actor                                    AS last_change_by,
       last.operation                                AS last_change_op
  FROM tablewright.tables t
  LEFT JOIN pg_class c ON c.oid = to_regclass(format('%I.%I', $1::text, t.table_name))
  LEFT JOIN LATERAL (
        SELECT a.at, a.actor, a.operation
          FROM tablewright.audit a
         WHERE a.table_id = t.id
         ORDER BY a.at DESC, a.id DESC
         LIMIT 1) last ON true
 WHERE t.id = ANY ($2::int8[]);
