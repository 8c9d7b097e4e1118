-- Rows are never lost: every insert, update and delete of a managed table's row is
-- recorded by PostgreSQL itself, by two triggers on every managed table (the schema
-- editor puts them back after every schema change; reconcile reports a table without
-- them). So a script's INSERT and a DBA's UPDATE in psql are in the history too, and a
-- write and its history entry commit together or not at all.
--
-- Who did it: the daemon stamps each write with transaction-local settings inside the
-- write statement itself (no extra round trip):
--   tablewright.actor    'user:ada@example.com' or 'token:nightly (#7)'
--   tablewright.request  the request id (X-Request-Id): what the console's Undo names
--   tablewright.reason   'restore', 'revert', 'undo', 'import', 'schema' (absent for plain writes)
-- Rows written by an import ('import': one entry for the whole import) or rewritten by a
-- schema change ('schema': a conversion; the audit log has it, and values a conversion
-- cannot keep are kept in a trashed field) are not recorded one by one.
-- A write without them (psql, another application) is recorded as 'db:<role>' with its
-- application_name. Any session can set these settings: they say who the daemon acted
-- for, they are not a proof (db_role always records the database role that wrote).

-- Which field each column name belonged to when an entry was written. History and trash
-- keep values by column name; a renamed, trashed or retyped field is found again through
-- the layout its entries were recorded under (the trigger's second argument). A layout
-- only ever gains names (a rename adds the new name; the old one keeps pointing at its
-- field); a name taken by another field starts a new layout.
CREATE TABLE tablewright.row_layouts (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_id   bigint NOT NULL,
  columns    jsonb NOT NULL,            -- {"column_name": field_id}
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX row_layouts_table_idx ON tablewright.row_layouts (table_id, id);

-- One entry per row change. For an insert, new_values is the whole row; for a delete,
-- old_values is; for an update, both hold the changed columns only. An import through the
-- daemon is one entry (op 'import', row_id NULL, new_values {rows, ids: [[from, to], ...]})
-- instead of one per row, so that bulk loads keep their speed.
CREATE TABLE tablewright.row_history (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_id    bigint NOT NULL,
  row_id      bigint,
  layout_id   bigint,
  at          timestamptz NOT NULL DEFAULT now(),
  xact        xid8 NOT NULL DEFAULT pg_current_xact_id(),
  op          text NOT NULL,            -- insert | update | delete | restore | import
  actor       text NOT NULL,
  db_role     text NOT NULL DEFAULT session_user,
  application text,
  request_id  text,
  reason      text,
  -- an update that only emptied values, as a link's ON DELETE SET NULL does when the row
  -- it points at is deleted: a restored row finds the links its deletion cleared through
  -- these (same transaction), and puts them back
  cleared     boolean NOT NULL DEFAULT false,
  old_values  jsonb,
  new_values  jsonb
);
CREATE INDEX row_history_row_idx ON tablewright.row_history (table_id, row_id, id);
CREATE INDEX row_history_table_idx ON tablewright.row_history (table_id, id);
CREATE INDEX row_history_cleared_idx ON tablewright.row_history (xact) WHERE cleared;

-- Deleted rows, with every value, until restored or purged (TRASH_RETENTION). One shared
-- table keyed by table and row id rather than a copy of each user table: a row deleted
-- before a schema change still restores into the table's columns as they are now (by
-- field, through its layout), with no DDL to mirror and nothing to drift.
CREATE TABLE tablewright.row_trash (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_id    bigint NOT NULL,
  row_id      bigint NOT NULL,
  layout_id   bigint,
  deleted_at  timestamptz NOT NULL DEFAULT now(),
  deleted_by  text NOT NULL,
  xact        xid8 NOT NULL DEFAULT pg_current_xact_id(),
  row_values  jsonb NOT NULL
);
CREATE INDEX row_trash_row_idx ON tablewright.row_trash (table_id, row_id, id);
CREATE INDEX row_trash_table_idx ON tablewright.row_trash (table_id, id);

-- The row trigger: AFTER INSERT OR UPDATE OR DELETE, FOR EACH ROW, with the table's id and
-- its layout as arguments. SECURITY DEFINER: a role that may write a managed table needs
-- no privilege on the history (and cannot write it directly); search_path is pinned. Its
-- statements are planned once (force_generic_plan): left to choose, PostgreSQL re-plans
-- the diff query for each row (its input is a parameter), which costs more than the diff.
CREATE FUNCTION tablewright.record_row_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  who     text := nullif(current_setting('tablewright.actor', true), '');
  why     text := nullif(current_setting('tablewright.reason', true), '');
  o       jsonb;
  n       jsonb;
  rid     bigint;
  cleared boolean := false;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    o := to_jsonb(OLD);
    n := to_jsonb(NEW);
    IF o = n THEN
      RETURN NULL; -- an UPDATE that changed nothing
    END IF;
    rid := CASE WHEN jsonb_typeof(n -> 'id') = 'number' THEN (n ->> 'id')::bigint END;
    SELECT jsonb_object_agg(e.key, o -> e.key), jsonb_object_agg(e.key, e.value), bool_and(e.value = 'null') INTO o, n, cleared
      FROM jsonb_each(n) AS e
     WHERE (o -> e.key) IS DISTINCT FROM e.value;
  ELSIF TG_OP = 'INSERT' THEN
    n := to_jsonb(NEW);
    rid := CASE WHEN jsonb_typeof(n -> 'id') = 'number' THEN (n ->> 'id')::bigint END;
  ELSE
    o := to_jsonb(OLD);
    rid := CASE WHEN jsonb_typeof(o -> 'id') = 'number' THEN (o ->> 'id')::bigint END;
  END IF;
  INSERT INTO tablewright.row_history
    (table_id, row_id, layout_id, op, actor, db_role, application, request_id, reason, cleared, old_values, new_values)
  VALUES (
    TG_ARGV[0]::bigint, rid, TG_ARGV[1]::bigint,
    CASE TG_OP WHEN 'UPDATE' THEN 'update' WHEN 'DELETE' THEN 'delete'
               ELSE CASE WHEN why IN ('restore', 'revert', 'undo') THEN 'restore' ELSE 'insert' END END,
    coalesce(who, 'db:' || session_user), session_user,
    nullif(current_setting('application_name'), ''),
    nullif(current_setting('tablewright.request', true), ''),
    why, cleared, o, n);
  IF TG_OP = 'DELETE' AND rid IS NOT NULL THEN
    INSERT INTO tablewright.row_trash (table_id, row_id, layout_id, deleted_by, row_values)
    VALUES (TG_ARGV[0]::bigint, rid, TG_ARGV[1]::bigint, coalesce(who, 'db:' || session_user), o);
  END IF;
  RETURN NULL;
END $$;

-- TRUNCATE deletes rows without row triggers: BEFORE it, every row goes to the row trash
-- and the history as a delete, in two set-based statements.
CREATE FUNCTION tablewright.record_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  who text := coalesce(nullif(current_setting('tablewright.actor', true), ''), 'db:' || session_user);
BEGIN
  EXECUTE format(
    $q$WITH gone AS (SELECT to_jsonb(t) AS v FROM %s AS t),
       logged AS (INSERT INTO tablewright.row_history (table_id, row_id, layout_id, op, actor, application, request_id, reason, old_values)
                  SELECT $1, (v ->> 'id')::bigint, $2, 'delete', $3, nullif(current_setting('application_name'), ''),
                         nullif(current_setting('tablewright.request', true), ''), 'truncate', v FROM gone)
       INSERT INTO tablewright.row_trash (table_id, row_id, layout_id, deleted_by, row_values)
       SELECT $1, (v ->> 'id')::bigint, $2, $3, v FROM gone WHERE jsonb_typeof(v -> 'id') = 'number'$q$,
    TG_RELID::regclass)
  USING TG_ARGV[0]::bigint, TG_ARGV[1]::bigint, who;
  RETURN NULL;
END $$;

-- Puts the two triggers on a managed table, or finds them in place; keeps the layout they
-- record under. Returns the DDL it ran (for the audit), NULL when nothing was needed (or
-- possible: a table the connected role does not own). A table without an integer "id"
-- column (adopted read-only) gets none: rows need an id.
-- The schema editor calls it at the end of every schema change; so does this migration
-- for the tables that exist, and the drift action that puts dropped triggers back.
CREATE FUNCTION tablewright.sync_history_triggers(p_table_id bigint, p_relation regclass) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  wanted     jsonb;
  row_trg    record;
  trunc_trg  record;
  layout     bigint;
  layout_ok  boolean := false;
  ddl        text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = p_relation AND attname = 'id' AND attnum > 0 AND NOT attisdropped
                   AND atttypid IN ('int8'::regtype, 'int4'::regtype, 'int2'::regtype)) THEN
    RETURN NULL;
  END IF;
  SELECT coalesce(jsonb_object_agg(CASE WHEN trashed_at IS NULL THEN column_name ELSE coalesce(trash_name, column_name) END, id), '{}')
    INTO wanted FROM tablewright.fields WHERE table_id = p_table_id;
  SELECT tgenabled, tgtype, tgfoid, split_part(encode(tgargs, 'escape'), '\000', 1) AS arg_table, split_part(encode(tgargs, 'escape'), '\000', 2) AS arg_layout
    INTO row_trg FROM pg_trigger WHERE tgrelid = p_relation AND tgname = 'tablewright_history';
  SELECT tgenabled, tgtype, tgfoid, split_part(encode(tgargs, 'escape'), '\000', 1) AS arg_table, split_part(encode(tgargs, 'escape'), '\000', 2) AS arg_layout
    INTO trunc_trg FROM pg_trigger WHERE tgrelid = p_relation AND tgname = 'tablewright_history_truncate';

  -- The layout the triggers record under (or, without triggers, the table's latest) still
  -- fits when no column name in it now belongs to another field: it only gains new names.
  SELECT l.id, NOT EXISTS (SELECT 1 FROM jsonb_each(wanted) w JOIN jsonb_each(l.columns) c USING (key) WHERE w.value <> c.value)
    INTO layout, layout_ok
    FROM tablewright.row_layouts l
   WHERE l.table_id = p_table_id
     AND l.id = CASE WHEN row_trg.arg_layout ~ '^[0-9]{1,18}$' AND row_trg.arg_table = p_table_id::text THEN row_trg.arg_layout::bigint
                     ELSE (SELECT max(id) FROM tablewright.row_layouts WHERE table_id = p_table_id) END;
  layout_ok := coalesce(layout_ok, false);
  IF layout_ok
     AND row_trg.tgenabled IN ('O', 'A') AND row_trg.tgtype = 29 AND row_trg.tgfoid = 'tablewright.record_row_change'::regproc
     AND trunc_trg.tgenabled IN ('O', 'A') AND trunc_trg.tgtype = 34 AND trunc_trg.tgfoid = 'tablewright.record_truncate'::regproc
     AND trunc_trg.arg_table = row_trg.arg_table AND trunc_trg.arg_layout = row_trg.arg_layout THEN
    UPDATE tablewright.row_layouts SET columns = columns || wanted WHERE id = layout AND NOT columns @> wanted;
    RETURN NULL;
  END IF;

  IF layout_ok THEN
    UPDATE tablewright.row_layouts SET columns = columns || wanted WHERE id = layout AND NOT columns @> wanted;
  ELSE
    INSERT INTO tablewright.row_layouts (table_id, columns) VALUES (p_table_id, wanted) RETURNING id INTO layout;
  END IF;
  ddl := CASE WHEN row_trg.tgtype IS NOT NULL THEN format('DROP TRIGGER tablewright_history ON %s; ', p_relation) ELSE '' END
      || CASE WHEN trunc_trg.tgtype IS NOT NULL THEN format('DROP TRIGGER tablewright_history_truncate ON %s; ', p_relation) ELSE '' END
      || format(
    'CREATE TRIGGER tablewright_history AFTER INSERT OR UPDATE OR DELETE ON %1$s FOR EACH ROW '
    'WHEN (coalesce(current_setting(''tablewright.reason'', true), '''') NOT IN (''import'', ''schema'')) '
    'EXECUTE FUNCTION tablewright.record_row_change(%2$L, %3$L); '
    'CREATE TRIGGER tablewright_history_truncate BEFORE TRUNCATE ON %1$s FOR EACH STATEMENT '
    'EXECUTE FUNCTION tablewright.record_truncate(%2$L, %3$L)',
    p_relation, p_table_id, layout);
  -- Only a table's owner may put triggers on it: a table owned by another role (adopted
  -- as it was) stays without history, which reconcile reports, rather than failing the
  -- schema change or the migration.
  BEGIN
    EXECUTE ddl;
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'no row history for %: %', p_relation, SQLERRM;
    RETURN NULL;
  END;
  RETURN ddl;
END $$;

-- The tables that exist get their triggers now.
DO $$
DECLARE t record;
BEGIN
  FOR t IN SELECT m.id, c.oid::regclass AS rel FROM tablewright.tables m JOIN pg_class c ON c.oid = m.table_oid
            WHERE m.trashed_at IS NULL AND c.relname = m.table_name AND c.relkind IN ('r', 'p') ORDER BY m.id LOOP
    PERFORM tablewright.sync_history_triggers(t.id, t.rel);
  END LOOP;
END $$;
