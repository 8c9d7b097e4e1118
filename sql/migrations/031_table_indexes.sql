-- Indexes and UNIQUE constraints over several fields (server/schema/table_indexes.ts):
-- one row per index of ours that covers a list of fields, in order. The index (and, when
-- unique, the constraint made from it) has the same name in the data schema. Fields are
-- kept by id, so renames are followed; reconcile leaves these indexes to this table.
CREATE TABLE tablewright.table_indexes (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_id    bigint NOT NULL REFERENCES tablewright.tables (id) ON DELETE CASCADE,
  name        text NOT NULL,
  field_ids   bigint[] NOT NULL CHECK (cardinality(field_ids) BETWEEN 1 AND 32),
  is_unique   boolean NOT NULL,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (table_id, name)
);
