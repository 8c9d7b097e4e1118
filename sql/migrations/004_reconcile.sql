-- Reconcile and trash: what the drift report and the cleanup job need to remember.

-- Drift items a DBA chose to ignore (untracked tables and columns they keep outside the
-- console). Keyed by the item's id, which names the object (schema, table, column), so
-- that an ignored object stays ignored when it is dropped and created again.
CREATE TABLE tablewright.drift_ignored (
  item_id     text PRIMARY KEY,
  kind        text NOT NULL,
  ignored_at  timestamptz NOT NULL DEFAULT now(),
  ignored_by  text NOT NULL,
  note        text
);

-- An adopted column whose PostgreSQL type is not the one our field type would create
-- (int4, varchar(n), timestamp, point...) keeps that type here: the drift report compares
-- the catalog with it instead of the field type's, and such a field is read-only unless
-- its type is a compatible one (varchar(n) as text with max_length).
ALTER TABLE tablewright.fields ADD COLUMN pg_type text;
-- An adopted column's default that is not a constant (now(), nextval(...)): kept as the
-- catalog deparsed it, so that it is not reported as drift. Our own defaults live in
-- default_value.
ALTER TABLE tablewright.fields ADD COLUMN pg_default text;

-- Forgetting or purging a table deletes its metadata row, but the schema editor bumps
-- that row's version (and writes the audit row naming it) after the operation itself.
-- So the operation queues the deletion here, and a deferred trigger carries it out at
-- COMMIT: still inside the same transaction, after everything else. The row of this
-- table lives only for that moment.
CREATE TABLE tablewright.table_removals (
  table_id  bigint PRIMARY KEY
);

CREATE FUNCTION tablewright.remove_queued_table() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM tablewright.tables WHERE id = NEW.table_id;
  DELETE FROM tablewright.table_removals WHERE table_id = NEW.table_id;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER remove_queued_table AFTER INSERT ON tablewright.table_removals
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tablewright.remove_queued_table();
