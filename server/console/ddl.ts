// The SQL tab: a table's DDL as PostgreSQL has it, for DBAs. Everything is read from
// pg_catalog (sql/queries/table_ddl.sql), never rebuilt from our metadata, so that the
// text shows what is really there, drift included: CREATE TABLE with its columns and
// constraints, then CREATE INDEX, triggers and COMMENT ON, the way pg_dump writes them.
import type { Queryable } from '../db/pool.js';
import { literal } from '../db/ident.js';
import type { TableMeta } from '../schema/metadata.js';
import { consoleQuery } from './sql.js';

interface RelationRow {
  qualified: string;
  schema: string;
  kind: string;
  persistence: string;
  options: string[] | null;
  owner: string;
  comment: string | null;
}
interface ColumnRow {
  name: string;
  type: string;
  collation: string | null;
  default_expr: string | null;
  generated_expr: string | null;
  generated: string | null;
  identity: string | null;
  identity_sequence: string | null;
  not_null: boolean;
  comment: string | null;
}
interface ConstraintRow {
  name: string;
  kind: string;
  definition: string;
  comment: string | null;
}
interface IndexRow {
  name: string;
  definition: string;
  comment: string | null;
}
interface TriggerRow {
  name: string;
  definition: string;
}

export interface TableDdl {
  /** schema.table as PostgreSQL names it (quoted where needed), or null when it is missing */
  qualified: string | null;
  /** the schema the table was looked for in (DATA_SCHEMA, or TRASH_SCHEMA while trashed) */
  schema: string;
  /** the name it was looked for under */
  name: string;
  /** the DDL text, ready for psql; empty when the table is missing */
  ddl: string;
  columns: number;
  constraints: number;
  indexes: number;
}

/** Where PostgreSQL keeps the table now: the managed schema, or the trash schema while trashed. */
export function physicalLocation(table: TableMeta, config: { dataSchema: string; trashSchema: string }): { schema: string; name: string } {
  return table.trashed_at && table.trash_name ? { schema: config.trashSchema, name: table.trash_name } : { schema: config.dataSchema, name: table.table_name };
}

export async function tableDdl(db: Queryable, config: { dataSchema: string; trashSchema: string }, table: TableMeta): Promise<TableDdl> {
  const where = physicalLocation(table, config);
  const { rows: found } = await db.query<{ oid: number | null }>(
    /* sql */ `SELECT to_regclass(format('%I.%I', $1::text, $2::text))::oid::int8 AS oid`,
    [where.schema, where.name],
  );
  const oid = found[0]?.oid ?? null;
  const empty: TableDdl = { qualified: null, ...where, ddl: '', columns: 0, constraints: 0, indexes: 0 };
  if (oid === null) return empty;

  // One after the other: db may be a single client (five small catalog reads).
  const relation = await db.query<RelationRow>(consoleQuery('table_ddl', 'relation'), [oid]);
  const columns = await db.query<ColumnRow>(consoleQuery('table_ddl', 'columns'), [oid]);
  const constraints = await db.query<ConstraintRow>(consoleQuery('table_ddl', 'constraints'), [oid]);
  const indexes = await db.query<IndexRow>(consoleQuery('table_ddl', 'indexes'), [oid]);
  const triggers = await db.query<TriggerRow>(consoleQuery('table_ddl', 'triggers'), [oid]);
  const rel = relation.rows[0];
  // Dropped between the two queries: as good as missing.
  if (!rel) return empty;

  return {
    qualified: rel.qualified,
    ...where,
    ddl: formatDdl(rel, columns.rows, constraints.rows, indexes.rows, triggers.rows),
    columns: columns.rows.length,
    constraints: constraints.rows.length,
    indexes: indexes.rows.length,
  };
}

function columnLine(c: ColumnRow, width: number): string {
  const parts = [c.name.padEnd(width), c.type];
  if (c.collation) parts.push(`COLLATE ${c.collation}`);
  if (c.generated === 's' && c.generated_expr) parts.push(`GENERATED ALWAYS AS (${c.generated_expr}) STORED`);
  else if (c.generated === 'v' && c.generated_expr) parts.push(`GENERATED ALWAYS AS (${c.generated_expr}) VIRTUAL`);
  else if (c.default_expr) parts.push(`DEFAULT ${c.default_expr}`);
  if (c.identity) {
    const kind = c.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT';
    parts.push(`GENERATED ${kind} AS IDENTITY${c.identity_sequence ? ` (SEQUENCE NAME ${c.identity_sequence})` : ''}`);
  }
  if (c.not_null) parts.push('NOT NULL');
  return parts.join(' ');
}

/** pg_dump's shape: the table, its indexes, its triggers, then every comment. */
export function formatDdl(rel: RelationRow, columns: ColumnRow[], constraints: ConstraintRow[], indexes: IndexRow[], triggers: TriggerRow[]): string {
  const out: string[] = [];
  const width = Math.max(0, ...columns.map((c) => c.name.length));
  const body = [...columns.map((c) => columnLine(c, width)), ...constraints.map((k) => `CONSTRAINT ${k.name} ${k.definition}`)];
  const unlogged = rel.persistence === 'u' ? 'UNLOGGED ' : '';
  const options = rel.options?.length ? ` WITH (${rel.options.join(', ')})` : '';
  out.push(`CREATE ${unlogged}TABLE ${rel.qualified} (\n${body.map((l) => `    ${l}`).join(',\n')}\n)${options};`);

  if (indexes.length) out.push(indexes.map((i) => `${i.definition};`).join('\n'));
  if (triggers.length) out.push(triggers.map((t) => `${t.definition};`).join('\n'));

  const comments: string[] = [];
  if (rel.comment !== null) comments.push(`COMMENT ON TABLE ${rel.qualified} IS ${literal(rel.comment)};`);
  for (const c of columns) if (c.comment !== null) comments.push(`COMMENT ON COLUMN ${rel.qualified}.${c.name} IS ${literal(c.comment)};`);
  for (const k of constraints) if (k.comment !== null) comments.push(`COMMENT ON CONSTRAINT ${k.name} ON ${rel.qualified} IS ${literal(k.comment)};`);
  for (const i of indexes) if (i.comment !== null) comments.push(`COMMENT ON INDEX ${rel.schema}.${i.name} IS ${literal(i.comment)};`);
  if (comments.length) out.push(comments.join('\n'));

  return `-- owner: ${rel.owner.replace(/\s+/g, ' ')}\n${out.join('\n\n')}\n`;
}
