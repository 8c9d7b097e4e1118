-- The online backfill goes through the table by pages (server/schema/online/backfill.ts):
-- ranges of heap pages read by TID range scans, not ranges of ids looked up in the primary
-- key. A resumed copy starts at backfill_page, in the relation file it was going through
-- (backfill_file: the cluster's system identifier and the table's relation file number): a
-- rewrite of the table in between (VACUUM FULL, CLUSTER, a DBA's ALTER), or a restore into
-- another cluster, puts rows at other pages, so a copy that finds another file starts again
-- at page 0 (rows already copied are skipped at the cost of reading them).
-- last_id (030) was the position of the copy by id; a change begun by a version before
-- this one and resumed by this one starts at page 0 (the same values written again).
ALTER TABLE tablewright.online_changes
  ADD COLUMN backfill_page bigint,
  ADD COLUMN backfill_file text;

-- Rows of a change without confirm_loss that hold a value the new type would lose, and
-- that a write of another of their fields moved (the sync trigger, trigger.ts, takes such
-- an edit: it refuses only a write of the field's own value). Such a value was written
-- after the loss report and before the trigger; the copy would have found it where it was,
-- but its row has moved, maybe to a page the copy has passed. The swap looks them up and
-- refuses the change when one still holds such a value. SECURITY DEFINER: the trigger runs
-- as whoever writes the row, who need not be able to write this table.
CREATE TABLE tablewright.online_lost_rows (
  field_id bigint NOT NULL,
  row_id   text NOT NULL,
  PRIMARY KEY (field_id, row_id)
);
CREATE FUNCTION tablewright.note_lost_row(p_field bigint, p_row text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO tablewright.online_lost_rows (field_id, row_id) VALUES (p_field, p_row) ON CONFLICT DO NOTHING
$$;
