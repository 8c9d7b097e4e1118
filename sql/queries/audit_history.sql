-- name: audit_history
-- One page of the audit log (tablewright.audit), newest first, for the History page.
-- Keyset pagination by id: a page ends at the smallest id it shows and the next page
-- asks for ids below it, so that a page costs the same however deep it is and rows
-- added meanwhile never shift it. The table's and field's current names are joined for
-- display; the audit outlives purges (no foreign keys), so they may be gone.
-- $1: a table id, or NULL for every table; $2: show ids below this, or NULL for the
-- newest; $3: how many rows (the caller asks one more to know whether a next page exists).
SELECT a.id,
       a.at,
       a.actor,
       a.operation,
       a.table_id,
       t.name        AS table_name,
       a.field_id,
       f.name        AS field_name,
       a.version,
       a.ddl,
       a.details
  FROM tablewright.audit a
  LEFT JOIN tablewright.tables t ON t.id = a.table_id
  LEFT JOIN tablewright.fields f ON f.id = a.field_id
 WHERE ($1::int8 IS NULL OR a.table_id = $1)
   AND ($2::int8 IS NULL OR a.id < $2)
 ORDER BY a.id DESC
 LIMIT $3;
