-- Which database this is: the cluster's system identifier and the database's oid, as
-- recorded by the last start that found the catalog identities (table oids, column
-- numbers) in step with the metadata. A pg_dump restored into another database or a
-- freshly initdb-ed cluster keeps this row but not those numbers: comparing the row with
-- the catalog is how reconcile knows the whole database was restored, and that every
-- table must be re-identified (by its comment and name, never by oid) before anything
-- trusts a stored oid again. See server/introspect/identity.ts.
CREATE TABLE tablewright.database_identity (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  identity     text NOT NULL,                  -- '<system_identifier>/<database oid>'
  recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- What this database is now, in the same form (pg_control_system() is open to every role).
CREATE FUNCTION tablewright.current_database_identity() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT (SELECT system_identifier FROM pg_control_system())::text || '/' ||
         (SELECT oid FROM pg_database WHERE datname = current_database())::text
$$;

INSERT INTO tablewright.database_identity (identity) VALUES (tablewright.current_database_identity());
