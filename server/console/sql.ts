// The console's long queries, kept as named .sql files in sql/queries so that a DBA can
// read them and run them in psql. A file may hold several statements, each after a
// `-- statement: <name>` line. Read once, when this module is first imported.
import fs from 'node:fs';
import path from 'node:path';
import { sqlDir } from '../paths.js';

const FILES = ['table_ddl', 'table_stats', 'audit_history'] as const;
export type ConsoleQueryFile = (typeof FILES)[number];

function load(name: ConsoleQueryFile): Map<string, string> {
  const text = fs.readFileSync(path.join(sqlDir, 'queries', `${name}.sql`), 'utf8');
  if (!text.includes(`-- name: ${name}`)) throw new Error(`sql/queries/${name}.sql does not declare "-- name: ${name}"`);
  const parts = text.split(/^-- statement: ([a-z_]+)$/m);
  const out = new Map<string, string>();
  // parts: [header, name1, body1, name2, body2, ...]; a file without statements is one query.
  if (parts.length === 1) out.set(name, text.trim());
  for (let i = 1; i < parts.length; i += 2) out.set(parts[i]!, parts[i + 1]!.trim().replace(/;\s*$/, ''));
  return out;
}

const loaded = new Map(FILES.map((f) => [f, load(f)]));

/** One named statement of a file (the file's own name for a single-query file). */
export function consoleQuery(file: ConsoleQueryFile, statement: string = file): string {
  const sql = loaded.get(file)?.get(statement);
  if (!sql) throw new Error(`sql/queries/${file}.sql has no statement "${statement}"`);
  return sql;
}
