-- Issue 17, imports at COPY speed.
--
-- A number field past 10 decimals is numeric(decimals + 20, decimals) (numberPrecision in
-- server/fields/number.ts): the conversion function takes the precision too. NULL, never
-- rounded, for a value with more decimals or too many whole digits.
CREATE FUNCTION tablewright.try_number(t text, decimals integer, prec integer) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  n numeric := tablewright.try_numeric(t);
BEGIN
  IF n IS NULL OR n <> round(n, decimals) THEN RETURN NULL; END IF;
  IF abs(n) >= 10::numeric ^ (prec - decimals) THEN RETURN NULL; END IF;
  RETURN round(n, decimals);
END $$;

-- The rejected lines of an import (a CSV: the file's own cells, then line, column and
-- reason), kept so that any instance can serve GET /imports/rejects/:id.csv until it
-- expires. Written on a connection of its own, so that it outlives the import's rollback.
CREATE TABLE tablewright.import_rejects (
  id         text PRIMARY KEY,
  table_id   bigint,
  actor      text NOT NULL,
  rows       bigint NOT NULL DEFAULT 0,
  complete   boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX import_rejects_expires ON tablewright.import_rejects (expires_at);

CREATE TABLE tablewright.import_reject_chunks (
  reject_id text NOT NULL REFERENCES tablewright.import_rejects (id) ON DELETE CASCADE,
  seq       integer NOT NULL,
  chunk     bytea NOT NULL,
  PRIMARY KEY (reject_id, seq)
);

-- Bytes of the upload a job has read so far (an import's progress: rows done of total, bytes read).
ALTER TABLE tablewright.jobs ADD COLUMN bytes_done bigint;
