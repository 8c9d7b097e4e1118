// A new table from a file, all or nothing: the table and its fields through the schema
// editor (createTableIn) and every row (loadRows) in ONE schema change, so the table
// appears with its rows, or not at all. A value that does not fit its inferred field
// anywhere in the file fails the whole import with its line and field.
//
// The schema change holds the table-set lock (TABLE_SET_LOCK) until it commits: other
// table creations and restores wait for the import (LOCK_TIMEOUT_MS, then 409).
import type { Actor, EditorDeps } from '../schema/change.js';
import { schemaChange, TABLE_SET_LOCK } from '../schema/change.js';
import { createTableIn } from '../schema/tables.js';
import { validateDisplayName } from '../schema/names.js';
import { compileModel } from '../model/compile.js';
import { ident } from '../db/ident.js';
import type { WriteContext } from '../history/stamp.js';
import type { Queryable } from '../db/pool.js';
import type pg from 'pg';
import { fieldSpecsOf, type InferredField } from './infer_plan.js';
import { loadRows } from './load_rows.js';
import type { SourceRecord } from './records.js';

export interface CreateFromFile {
  name: unknown;
  table_name?: unknown;
  fields: InferredField[];
  /** the file's records in runs (records.ts) */
  records: AsyncIterable<SourceRecord[]>;
  unit?: 'line' | 'row';
  write: WriteContext;
  onProgress?: (imported: number) => Promise<void>;
  /** runs last in the transaction (a job confirms it still holds itself) */
  beforeCommit?: (tx: pg.PoolClient) => Promise<void>;
  /** runs first in the transaction (a job takes its hold) */
  afterBegin?: (tx: Queryable) => Promise<void>;
}

export async function createTableFromFile(deps: EditorDeps, actor: Actor, spec: CreateFromFile): Promise<{ id: number; imported: number; version: number }> {
  const name = validateDisplayName(spec.name);
  return schemaChange(deps, actor, 'import_table', TABLE_SET_LOCK, async (c) => {
    await spec.afterBegin?.(c.tx);
    const id = await createTableIn(c, name, spec.table_name, fieldSpecsOf(spec.fields));
    const model = await compileModel(c.tx, deps.config.dataSchema, id);
    // The rows go into the new table before its primary key: PostgreSQL builds the index
    // once, from sorted ids, rather than one insert into it per row (with the rows numbered
    // by the engine rather than by nextval, about half of PostgreSQL's work per row).
    const key = ident(`pk_t${id}`);
    await c.ddl(`ALTER TABLE ${model.relation} DROP CONSTRAINT ${key}`);
    const { imported } = await loadRows(c.tx, model, spec.records, {
      freshIds: true,
      columns: spec.fields.map((f) => f.column),
      write: spec.write,
      pool: deps.pool,
      log: deps.log,
      onProgress: spec.onProgress,
      unit: spec.unit,
    });
    await c.ddl(`ALTER TABLE ${model.relation} ADD CONSTRAINT ${key} PRIMARY KEY (id)`);
    await spec.beforeCommit?.(c.tx);
    return { result: { id, imported }, tableId: id, details: { name, fields: spec.fields.length, rows: imported } };
  });
}
