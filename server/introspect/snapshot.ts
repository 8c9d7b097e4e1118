// A snapshot of what PostgreSQL really has in the managed schemas, next to what the
// metadata says, read in one REPEATABLE READ transaction so that both sides describe the
// same moment: four set-based catalog queries (sql/queries/catalog_*.sql), however many
// tables there are, plus the metadata rows.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { Queryable } from '../db/pool.js';
import { parseExactJson } from '../fields/exact_json.js';
import type { FieldMeta, TableMeta } from '../schema/metadata.js';
import { query } from './queries.js';
import { expectedTypeMap } from './types.js';
import type { DatabaseIdentity } from './identity.js';

export interface CatalogColumn {
  table_oid: number;
  attnum: number;
  name: string;
  /** format_type(): 'bigint', 'numeric(30,2)', 'timestamp with time zone', 'character varying(40)' */
  type: string;
  /** pg_type.typname: 'int8', 'numeric', 'timestamptz', 'varchar' */
  type_name: string;
  not_null: boolean;
  default_expr: string | null;
  /** 'a' (always) or 'd' (by default) for identity columns */
  identity: string | null;
  generated: string | null;
  comment: string | null;
}

export interface CatalogConstraint {
  table_oid: number;
  name: string;
  /** u unique, f foreign key, x exclusion */
  kind: 'u' | 'f' | 'x';
  columns: number[];
  ref_oid: number | null;
  ref_columns: number[] | null;
  on_delete: string | null;
  /** a UNIQUE over several fields described by tablewright.table_indexes */
  ours?: boolean;
}

export interface CatalogIndex {
  table_oid: number;
  name: string;
  is_unique: boolean;
  /** attnums; 0 for an expression */
  columns: number[];
  partial: boolean;
  expressions: boolean;
}

export interface CatalogTable {
  oid: number;
  schema: string;
  name: string;
  kind: string;
  est_rows: number;
  est_bytes: number;
  /** column slots used, dropped columns included */
  slots: number;
  /** dropped columns still holding a slot */
  dropped: number;
  comment: string | null;
  pk_name: string | null;
  pk_columns: number[] | null;
  columns: CatalogColumn[];
  constraints: CatalogConstraint[];
  indexes: CatalogIndex[];
}

export interface IgnoredItem {
  item_id: string;
  kind: string;
  ignored_at: Date;
  ignored_by: string;
  note: string | null;
}

/** A full metadata field row (what the actions read, locked). */
export type FieldRow = FieldMeta & { pg_type: string | null; pg_default: string | null };
/** What the comparison needs of a field: fewer columns to read and parse for 200,000 of them. */
export type SnapshotField = Pick<
  FieldRow,
  'id' | 'table_id' | 'name' | 'column_name' | 'type' | 'options' | 'not_null' | 'is_unique' | 'indexed' | 'default_value' | 'attnum' | 'read_only' | 'trashed_at' | 'trash_name' | 'pg_type' | 'pg_default'
>;

export interface Snapshot {
  taken_at: Date;
  schemas: { data: string; trash: string };
  tables: CatalogTable[];
  byOid: Map<number, CatalogTable>;
  /** key: `${schema}\0${name}` */
  byName: Map<string, CatalogTable>;
  meta: { tables: TableMeta[]; fields: SnapshotField[]; ignored: IgnoredItem[] };
  /**
   * Tables the first pass (sql/queries/drift_candidates.sql) proved in step with their
   * metadata: neither they nor their fields were read, and the comparison skips them.
   */
  verified: Set<number>;
  /** the whole catalog's size, verified tables included */
  totals: { tables: number; columns: number };
  /** live managed tables whose row history triggers are missing or disabled (sql/queries/history_triggers.sql) */
  historyOff: HistoryOff[];
  /** how long the catalog queries and the metadata read took */
  ms: number;
  /** the database identity recorded in the metadata and the catalog's (server/introspect/identity.ts) */
  identity?: DatabaseIdentity;
}

export const nameKey = (schema: string, name: string) => `${schema}\0${name}`;

export interface HistoryOff {
  table_id: number;
  row_trigger: 'missing' | 'replaced' | 'disabled' | 'ok';
  truncate_trigger: 'missing' | 'replaced' | 'disabled' | 'ok';
}

const TABLE_COLUMNS = /* sql */ `id, name, table_name, version, table_oid::int8 AS table_oid, read_only, created_at, created_by,
  updated_at, trashed_at, trashed_by, trash_name`;
const FIELD_COLUMNS = /* sql */ `id, table_id, name, column_name, type, options, not_null, is_unique, indexed,
  default_value::text AS default_value, attnum, read_only, trashed_at, trash_name, pg_type, pg_default`;

/**
 * A field row read with `default_value::text AS default_value`: the default as its JSON
 * value without a double on the way. node-postgres would JSON.parse the jsonb, making a
 * default of 9007199254740993 ...992 and 1e400 null: reconcile then saw drift that is not
 * there, and its "restore" wrote the rounded default into the column.
 */
export function exactDefault<T extends { default_value: unknown }>(row: T): T {
  if (typeof row.default_value === 'string') row.default_value = parseExactJson(row.default_value);
  return row;
}

/**
 * The catalog alone (no metadata), for callers that already hold a transaction: every
 * table of `schemas`, or only the one with oid `oid`.
 */
export async function readCatalog(db: Queryable, schemas: string[], oids: number[] | null = null): Promise<CatalogTable[]> {
  const params = [schemas, oids];
  const [rels, cols, cons, idxs] = [
    await db.query<Omit<CatalogTable, 'columns' | 'constraints' | 'indexes' | 'dropped'>>(query('catalog_relations'), params),
    await db.query<CatalogColumn>(query('catalog_columns'), params),
    await db.query<CatalogConstraint>(query('catalog_constraints'), params),
    await db.query<CatalogIndex>(query('catalog_indexes'), params),
  ];
  return assemble(rels.rows, cols.rows, cons.rows, idxs.rows);
}

function assemble(
  rels: Array<Omit<CatalogTable, 'columns' | 'constraints' | 'indexes' | 'dropped'>>,
  cols: CatalogColumn[],
  cons: CatalogConstraint[],
  idxs: CatalogIndex[],
): CatalogTable[] {
  const byOid = new Map<number, CatalogTable>();
  const tables = rels.map((r) => {
    const t: CatalogTable = { ...r, pk_columns: r.pk_columns ?? null, dropped: 0, columns: [], constraints: [], indexes: [] };
    byOid.set(t.oid, t);
    return t;
  });
  for (const c of cols) byOid.get(c.table_oid)?.columns.push(c);
  for (const c of cons) byOid.get(c.table_oid)?.constraints.push(c);
  for (const i of idxs) byOid.get(i.table_oid)?.indexes.push(i);
  for (const t of tables) t.dropped = Math.max(0, t.slots - t.columns.length);
  return tables;
}

const SNAPSHOT_ID_RE = /^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i;

/**
 * The catalog of the data and trash schemas and the metadata, as of one moment: a
 * read-only REPEATABLE READ transaction whose snapshot is exported to up to two more
 * pooled connections (SET TRANSACTION SNAPSHOT), so that the two big reads (catalog
 * columns, metadata fields) run side by side and still see exactly the same moment.
 */
export async function takeSnapshot(
  pool: pg.Pool,
  schemas: { data: string; trash: string },
  opts: { columnSlotWarning?: number; /** read everything (no first pass): for tests and the benchmark */ full?: boolean } = {},
): Promise<Snapshot> {
  // One snapshot at a time per pool: a snapshot holds one connection while it waits for
  // two more, and several doing that at once could take the whole pool and wait for each
  // other for ever (every other route takes one connection at a time and cannot).
  const previous = snapshotsInFlight.get(pool) ?? Promise.resolve();
  const mine = previous.catch(() => undefined).then(() => takeSnapshotNow(pool, schemas, opts));
  snapshotsInFlight.set(pool, mine);
  try {
    return await mine;
  } finally {
    if (snapshotsInFlight.get(pool) === mine) snapshotsInFlight.delete(pool);
  }
}

/**
 * For the snapshot's transactions: UTC (defaults are deparsed in the session's time zone),
 * and no JIT. The first pass and the catalog reads over 10,000 tables cost more than
 * jit_above_cost, and a server built with LLVM (PostgreSQL 15 from Debian, unlike the
 * embedded one) then spends seconds compiling and optimizing expressions for queries
 * that run in a few hundred milliseconds without it. And 32 MB of work_mem: the first pass
 * hashes one side of 200,000 field/column pairs (about 15 MB, narrow rows), which the
 * default 4 MB would split into batches written to temporary files. Transaction-local,
 * and one snapshot runs at a time per pool.
 */
const SNAPSHOT_SETTINGS = /* sql */ `SELECT set_config('timezone', 'UTC', true), set_config('jit', 'off', true), set_config('work_mem', '32MB', true)`;

const snapshotsInFlight = new WeakMap<pg.Pool, Promise<Snapshot>>();

async function takeSnapshotNow(
  pool: pg.Pool,
  schemas: { data: string; trash: string },
  opts: { columnSlotWarning?: number; full?: boolean },
): Promise<Snapshot> {
  const started = performance.now();
  // Three connections when the pool has them (one when it has fewer): each runs its reads one after another.
  const width = ((pool as pg.Pool & { options?: { max?: number } }).options?.max ?? 1) >= 3 ? 3 : 1;
  const clients: pg.PoolClient[] = [];
  try {
    const main = await pool.connect();
    clients.push(main);
    await main.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // Defaults are deparsed with the session's time zone: make it the one we parse with.
    await main.query(SNAPSHOT_SETTINGS);
    if (width > 1) {
      const { rows } = await main.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
      const id = rows[0]!.id;
      if (!SNAPSHOT_ID_RE.test(id)) throw new Error(`unexpected snapshot id ${id}`);
      for (let i = 1; i < width; i++) {
        const c = await pool.connect();
        clients.push(c);
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        await c.query(`SET TRANSACTION SNAPSHOT '${id}'`);
        await c.query(SNAPSHOT_SETTINGS);
      }
    }
    const schemaList = [schemas.data, schemas.trash];
    // First pass in the database: only tables it cannot vouch for are read in full.
    const { rows: first } = await main.query<{ verified_tables: number[]; candidate_tables: number[]; candidate_oids: number[]; tables: number; columns: number }>(query('drift_candidates'), [
      schemaList,
      JSON.stringify(expectedTypeMap()),
      opts.columnSlotWarning ?? 1600,
    ]);
    const verified = new Set(opts.full ? [] : first[0]!.verified_tables.map(Number));
    const oids = opts.full ? null : first[0]!.candidate_oids.map(Number);
    const params = [schemaList, oids];
    const fieldFilter = opts.full ? '' : 'WHERE table_id = ANY ($1::int8[])';
    const readColumns = () => clients[1 % width]!.query<CatalogColumn>(query('catalog_columns'), params);
    const readFields = () =>
      clients[2 % width]!.query<SnapshotField>(`SELECT ${FIELD_COLUMNS} FROM tablewright.fields ${fieldFilter} ORDER BY table_id, position, id`, opts.full ? [] : [first[0]!.candidate_tables.map(Number)]);
    const readRest = async () => ({
      rels: await main.query<Omit<CatalogTable, 'columns' | 'constraints' | 'indexes' | 'dropped'>>(query('catalog_relations'), params),
      cons: await main.query<CatalogConstraint>(query('catalog_constraints'), params),
      idxs: await main.query<CatalogIndex>(query('catalog_indexes'), params),
      metaTables: await main.query<TableMeta>(`SELECT ${TABLE_COLUMNS} FROM tablewright.tables ORDER BY id`),
      ignored: await main.query<IgnoredItem>(`SELECT item_id, kind, ignored_at, ignored_by, note FROM tablewright.drift_ignored ORDER BY item_id`),
      identity: await main.query<DatabaseIdentity>(
        /* sql */ `SELECT (SELECT identity FROM tablewright.database_identity) AS recorded, tablewright.current_database_identity() AS current`,
      ),
      historyOff: await main.query<HistoryOff>(query('history_triggers'), [schemas.data]),
    });
    const [cols, fields, { rels, cons, idxs, metaTables, ignored, identity, historyOff }] =
      width === 3 ? await Promise.all([readColumns(), readFields(), readRest()]) : [await readColumns(), await readFields(), await readRest()];
    fields.rows.forEach(exactDefault);
    for (const c of clients) await c.query('COMMIT');
    const tables = assemble(rels.rows, cols.rows, cons.rows, idxs.rows);
    const byOid = new Map<number, CatalogTable>();
    const byName = new Map<string, CatalogTable>();
    for (const t of tables) {
      byOid.set(t.oid, t);
      byName.set(nameKey(t.schema, t.name), t);
    }
    return {
      taken_at: new Date(),
      schemas,
      tables,
      byOid,
      byName,
      meta: { tables: metaTables.rows, fields: fields.rows, ignored: ignored.rows },
      verified,
      totals: { tables: first[0]!.tables, columns: first[0]!.columns },
      historyOff: historyOff.rows,
      ms: performance.now() - started,
      identity: identity.rows[0],
    };
  } catch (err) {
    for (const c of clients) await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    for (const c of clients) c.release();
  }
}
