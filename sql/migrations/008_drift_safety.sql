-- Drift actions and field indexes that never lose or double anything.

-- 1. A field that is both unique and indexed had two identical btrees: its UNIQUE
-- constraint's index and its own ix_f<id>. The constraint's index serves both now; drop the
-- other where the UNIQUE constraint is there (a busy table keeps it until a later change of
-- the field: both indexes are harmless, only wasteful). Each drop is audited.
DO $$
DECLARE
  r record;
BEGIN
  PERFORM set_config('lock_timeout', '2s', true);
  FOR r IN
    SELECT f.id AS field_id, t.id AS table_id, ic.oid::regclass::text AS index_name
      FROM tablewright.fields f
      JOIN tablewright.tables t ON t.id = f.table_id AND t.table_oid IS NOT NULL
      JOIN pg_index i ON i.indrelid = t.table_oid
      JOIN pg_class ic ON ic.oid = i.indexrelid AND ic.relname = 'ix_f' || f.id
     WHERE f.is_unique AND f.indexed AND f.trashed_at IS NULL
       AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = t.table_oid AND k.contype = 'u' AND k.conname = 'uq_f' || f.id)
  LOOP
    BEGIN
      EXECUTE format('DROP INDEX %s', r.index_name);
      INSERT INTO tablewright.audit (actor, operation, table_id, field_id, ddl, details)
      VALUES ('system:migration', 'drop_duplicate_index', r.table_id, r.field_id, format('DROP INDEX %s;', r.index_name),
              jsonb_build_object('reason', 'the field''s UNIQUE constraint index serves it'));
    EXCEPTION WHEN lock_not_available THEN
      RAISE NOTICE 'index % kept for now: its table is busy', r.index_name;
    END;
  END LOOP;
END $$;

-- 2. Whether a text reads as a value of a type given by its SQL name with modifiers
-- ('character varying(40)', 'numeric(10,2)', 'point'): what an adopted column's own type
-- accepts, so that converting a column back to it counts (and keeps) the values that do
-- not fit instead of failing or cutting them. PostgreSQL 16+ answers with
-- pg_input_is_valid(); before, the cast is tried (a string type must not cut the text).
-- Never raises. PARALLEL UNSAFE: it may start a subtransaction (its EXCEPTION block).
CREATE FUNCTION tablewright.input_is_valid(value text, type_name text) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL UNSAFE AS $$
DECLARE
  out text;
BEGIN
  IF value IS NULL THEN
    RETURN true;
  END IF;
  -- a type as format_type() spells it: nothing else goes into the statement below
  IF type_name !~ '^[a-z][a-z0-9 _]*(\(\d+(,\d+)?\))?( with(out)? time zone)?(\[\])*$' THEN
    RETURN false;
  END IF;
  IF current_setting('server_version_num')::int >= 160000 THEN
    EXECUTE 'SELECT pg_input_is_valid($1, $2)' INTO out USING value, type_name;
    RETURN out::boolean;
  END IF;
  BEGIN
    EXECUTE format('SELECT CAST($1 AS %s)::text', type_name) INTO out USING value;
  EXCEPTION WHEN others THEN
    RETURN false;
  END;
  IF type_name ~ '^(character varying|character|varchar|char|bpchar|bit varying|bit)\(' THEN
    RETURN rtrim(out) = rtrim(value);
  END IF;
  RETURN true;
END $$;
