-- Saved views of a table (issue 18): filters, sorts, hidden fields, column order, widths,
-- frozen columns and page size, under a name. Views are metadata: each change goes through
-- the schema editor's transaction (version + 1, audit row, NOTIFY).
--
-- `spec` names fields by id (and remembers the column and type it was saved with), so a
-- column rename keeps a view working, and a clause whose field was trashed or retyped is
-- dropped and reported when the view is used, never an error.
CREATE TABLE tablewright.views (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_id    bigint NOT NULL REFERENCES tablewright.tables (id) ON DELETE CASCADE,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  owner       text,                             -- NULL: shared; else the actor it belongs to (personal)
  is_default  boolean NOT NULL DEFAULT false,   -- the shared view the console opens
  spec        jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text,
  CHECK (NOT is_default OR owner IS NULL)
);
CREATE UNIQUE INDEX views_name_key ON tablewright.views (table_id, coalesce(owner, ''), lower(name));
CREATE UNIQUE INDEX views_default_key ON tablewright.views (table_id) WHERE is_default;
