-- name: information_schema_catalog
-- The same catalog read through the SQL-standard information_schema views, kept only for
-- the benchmark's comparison (npm run bench -- reconcile): the views check privileges per
-- row and join many catalogs for columns nobody asked for, so on a large catalog they are
-- far slower than the pg_catalog queries above. Four statements, run one after another.
-- $1: the schema names.
SELECT table_schema, table_name FROM information_schema.tables
 WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE';
-- statement
SELECT table_schema, table_name, ordinal_position, column_name, data_type, character_maximum_length,
       numeric_precision, numeric_scale, is_nullable, column_default, is_identity
  FROM information_schema.columns WHERE table_schema = ANY($1::text[]);
-- statement
SELECT tc.table_schema, tc.table_name, tc.constraint_name, tc.constraint_type, kcu.column_name, kcu.ordinal_position
  FROM information_schema.table_constraints tc
  JOIN information_schema.key_column_usage kcu
    ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name
 WHERE tc.table_schema = ANY($1::text[]);
-- statement
SELECT rc.constraint_schema, rc.constraint_name, rc.unique_constraint_name, rc.delete_rule
  FROM information_schema.referential_constraints rc WHERE rc.constraint_schema = ANY($1::text[]);
