-- Row history of many-to-many links: adding or removing a pair is an update of both rows'
-- link fields in their history ("Items: [3] -> [3, 7]"), recorded by PostgreSQL itself, so a
-- psql INSERT into a junction is in it too. Two statement triggers on each junction table
-- (AFTER INSERT, AFTER DELETE, with the statement's pairs as a transition table) write one
-- entry per row and field per statement: the ids before and after, as the row reads them
-- now. A row deleted with its pairs (ON DELETE CASCADE) gets no entry of its own (its
-- delete is one); the rows on the other side do. Writes by an import or
-- a schema change ('import', 'schema') are not recorded one by one, as for rows.
-- A statement that both removes and adds pairs (the daemon's update of a link list: two
-- data-modifying CTEs) fires both triggers once its pairs are all written, so each sees
-- the final pairs: the second to fire merges into the entry the first wrote in the same
-- statement (tablewright.link_stmt remembers the statement and its first entry id), and
-- the "before" list comes out right in either order: before = now - added + removed.
CREATE FUNCTION tablewright.record_link_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  who   text := coalesce(nullif(current_setting('tablewright.actor', true), ''), 'db:' || session_user);
  why   text := nullif(current_setting('tablewright.reason', true), '');
  stmt  text := statement_timestamp()::text;
  mark  text := coalesce(current_setting('tablewright.link_stmt', true), '');
  since bigint;
  side  record;
BEGIN
  IF split_part(mark, '|', 1) = stmt THEN
    since := split_part(mark, '|', 2)::bigint;
  ELSE
    since := (SELECT coalesce(max(id), 0) + 1 FROM tablewright.row_history);
    PERFORM set_config('tablewright.link_stmt', stmt || '|' || since, true);
  END IF;
  -- each side: a live link field on a live table whose junction is this table
  FOR side IN
    SELECT f.id, f.table_id, f.column_name, f.options->>'self_column' AS self_col, f.options->>'other_column' AS other_col,
           format('%I.%I', TG_TABLE_SCHEMA, t.table_name) AS rel,
           (SELECT max(l.id) FROM tablewright.row_layouts l WHERE l.table_id = f.table_id AND l.columns -> f.column_name = to_jsonb(f.id)) AS layout
      FROM tablewright.fields f JOIN tablewright.tables t ON t.id = f.table_id AND t.trashed_at IS NULL
     WHERE f.type = 'link' AND f.trashed_at IS NULL AND f.options->>'junction' = TG_TABLE_NAME
       AND f.options ? 'self_column' AND f.options ? 'other_column'
     ORDER BY f.id
  LOOP
    EXECUTE format(
      $q$WITH c AS (
           SELECT c.x, c.ids, n.now
             FROM (SELECT %1$I AS x, array_agg(%2$I) AS ids FROM changed GROUP BY 1) c
             CROSS JOIN LATERAL (SELECT coalesce(array_agg(j.%2$I ORDER BY j.%2$I), '{}') AS now FROM %3$s j WHERE j.%1$I = c.x) n
            WHERE EXISTS (SELECT 1 FROM %4$s r WHERE r.id = c.x)),
         merged AS (
           UPDATE tablewright.row_history h
              SET old_values = jsonb_build_object($6, to_jsonb(CASE WHEN $5 = 'INSERT'
                    THEN ARRAY(SELECT u FROM unnest(ARRAY(SELECT jsonb_array_elements_text(h.old_values -> $6)::bigint)) u EXCEPT SELECT u FROM unnest(c.ids) u ORDER BY 1)
                    ELSE ARRAY(SELECT u FROM unnest(ARRAY(SELECT jsonb_array_elements_text(h.old_values -> $6)::bigint)) u UNION SELECT u FROM unnest(c.ids) u ORDER BY 1) END)),
                  new_values = jsonb_build_object($6, to_jsonb(c.now))
             FROM c
            WHERE h.id >= $7 AND h.xact = pg_current_xact_id() AND h.table_id = $1 AND h.row_id = c.x AND h.new_values ? $6
           RETURNING h.row_id)
       INSERT INTO tablewright.row_history
           (table_id, row_id, layout_id, op, actor, db_role, application, request_id, reason, cleared, old_values, new_values)
         SELECT $1, c.x, $2, 'update', $3, session_user, nullif(current_setting('application_name'), ''),
                nullif(current_setting('tablewright.request', true), ''), $4, false,
                jsonb_build_object($6, to_jsonb(CASE WHEN $5 = 'INSERT'
                  THEN ARRAY(SELECT u FROM unnest(c.now) u EXCEPT SELECT u FROM unnest(c.ids) u ORDER BY 1)
                  ELSE ARRAY(SELECT u FROM unnest(c.now) u UNION SELECT u FROM unnest(c.ids) u ORDER BY 1) END)),
                jsonb_build_object($6, to_jsonb(c.now))
           FROM c WHERE c.x NOT IN (SELECT row_id FROM merged)
          ORDER BY c.x$q$,
      side.self_col, side.other_col, TG_RELID::regclass, side.rel)
    USING side.table_id, side.layout, who, why, TG_OP, side.column_name, since;
  END LOOP;
  RETURN NULL;
END $$;

-- Puts the two triggers on a junction table when they are missing; returns the DDL that ran
-- or NULL. Called when a junction is made (server/schema/m2m.ts) and below for those that exist.
CREATE FUNCTION tablewright.sync_link_triggers(p_junction regclass) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  ddl text := '';
  skip constant text := 'WHEN (coalesce(current_setting(''tablewright.reason'', true), '''') NOT IN (''import'', ''schema''))';
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = p_junction AND tgname = 'tablewright_link_history_ins') THEN
    ddl := ddl || format('CREATE TRIGGER tablewright_link_history_ins AFTER INSERT ON %s REFERENCING NEW TABLE AS changed FOR EACH STATEMENT %s EXECUTE FUNCTION tablewright.record_link_change(); ', p_junction, skip);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = p_junction AND tgname = 'tablewright_link_history_del') THEN
    ddl := ddl || format('CREATE TRIGGER tablewright_link_history_del AFTER DELETE ON %s REFERENCING OLD TABLE AS changed FOR EACH STATEMENT %s EXECUTE FUNCTION tablewright.record_link_change()', p_junction, skip);
  END IF;
  IF ddl = '' THEN
    RETURN NULL;
  END IF;
  BEGIN
    EXECUTE ddl;
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'no link history for %: %', p_junction, SQLERRM;
    RETURN NULL;
  END;
  RETURN ddl;
END $$;

DO $$
DECLARE j record;
BEGIN
  FOR j IN SELECT DISTINCT c.oid::regclass AS rel
             FROM tablewright.fields f
             JOIN pg_class c ON c.relname = f.options->>'junction' AND c.relkind = 'r'
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablewright')
            WHERE f.type = 'link' AND f.options ? 'junction' LOOP
    PERFORM tablewright.sync_link_triggers(j.rel);
  END LOOP;
END $$;
