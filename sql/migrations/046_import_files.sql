-- A file uploaded to make a new table from (POST /tables/import): kept in PostgreSQL
-- between the console's preview and its "Create table", and for an import job (any
-- instance may run it). Dropped when the table is created, or after a day unused.
CREATE TABLE tablewright.import_files (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  filename   text NOT NULL DEFAULT '',
  format     text NOT NULL CHECK (format IN ('csv', 'xlsx')),
  bytes      bigint NOT NULL DEFAULT 0
);

CREATE TABLE tablewright.import_file_chunks (
  file_id bigint NOT NULL REFERENCES tablewright.import_files (id) ON DELETE CASCADE,
  seq     integer NOT NULL,
  chunk   bytea NOT NULL,
  PRIMARY KEY (file_id, seq)
);
