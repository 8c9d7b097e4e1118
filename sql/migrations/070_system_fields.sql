-- System fields (server/fields/system.ts): created_at, updated_at, created_by, updated_by
-- are kept true by PostgreSQL itself, so a script's INSERT or a DBA's UPDATE in psql keeps
-- them as true as a write through the daemon. Each such field has a column DEFAULT (what
-- psql's \d shows) and a BEFORE INSERT OR UPDATE trigger named after the field's id
-- (tablewright_sys_f<id>) that overwrites whatever a write sent. autonumber needs no
-- trigger: it is a GENERATED ALWAYS identity column with a UNIQUE constraint.
--
-- The trigger's arguments are the field's kind and its column's attnum, not its name: a
-- rename keeps the trigger right with no DDL.

-- Who a write is for, as the row history records it (020_row_history.sql): the daemon's
-- transaction-local stamp, else the database role.
CREATE FUNCTION tablewright.current_actor() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(nullif(current_setting('tablewright.actor', true), ''), 'db:' || session_user)
$$;

CREATE FUNCTION tablewright.system_field() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  kind text := TG_ARGV[0];
  why  text := nullif(current_setting('tablewright.reason', true), '');
  col  name;
  v    jsonb;
BEGIN
  SELECT a.attname INTO col FROM pg_attribute a
   WHERE a.attrelid = TG_RELID AND a.attnum = TG_ARGV[1]::int2 AND NOT a.attisdropped;
  IF col IS NULL THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    -- A row put back from the row trash or the history keeps the times and names it had.
    IF why IN ('restore', 'revert', 'undo') AND jsonb_typeof(to_jsonb(NEW) -> col) IS DISTINCT FROM 'null' THEN
      RETURN NEW;
    END IF;
    v := CASE WHEN kind IN ('created_at', 'updated_at') THEN to_jsonb(now()) ELSE to_jsonb(tablewright.current_actor()) END;
  ELSIF kind IN ('created_at', 'created_by') THEN
    v := to_jsonb(OLD) -> col;               -- never changes after the insert
  ELSIF why = 'schema' THEN
    -- a schema change rewriting rows (a backfill) is no edit of them
    v := to_jsonb(OLD) -> col;
  ELSE
    v := CASE WHEN kind = 'updated_at' THEN to_jsonb(now()) ELSE to_jsonb(tablewright.current_actor()) END;
  END IF;
  NEW := jsonb_populate_record(NEW, jsonb_build_object(col, v));
  RETURN NEW;
END $$;

-- Puts the system-field triggers of a managed table right: one per live created_at,
-- updated_at, created_by or updated_by field, with its column's attnum now; none for a
-- trashed field or one of another type. The schema editor calls it at the end of every
-- schema change (as sync_history_triggers), so add, trash, restore, convert and a
-- rebuild that moved attnums all leave the triggers right. Returns the DDL that ran.
CREATE FUNCTION tablewright.sync_system_triggers(p_table bigint, p_rel regclass) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  f    record;
  want text[] := '{}';
  tg   record;
  ddl  text := '';
  stmt text;
BEGIN
  FOR f IN
    SELECT fl.id, fl.type, a.attnum, 'tablewright_sys_f' || fl.id AS tgname
      FROM tablewright.fields fl
      JOIN pg_attribute a ON a.attrelid = p_rel AND a.attname = fl.column_name AND a.attnum > 0 AND NOT a.attisdropped
     WHERE fl.table_id = p_table AND fl.trashed_at IS NULL
       AND fl.type IN ('created_at', 'updated_at', 'created_by', 'updated_by')
  LOOP
    want := want || f.tgname;
    -- tgargs holds each argument NUL-terminated
    CONTINUE WHEN EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p_rel AND t.tgname = f.tgname AND t.tgenabled <> 'D'
      AND t.tgargs = convert_to(f.type, 'UTF8') || '\x00'::bytea || convert_to(f.attnum::text, 'UTF8') || '\x00'::bytea);
    stmt := format('DROP TRIGGER IF EXISTS %I ON %s', f.tgname, p_rel);
    EXECUTE stmt;
    ddl := ddl || stmt || E';\n';
    stmt := format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION tablewright.system_field(%L, %L)',
                   f.tgname, p_rel, f.type, f.attnum::text);
    EXECUTE stmt;
    ddl := ddl || stmt || E';\n';
  END LOOP;
  FOR tg IN SELECT t.tgname FROM pg_trigger t WHERE t.tgrelid = p_rel AND t.tgname LIKE 'tablewright\_sys\_f%' AND NOT (t.tgname = ANY (want)) LOOP
    stmt := format('DROP TRIGGER %I ON %s', tg.tgname, p_rel);
    EXECUTE stmt;
    ddl := ddl || stmt || E';\n';
  END LOOP;
  RETURN nullif(rtrim(ddl, E';\n'), '');
END $$;
