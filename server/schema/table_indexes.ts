// Indexes and UNIQUE constraints over several fields (South's create_unique(table,
// columns) and create_index(table, column_names)): metadata in tablewright.table_indexes
// (031_table_indexes.sql), fields kept by id.
//
// Built online by default (online=0: one transaction of plain, blocking DDL):
//   1. a unique one: the duplicates counted first (422 has_duplicates: how many values
//      repeat, in how many rows, and a few examples with their row ids), nothing made;
//   2. CREATE [UNIQUE] INDEX CONCURRENTLY, outside any transaction, short lock attempts
//      (SHARE UPDATE EXCLUSIVE: reads and writes go on while it builds);
//   3. brief: a unique one becomes its constraint (ADD CONSTRAINT ... UNIQUE USING INDEX);
//      metadata, version + 1, audit (both statements), NOTIFY in one commit.
// A failure after 2 drops the index again (DROP INDEX CONCURRENTLY). Within the job
// threshold it runs in the request; past it (or online=1) it is a resumable job
// (online/op_table_index.ts): an instance killed mid-build leaves an invalid index that
// the instance taking the job over drops and builds again. Removing one is one brief
// transaction.
import { ident, qualified } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import { badRequest, conflict, notFound, unprocessable } from '../errors.js';
import { schemaChange, type Actor, type EditorDeps } from './change.js';
import { getLiveTable, listFields, type FieldMeta, type TableMeta } from './metadata.js';
import { makePlan, step, tableSize, type Plan } from './plan.js';
import type { Job } from '../jobs/queue.js';
import type { withTransaction } from '../db/tx.js';
import { acceptOnlineChange } from './online/run.js';
import { inFlightConflict, runningOnlineChange } from './online/state.js';
import { runOutside } from './online/steps.js';

export const MAX_INDEX_FIELDS = 32;

export interface TableIndex {
  id: number;
  table_id: number;
  name: string;
  field_ids: number[];
  is_unique: boolean;
  created_by: string;
  created_at: Date;
}

export interface IndexSpec {
  fields: unknown;
  unique?: boolean;
  name?: unknown;
  /** false: one transaction of plain DDL (CREATE INDEX blocks writes while it builds) */
  online?: boolean;
}

const ROW_COLUMNS = 'id::int, table_id::int, name, field_ids::int[] AS field_ids, is_unique, created_by, created_at';

/** The row describing an index over several fields; in the transaction that attaches it. */
export async function insertTableIndexRow(db: Queryable, tableId: number, name: string, fieldIds: number[], unique: boolean, actor: string): Promise<TableIndex> {
  const { rows } = await db.query<TableIndex>(
    `INSERT INTO tablewright.table_indexes (table_id, name, field_ids, is_unique, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING ${ROW_COLUMNS}`,
    [tableId, name, fieldIds, unique, actor],
  );
  return rows[0]!;
}

/** Names the field-level paths use (uq_f12, ix_f12, fk_f12, nn_f12, the online ones' _new_): not for these. */
const RESERVED = /^(uq|ix|fk|nn)_(new_)?f\d+$|^tw_|^_tw_/;

export async function listTableIndexes(db: Queryable, tableId: number): Promise<TableIndex[]> {
  const { rows } = await db.query<TableIndex>(
    `SELECT id::int, table_id::int, name, field_ids::int[] AS field_ids, is_unique, created_by, created_at FROM tablewright.table_indexes WHERE table_id = $1 ORDER BY id`,
    [tableId],
  );
  return rows;
}

/** As the API answers it: the fields by id and name, in the index's order. */
export function tableIndexJson(ix: TableIndex, fields: FieldMeta[]) {
  const byId = new Map(fields.map((f) => [f.id, f]));
  return {
    id: ix.id,
    name: ix.name,
    unique: ix.is_unique,
    fields: ix.field_ids.map((id) => ({ id, name: byId.get(id)?.name ?? null, trashed: byId.get(id)?.trashed_at ? true : false })),
    created_by: ix.created_by,
    created_at: ix.created_at,
  };
}

interface Resolved {
  table: TableMeta;
  fields: FieldMeta[];
  name: string;
  relation: string;
  columns: string;
}

/** Checks a request: 2 to 32 distinct live fields of the table, a usable name (or one made from the table and columns). */
async function resolve(deps: EditorDeps, tableId: number, spec: IndexSpec): Promise<Resolved> {
  const table = await getLiveTable(deps.pool, tableId);
  if (!Array.isArray(spec.fields)) throw badRequest('fields: a list of field ids, e.g. [12, 15]', 'fields');
  const ids = spec.fields.map((v) => (typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,15}$/.test(v.trim()) ? Number(v) : NaN));
  if (ids.some((id) => !Number.isSafeInteger(id) || id <= 0)) throw badRequest('fields: each item must be a field id (a positive whole number)', 'fields');
  if (ids.length < 2 || ids.length > MAX_INDEX_FIELDS) {
    throw badRequest(`fields: from 2 to ${MAX_INDEX_FIELDS} fields (for one field, set the field's own "unique" or "indexed")`, 'fields');
  }
  if (new Set(ids).size !== ids.length) throw badRequest('fields: a field appears twice', 'fields');
  const live = new Map((await listFields(deps.pool, tableId)).map((f) => [f.id, f]));
  const fields = ids.map((id) => {
    const f = live.get(id);
    if (!f) throw unprocessable('unknown_field', `fields: field ${id} is not a live field of table "${table.name}"`, 'fields');
    if (f.type === 'json') throw unprocessable('unsupported_type', `fields: "${f.name}" is a JSON field; it cannot be part of an index`, 'fields');
    return f;
  });
  const prefix = spec.unique ? 'uq' : 'ix';
  let name: string;
  if (spec.name !== undefined && spec.name !== null && spec.name !== '') {
    if (typeof spec.name !== 'string') throw badRequest('name: text', 'name');
    ident(spec.name, 'name');
    if (RESERVED.test(spec.name)) throw badRequest(`name: "${spec.name}" is a name the daemon keeps for its own objects; choose another`, 'name');
    name = spec.name;
    if (await relationExists(deps, name)) throw conflict('name_taken', `name: "${name}" is taken by another table or index`, 'name');
  } else {
    name = await freeName(deps, `${prefix}_${table.table_name}_${fields.map((f) => f.column_name).join('_')}`);
  }
  return {
    table,
    fields,
    name,
    relation: String(qualified(deps.config.dataSchema, table.table_name)),
    columns: fields.map((f) => String(ident(f.column_name))).join(', '),
  };
}

async function relationExists(deps: EditorDeps, name: string): Promise<boolean> {
  const { rows } = await deps.pool.query(`SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, [deps.config.dataSchema, name]);
  return rows.length > 0;
}

/** A readable name: uq_<table>_<col>_<col>, cut to 63 bytes, _2, _3... when taken. */
async function freeName(deps: EditorDeps, base: string): Promise<string> {
  const cut = (s: string, n: number) => s.slice(0, n).replace(/_+$/, '');
  for (let i = 1; i < 100; i++) {
    const suffix = i === 1 ? '' : `_${i}`;
    const name = cut(base, 63 - suffix.length) + suffix;
    if (!RESERVED.test(name) && !(await relationExists(deps, name))) return name;
  }
  throw conflict('name_taken', 'no free name for the index; send one (name)', 'name');
}

/** The steps, their locks and estimates (dry_run=1). */
export async function planTableIndex(deps: EditorDeps, tableId: number, spec: IndexSpec, opts: { duplicates: boolean } = { duplicates: true }): Promise<{ name: string; plan: Plan; duplicates?: Awaited<ReturnType<typeof countDuplicates>> }> {
  const r = await resolve(deps, tableId, spec);
  const size = await tableSize(deps.pool, r.table.table_oid);
  const steps = [];
  if (spec.unique) steps.push(step(`SELECT ${r.columns}, count(*) FROM ${r.relation} GROUP BY ${r.columns} HAVING count(*) > 1 -- duplicates first`, 'ACCESS SHARE', 'scan', size, 'scan'));
  if (spec.online === false) {
    steps.push(
      spec.unique
        ? step(`ALTER TABLE ${r.relation} ADD CONSTRAINT ${ident(r.name)} UNIQUE (${r.columns})`, 'ACCESS EXCLUSIVE', 'scan', size, 'unique')
        : step(`CREATE INDEX ${ident(r.name)} ON ${r.relation} (${r.columns})`, 'SHARE', 'scan', size, 'index'),
    );
  } else {
    steps.push(step(`CREATE ${spec.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${ident(r.name)} ON ${r.relation} (${r.columns})`, 'SHARE UPDATE EXCLUSIVE', 'scan', size, spec.unique ? 'unique' : 'index'));
    if (spec.unique) steps.push(step(`ALTER TABLE ${r.relation} ADD CONSTRAINT ${ident(r.name)} UNIQUE USING INDEX ${ident(r.name)}`, 'ACCESS EXCLUSIVE', 'brief', size));
  }
  const plan = makePlan(steps, size, spec.online === false ? { online: false, reason: 'online=0' } : { online: true, reason: 'indexes over several fields are built online (a job past the job threshold)' });
  return { name: r.name, plan, ...(spec.unique && opts.duplicates ? { duplicates: await countDuplicates(deps.pool, r.relation, r.fields) } : {}) };
}

/** Values that repeat over the fields (rows with an empty member never clash, as in PostgreSQL). */
export async function countDuplicates(db: Queryable, relation: string, fields: FieldMeta[]) {
  const cols = fields.map((f) => String(ident(f.column_name)));
  const { rows } = await db.query<{ groups: number; rows: number; examples: Array<{ values: Array<string | null>; rows: number; row_ids: number[] }> | null }>(
    /* sql */ `SELECT count(*)::int AS groups, coalesce(sum(n), 0)::int AS rows,
            (array_agg(jsonb_build_object('values', vals, 'rows', n, 'row_ids', ids) ORDER BY first_id))[1:5] AS examples
       FROM (SELECT count(*)::int AS n, min(id) AS first_id, (array_agg(id ORDER BY id))[1:5] AS ids,
                    jsonb_build_array(${cols.map((c) => `${c}::text`).join(', ')}) AS vals
               FROM ${relation} WHERE ${cols.map((c) => `${c} IS NOT NULL`).join(' AND ')}
              GROUP BY ${cols.join(', ')} HAVING count(*) > 1) d`,
  );
  return { duplicate_values: rows[0]!.groups, rows: rows[0]!.rows, examples: rows[0]!.examples ?? [] };
}

export function duplicatesError(fields: FieldMeta[], d: Awaited<ReturnType<typeof countDuplicates>>) {
  const names = fields.map((f) => `"${f.name}"`).join(', ');
  const eg = d.examples.slice(0, 3).map((e) => `(${e.values.map((v) => JSON.stringify(v)).join(', ')}) in rows ${e.row_ids.join(', ')}`).join('; ');
  return unprocessable('has_duplicates', `${names} cannot be unique together: ${d.duplicate_values} combinations repeat, in ${d.rows} rows (e.g. ${eg})`, 'fields', d);
}

/** Checks shared by every path: nothing in flight on the table, no duplicates for a unique one. */
async function checked(deps: EditorDeps, tableId: number, spec: IndexSpec): Promise<Resolved> {
  const r = await resolve(deps, tableId, spec);
  const running = await runningOnlineChange(deps.pool, tableId);
  if (running) throw await inFlightConflict(deps.pool, tableId);
  if (spec.unique) {
    const d = await countDuplicates(deps.pool, r.relation, r.fields);
    if (d.duplicate_values > 0) throw duplicatesError(r.fields, d);
  }
  return r;
}

/**
 * Past the job threshold (or online=1): the online change's row and its job, in one
 * transaction under the table's schema lock (online/run.ts); the job builds and attaches.
 */
export async function acceptTableIndexJob(
  deps: EditorDeps,
  actor: Actor,
  tableId: number,
  spec: IndexSpec,
  total: number,
  enqueue: (tx: Parameters<Parameters<typeof withTransaction>[1]>[0], onlineChangeId: number) => Promise<Job>,
): Promise<{ job: Job; name: string }> {
  const r = await checked(deps, tableId, spec);
  const payload = { name: r.name, field_ids: r.fields.map((f) => f.id), unique: spec.unique === true };
  const job = await acceptOnlineChange(deps, actor, { tableId, field: r.fields[0]!, kind: 'table_index', update: payload, total, objects: { index: r.name } }, enqueue);
  return { job, name: r.name };
}

export async function createTableIndex(deps: EditorDeps, actor: Actor, tableId: number, spec: IndexSpec): Promise<{ index: TableIndex; version: number }> {
  const r = await checked(deps, tableId, spec);
  if (spec.online === false) {
    // online=0: plain DDL in one transaction; writes wait while PostgreSQL builds.
    return schemaChange(deps, actor, spec.unique ? 'add_unique_constraint' : 'add_index', tableId, async (c) => {
      if (spec.unique) await c.ddl(`ALTER TABLE ${r.relation} ADD CONSTRAINT ${ident(r.name)} UNIQUE (${r.columns})`);
      else await c.ddl(`CREATE INDEX ${ident(r.name)} ON ${r.relation} (${r.columns})`);
      const index = await insertTableIndexRow(c.tx, tableId, r.name, r.fields.map((f) => f.id), spec.unique === true, actor.name);
      return { result: { index }, tableId, details: { index: r.name, fields: r.fields.map((f) => f.id), unique: spec.unique === true } };
    });
  }
  const createSql = `CREATE ${spec.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${ident(r.name)} ON ${r.relation} (${r.columns})`;
  const dropSql = `DROP INDEX CONCURRENTLY IF EXISTS ${qualified(deps.config.dataSchema, r.name)}`;
  try {
    await runOutside(deps, createSql);
  } catch (err) {
    const code = (err as { code?: string }).code;
    // A failed CONCURRENTLY build leaves its index behind, invalid: it goes.
    if (code !== '42P07') await runOutside(deps, dropSql).catch((e: Error) => deps.log.warn({ err: e }, 'dropping a failed index build failed'));
    if (code === '42P07') throw conflict('name_taken', `name: "${r.name}" is taken by another table or index`, 'name');
    // Duplicates written while it was building.
    if (code === '23505') throw duplicatesError(r.fields, await countDuplicates(deps.pool, r.relation, r.fields));
    throw err;
  }
  try {
    return await schemaChange(deps, actor, spec.unique ? 'add_unique_constraint' : 'add_index', tableId, async (c) => {
      c.record(createSql);
      if (spec.unique) await c.ddl(`ALTER TABLE ${r.relation} ADD CONSTRAINT ${ident(r.name)} UNIQUE USING INDEX ${ident(r.name)}`);
      // The fields may have gone to the trash while the index was built.
      const { rows: gone } = await c.tx.query(`SELECT name FROM tablewright.fields WHERE id = ANY($1::int8[]) AND trashed_at IS NOT NULL`, [r.fields.map((f) => f.id)]);
      if (gone.length) throw conflict('field_trashed', `fields: "${gone[0].name}" went to the trash meanwhile`, 'fields');
      const index = await insertTableIndexRow(c.tx, tableId, r.name, r.fields.map((f) => f.id), spec.unique === true, actor.name);
      return { result: { index }, tableId, details: { index: r.name, fields: r.fields.map((f) => f.id), unique: spec.unique === true } };
    });
  } catch (err) {
    await runOutside(deps, dropSql).catch((e: Error) => deps.log.warn({ err: e }, 'dropping an unattached index failed'));
    throw err;
  }
}

export async function dropTableIndex(deps: EditorDeps, actor: Actor, tableId: number, indexId: number, opts: { unique?: boolean } = {}): Promise<{ index: TableIndex; version: number }> {
  const table = await getLiveTable(deps.pool, tableId);
  const relation = String(qualified(deps.config.dataSchema, table.table_name));
  return schemaChange(deps, actor, 'drop_table_index', tableId, async (c) => {
    const { rows } = await c.tx.query<TableIndex>(
      `DELETE FROM tablewright.table_indexes WHERE id = $1 AND table_id = $2 RETURNING id::int, table_id::int, name, field_ids::int[] AS field_ids, is_unique, created_by, created_at`,
      [indexId, tableId],
    );
    const ix = rows[0];
    if (!ix || (opts.unique !== undefined && ix.is_unique !== opts.unique)) throw notFound(`${opts.unique ? 'constraint' : 'index'} ${indexId} of table ${tableId}`);
    if (ix.is_unique) await c.ddl(`ALTER TABLE ${relation} DROP CONSTRAINT IF EXISTS ${ident(ix.name)}`);
    await c.ddl(`DROP INDEX IF EXISTS ${qualified(deps.config.dataSchema, ix.name)}`);
    return { result: { index: ix }, tableId, details: { index: ix.name, fields: ix.field_ids, unique: ix.is_unique } };
  });
}

/** The indexes over several fields a field belongs to (a type change of it is refused). */
export async function indexesOfField(db: Queryable, tableId: number, fieldId: number): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(`SELECT name FROM tablewright.table_indexes WHERE table_id = $1 AND $2 = ANY(field_ids) ORDER BY id`, [tableId, fieldId]);
  return rows.map((r) => r.name);
}
