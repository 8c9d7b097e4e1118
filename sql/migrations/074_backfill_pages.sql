-- The online backfill goes through the table by pages (server/schema/online/backfill.ts):
-- ranges of heap pages read by TID range scans, not ranges of ids looked up in the primary
-- key. A resumed copy starts at backfill_page, in the relation file it was going through
-- (backfill_filenode): a rewrite of the table in between (VACUUM FULL, CLUSTER, a DBA's
-- ALTER) puts rows at other pages, so a copy that finds another file starts again at page
-- 0 (rows already copied are skipped at the cost of reading them).
-- last_id (030) was the position of the copy by id; a change begun by a version before
-- this one and resumed by this one starts at page 0 (the same values written again).
ALTER TABLE tablewright.online_changes
  ADD COLUMN backfill_page bigint,
  ADD COLUMN backfill_filenode oid;
COMMENT ON COLUMN tablewright.online_changes.last_id IS 'unused since 074: the backfill position by id of versions before it';
COMMENT ON COLUMN tablewright.online_changes.backfill_page IS 'backfill: the pages below this one are copied (in backfill_filenode)';
COMMENT ON COLUMN tablewright.online_changes.backfill_filenode IS 'backfill: the relation file backfill_page counts pages of';
