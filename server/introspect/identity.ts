// Which catalog table is which metadata table, and which column is which field. An oid
// (or an attnum) is never trusted alone: after a pg_dump restored into another database
// or cluster, a table's old oid may belong to another managed table, and attnums are
// renumbered (dropped columns are not dumped). So:
//
//   a table is   1. the relation whose comment says (tablewright table <id>), or
//                2. the relation with its stored oid, when the database was not restored
//                   and that relation's comment names no other table and its name or its
//                   column set agrees, or
//                3. the relation with its name, when its comment names no other table;
//   a field is   1. the column whose comment says (tablewright field <id> ...), or
//                2. the column with its stored attnum, when its table kept its oid, the
//                   database was not restored and the comment names no other field, or
//                3. the column with its name, when its comment names no other field.
//
// The database itself is recognised by tablewright.database_identity (the cluster's system
// identifier and the database oid), recorded at migration time and compared with the
// catalog: a mismatch means a restore (or a copy), and stored oids mean nothing until
// `reidentify` records the new ones. One pure matcher serves the drift report and the
// actions, so both always agree on what an object is.
import type { Queryable } from '../db/pool.js';
import { parseColumnComment, parseTableComment } from '../schema/comments.js';
import type { TableMeta } from '../schema/metadata.js';
import { readCatalog, type CatalogColumn, type CatalogTable, type SnapshotField } from './snapshot.js';

export type MatchedBy = 'comment' | 'oid' | 'name';

export interface TableMatch {
  rel: CatalogTable;
  by: MatchedBy;
  /** the relation has the oid the metadata remembers */
  sameOid: boolean;
}

export interface IdentityInput {
  schemas: { data: string; trash: string };
  tables: Pick<TableMeta, 'id' | 'table_name' | 'table_oid' | 'trashed_at' | 'trash_name'>[];
  fields: Pick<SnapshotField, 'id' | 'table_id' | 'column_name' | 'attnum' | 'trashed_at' | 'trash_name'>[];
  catalog: CatalogTable[];
  /** the database was restored (its identity differs from the recorded one): oids and attnums mean nothing */
  restored: boolean;
}

export const expectedSchema = (t: Pick<TableMeta, 'trashed_at'>, s: { data: string; trash: string }) => (t.trashed_at ? s.trash : s.data);
export const expectedName = (t: Pick<TableMeta, 'trashed_at' | 'trash_name' | 'table_name'>) => (t.trashed_at ? t.trash_name ?? t.table_name : t.table_name);
export const expectedColumn = (f: Pick<SnapshotField, 'trashed_at' | 'trash_name' | 'column_name'>) => (f.trashed_at ? f.trash_name ?? f.column_name : f.column_name);

/** The table id a relation's comment names, if any. */
export const taggedTable = (rel: Pick<CatalogTable, 'comment'>) => parseTableComment(rel.comment)?.tableId;
/** The field id a column's comment names, if any. */
export const taggedField = (col: Pick<CatalogColumn, 'comment'>) => parseColumnComment(col.comment)?.fieldId;

/** Does a relation without our tag look like this table: its name, or every live field's column present? */
function looksLike(rel: CatalogTable, t: IdentityInput['tables'][number], fields: IdentityInput['fields']): boolean {
  if (rel.name === expectedName(t)) return true;
  const names = new Set(rel.columns.map((c) => c.name));
  const live = fields.filter((f) => !f.trashed_at);
  return live.length > 0 && live.every((f) => names.has(f.column_name));
}

/** Matches metadata tables to catalog relations (see the rules at the top). */
export function matchTables(input: IdentityInput): Map<number, TableMatch> {
  const out = new Map<number, TableMatch>();
  const claimed = new Set<number>();
  const byTag = new Map<number, CatalogTable[]>();
  const byOid = new Map<number, CatalogTable>();
  const byName = new Map<string, CatalogTable>();
  for (const rel of input.catalog) {
    byOid.set(rel.oid, rel);
    byName.set(`${rel.schema}\0${rel.name}`, rel);
    const tag = taggedTable(rel);
    if (tag !== undefined) byTag.set(tag, [...(byTag.get(tag) ?? []), rel]);
  }
  const fieldsOf = new Map<number, IdentityInput['fields']>();
  for (const f of input.fields) fieldsOf.set(f.table_id, [...(fieldsOf.get(f.table_id) ?? []), f]);
  const claim = (t: IdentityInput['tables'][number], rel: CatalogTable, by: MatchedBy) => {
    claimed.add(rel.oid);
    out.set(t.id, { rel, by, sameOid: t.table_oid !== null && Number(t.table_oid) === rel.oid });
  };
  const inSchema = (t: IdentityInput['tables'][number], rel: CatalogTable) => rel.schema === expectedSchema(t, input.schemas);

  // 1. by comment (a copy made with its comments, e.g. CREATE TABLE ... LIKE ... INCLUDING
  //    COMMENTS, makes two candidates: the one where the metadata says wins)
  for (const t of input.tables) {
    const candidates = (byTag.get(t.id) ?? []).filter((r) => inSchema(t, r) && !claimed.has(r.oid));
    const rel =
      candidates.length === 1
        ? candidates[0]
        : (candidates.find((r) => !input.restored && r.oid === Number(t.table_oid)) ?? candidates.find((r) => r.name === expectedName(t)));
    if (rel) claim(t, rel, 'comment');
  }
  // 2. by oid, confirmed
  if (!input.restored) {
    for (const t of input.tables) {
      if (out.has(t.id) || t.table_oid === null) continue;
      const rel = byOid.get(Number(t.table_oid));
      if (!rel || claimed.has(rel.oid) || !inSchema(t, rel)) continue;
      const tag = taggedTable(rel);
      if (tag !== undefined && tag !== t.id) continue;
      if (looksLike(rel, t, fieldsOf.get(t.id) ?? [])) claim(t, rel, 'oid');
    }
  }
  // 3. by name, unless the relation says it is another table
  for (const t of input.tables) {
    if (out.has(t.id)) continue;
    const rel = byName.get(`${expectedSchema(t, input.schemas)}\0${expectedName(t)}`);
    if (!rel || claimed.has(rel.oid)) continue;
    const tag = taggedTable(rel);
    if (tag !== undefined && tag !== t.id) continue;
    claim(t, rel, 'name');
  }
  return out;
}

/** Matches a table's fields to its relation's columns (see the rules at the top). */
export function matchColumns(
  rel: CatalogTable,
  fields: Array<Pick<SnapshotField, 'id' | 'column_name' | 'attnum' | 'trashed_at' | 'trash_name'>>,
  opts: { sameOid: boolean; restored: boolean },
): Map<number, CatalogColumn> {
  const out = new Map<number, CatalogColumn>();
  const claimed = new Set<number>();
  const ids = new Set(fields.map((f) => f.id));
  const byTag = new Map<number, CatalogColumn>();
  for (const c of rel.columns) {
    const tag = taggedField(c);
    if (tag !== undefined && !byTag.has(tag)) byTag.set(tag, c);
  }
  const foreign = (c: CatalogColumn, fieldId: number) => {
    const tag = taggedField(c);
    // a tag naming another field of this table is that field's; one naming a field we do
    // not know (a column copied from elsewhere) does not stop a match by attnum or name
    return tag !== undefined && tag !== fieldId && ids.has(tag);
  };
  for (const f of fields) {
    const c = byTag.get(f.id);
    if (c && !claimed.has(c.attnum)) {
      claimed.add(c.attnum);
      out.set(f.id, c);
    }
  }
  if (opts.sameOid && !opts.restored) {
    const byAttnum = new Map(rel.columns.map((c) => [c.attnum, c]));
    for (const f of fields) {
      if (out.has(f.id) || f.attnum === null) continue;
      const c = byAttnum.get(f.attnum);
      if (c && !claimed.has(c.attnum) && !foreign(c, f.id)) {
        claimed.add(c.attnum);
        out.set(f.id, c);
      }
    }
  }
  const byName = new Map(rel.columns.map((c) => [c.name, c]));
  for (const f of fields) {
    if (out.has(f.id)) continue;
    const c = byName.get(expectedColumn(f));
    if (c && !claimed.has(c.attnum) && !foreign(c, f.id)) {
      claimed.add(c.attnum);
      out.set(f.id, c);
    }
  }
  return out;
}

// ------------------------------------------------------------------ the database

export interface DatabaseIdentity {
  /** what the metadata recorded (null before migration 010 ran) */
  recorded: string | null;
  /** what the catalog says now */
  current: string;
}

export async function readDatabaseIdentity(db: Queryable): Promise<DatabaseIdentity> {
  const { rows } = await db.query<DatabaseIdentity>(
    /* sql */ `SELECT (SELECT identity FROM tablewright.database_identity) AS recorded, tablewright.current_database_identity() AS current`,
  );
  return rows[0]!;
}

export const wasRestored = (id: DatabaseIdentity | undefined) => id !== undefined && id.recorded !== null && id.recorded !== id.current;

export async function recordDatabaseIdentity(db: Queryable): Promise<void> {
  await db.query(
    /* sql */ `INSERT INTO tablewright.database_identity (identity) VALUES (tablewright.current_database_identity())
      ON CONFLICT (singleton) DO UPDATE SET identity = EXCLUDED.identity, recorded_at = now()`,
  );
}

/**
 * At start: when the database identity changed but every stored oid and attnum still names
 * the object its comment (or, without our tag, its name) says (a copy made with CREATE
 * DATABASE ... TEMPLATE, a physical backup restored elsewhere), the new identity is
 * recorded and nothing needs re-identifying. Otherwise nothing is written, and the drift
 * report shows "this database was restored" with its one action. Returns what it found.
 */
export async function recordIdentityIfUnchanged(db: Queryable): Promise<'same' | 'recorded' | 'restored'> {
  const id = await readDatabaseIdentity(db);
  if (!wasRestored(id)) return 'same';
  const { rows } = await db.query<{ stale: number }>(
    /* sql */ `SELECT
       (SELECT count(*) FROM tablewright.tables t
          LEFT JOIN pg_class c ON c.oid = t.table_oid
          LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
         WHERE c.oid IS NULL
            OR CASE WHEN d.description ~ '\\(tablewright table \\d+\\)'
                    THEN d.description !~ ('\\(tablewright table ' || t.id || '\\)')
                    ELSE c.relname <> CASE WHEN t.trashed_at IS NULL THEN t.table_name ELSE coalesce(t.trash_name, t.table_name) END END)
     + (SELECT count(*) FROM tablewright.fields f JOIN tablewright.tables t ON t.id = f.table_id
          LEFT JOIN pg_attribute a ON a.attrelid = t.table_oid AND a.attnum = f.attnum AND NOT a.attisdropped
          LEFT JOIN pg_description d ON d.objoid = a.attrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
         WHERE t.trashed_at IS NULL AND (a.attnum IS NULL
            OR CASE WHEN d.description ~ '\\(tablewright field \\d+ of table \\d+\\)'
                    THEN d.description !~ ('\\(tablewright field ' || f.id || ' of table ')
                    ELSE a.attname <> CASE WHEN f.trashed_at IS NULL THEN f.column_name ELSE coalesce(f.trash_name, f.column_name) END END))
       AS stale`,
  );
  if (Number(rows[0]!.stale) > 0) return 'restored';
  await recordDatabaseIdentity(db);
  return 'recorded';
}

// ------------------------------------------------------------------ one table, inside a change

/**
 * The relation a metadata table is now, by the same rules, for code that holds a
 * transaction and works on one table (the schema editor, the drift actions).
 */
export async function locateTable(
  db: Queryable,
  table: IdentityInput['tables'][number],
  schemas: { data: string; trash: string },
): Promise<TableMatch | undefined> {
  const schema = expectedSchema(table, schemas);
  const restored = wasRestored(await readDatabaseIdentity(db));
  const { rows } = await db.query<{ oid: number }>(
    /* sql */ `SELECT c.oid::int8 AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
        AND (c.oid = $2::oid OR c.relname = $3 OR strpos(d.description, $4) > 0)`,
    [schema, table.table_oid ?? 0, expectedName(table), `(tablewright table ${table.id})`],
  );
  if (!rows.length) return undefined;
  const catalog = await readCatalog(db, [schema], rows.map((r) => Number(r.oid)));
  const { rows: fields } = await db.query<IdentityInput['fields'][number]>(
    `SELECT id, table_id, column_name, attnum, trashed_at, trash_name FROM tablewright.fields WHERE table_id = $1`,
    [table.id],
  );
  return matchTables({ schemas, tables: [table], fields, catalog, restored }).get(table.id);
}
