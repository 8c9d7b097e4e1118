// The catalog queries, kept as named .sql files in sql/queries so that a DBA can read and
// run them in psql. Read once, when this module is first imported.
import fs from 'node:fs';
import path from 'node:path';
import { sqlDir } from '../paths.js';

const NAMES = ['catalog_relations', 'catalog_columns', 'catalog_constraints', 'catalog_indexes', 'drift_candidates', 'information_schema_catalog', 'history_triggers'] as const;
export type QueryName = (typeof NAMES)[number];

function load(name: QueryName): string {
  const text = fs.readFileSync(path.join(sqlDir, 'queries', `${name}.sql`), 'utf8');
  if (!text.includes(`-- name: ${name}`)) throw new Error(`sql/queries/${name}.sql does not declare "-- name: ${name}"`);
  return text;
}

const loaded = Object.fromEntries(NAMES.map((n) => [n, load(n)])) as Record<QueryName, string>;

export function query(name: QueryName): string {
  return loaded[name];
}

/** A file holding several statements separated by `-- statement` lines. */
export function statements(name: QueryName): string[] {
  return loaded[name].split(/^-- statement$/m).map((s) => s.trim()).filter(Boolean);
}
