-- name: history_triggers
-- Managed tables whose row changes are not being recorded: a live table (with an integer
-- "id" column) whose history triggers are missing, disabled (ALTER TABLE ... DISABLE
-- TRIGGER), or replaced by others of the same name. The schema editor keeps both on every
-- such table (tablewright.sync_history_triggers); a DBA may have dropped them.
-- $1: DATA_SCHEMA.
SELECT t.id AS table_id,
       CASE WHEN r.oid IS NULL THEN 'missing'
            WHEN r.tgfoid <> 'tablewright.record_row_change'::regproc OR r.tgtype <> 29 THEN 'replaced'
            WHEN r.tgenabled NOT IN ('O', 'A') THEN 'disabled' ELSE 'ok' END AS row_trigger,
       CASE WHEN x.oid IS NULL THEN 'missing'
            WHEN x.tgfoid <> 'tablewright.record_truncate'::regproc OR x.tgtype <> 34 THEN 'replaced'
            WHEN x.tgenabled NOT IN ('O', 'A') THEN 'disabled' ELSE 'ok' END AS truncate_trigger
  FROM tablewright.tables t
  JOIN pg_class c ON c.oid = t.table_oid AND c.relname = t.table_name AND c.relkind IN ('r', 'p')
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = $1
  LEFT JOIN pg_trigger r ON r.tgrelid = c.oid AND r.tgname = 'tablewright_history'
  LEFT JOIN pg_trigger x ON x.tgrelid = c.oid AND x.tgname = 'tablewright_history_truncate'
 WHERE t.trashed_at IS NULL
   AND EXISTS (SELECT 1 FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attname = 'id' AND a.attnum > 0 AND NOT a.attisdropped
                  AND a.atttypid IN ('int8'::regtype, 'int4'::regtype, 'int2'::regtype))
   AND (r.oid IS NULL OR r.tgfoid <> 'tablewright.record_row_change'::regproc OR r.tgtype <> 29 OR r.tgenabled NOT IN ('O', 'A')
     OR x.oid IS NULL OR x.tgfoid <> 'tablewright.record_truncate'::regproc OR x.tgtype <> 34 OR x.tgenabled NOT IN ('O', 'A'))
 ORDER BY t.id;
