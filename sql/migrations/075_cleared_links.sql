-- An update that emptied a row's links is flagged "cleared" (020): a restore of the row
-- they pointed at finds them by it and puts them back (server/history/apply.ts,
-- restoreLinks). A number made a link in place (server/schema/online/op_link_in_place.ts)
-- writes the value its new foreign key's ON DELETE SET NULL empties into the change's own
-- column (_tw_new_f<id>) in the same update, so that update was not flagged, and a row
-- of the linked table deleted during the change and restored after it left its links
-- empty. The change's own column does not count against the flag. Otherwise as in 020.
CREATE OR REPLACE FUNCTION tablewright.record_row_change() RETURNS trigger
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
    SELECT jsonb_object_agg(e.key, o -> e.key), jsonb_object_agg(e.key, e.value), bool_and(e.value = 'null' OR e.key ~ '^_tw_new_f[0-9]+$') INTO o, n, cleared
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
