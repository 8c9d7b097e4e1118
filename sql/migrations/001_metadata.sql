-- Metadata that describes the user tables in the managed schema (DATA_SCHEMA).
-- Physical names never change when a row here is read; they change only through the
-- schema editor, in the same transaction as the DDL that renames the object.

CREATE TABLE tablewright.tables (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  table_name  text NOT NULL,                    -- physical name in DATA_SCHEMA (kept while trashed, for restore)
  version     integer NOT NULL DEFAULT 1,       -- +1 on every schema change of this table
  table_oid   oid,                              -- pg_class.oid: a rename outside the console keeps it
  read_only   boolean NOT NULL DEFAULT false,   -- adopted tables we cannot edit safely
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  trashed_at  timestamptz,
  trashed_by  text,
  trash_name  text                              -- physical name in TRASH_SCHEMA while trashed
);
CREATE UNIQUE INDEX tables_live_name_key ON tablewright.tables (lower(name)) WHERE trashed_at IS NULL;
CREATE UNIQUE INDEX tables_live_table_name_key ON tablewright.tables (table_name) WHERE trashed_at IS NULL;
CREATE UNIQUE INDEX tables_trash_name_key ON tablewright.tables (trash_name) WHERE trash_name IS NOT NULL;

CREATE TABLE tablewright.fields (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_id      bigint NOT NULL REFERENCES tablewright.tables (id) ON DELETE CASCADE,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  column_name   text NOT NULL,                  -- physical column (kept while trashed, for restore)
  type          text NOT NULL,
  options       jsonb NOT NULL DEFAULT '{}',
  position      integer NOT NULL,
  not_null      boolean NOT NULL DEFAULT false,
  is_unique     boolean NOT NULL DEFAULT false,
  indexed       boolean NOT NULL DEFAULT false,
  default_value jsonb,                          -- the field type's JSON value; NULL: no default
  attnum        smallint,                       -- pg_attribute.attnum: a rename outside keeps it
  read_only     boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  trashed_at    timestamptz,
  trashed_by    text,
  trash_name    text,                           -- physical column name while trashed
  trash_reason  text CHECK (trash_reason IN ('deleted', 'type_change'))
);
CREATE INDEX fields_table_idx ON tablewright.fields (table_id, position);
CREATE UNIQUE INDEX fields_live_name_key ON tablewright.fields (table_id, lower(name)) WHERE trashed_at IS NULL;
CREATE UNIQUE INDEX fields_live_column_key ON tablewright.fields (table_id, column_name) WHERE trashed_at IS NULL;

-- Every schema change, with the DDL that ran. No foreign keys: the audit outlives purges.
CREATE TABLE tablewright.audit (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  actor      text NOT NULL,
  operation  text NOT NULL,
  table_id   bigint,
  field_id   bigint,
  version    integer,
  ddl        text NOT NULL DEFAULT '',
  details    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_table_at_idx ON tablewright.audit (table_id, at DESC);
CREATE INDEX audit_at_idx ON tablewright.audit (at DESC);

-- One row: bumped by every schema change as its last statement, so that an instance
-- whose LISTEN connection died silently still notices within one polling interval.
CREATE TABLE tablewright.schema_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version   bigint NOT NULL DEFAULT 0
);
INSERT INTO tablewright.schema_state DEFAULT VALUES;
