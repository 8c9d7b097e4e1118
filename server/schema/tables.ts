// Table operations: create, rename, trash, restore. Each is one schemaChange().
//
// Objects that belong to a table carry id-based names (pk_t<id>, seq_t<id>), so that
// moving a table between the data and trash schemas can never collide with another
// table's objects of the same readable name.
import { ident, literal, qualified } from '../db/ident.js';
import { AppError, badRequest, conflict } from '../errors.js';
import { assertNoLinkInFlightTo } from './online/state.js';
import type { FieldSpec } from './fields.js';
import { createTableWithFields } from './add_fields.js';
import { locateTable } from '../introspect/identity.js';
import { refreshFieldIdentities } from './identity.js';
import { schemaChange, TABLE_SET_LOCK, type Actor, type EditorDeps } from './change.js';
import { getTable, liveTableForChange, listFields, TABLE_COLUMNS, tableJson, type TableMeta } from './metadata.js';
import { derivePhysicalName, slugify, trashName, validateDisplayName, validatePhysicalName } from './names.js';
import type { Change } from './change.js';
import { tableComment } from './comments.js';

export interface CreateTableSpec {
  name: unknown;
  table_name?: unknown;
  /** fields to create with the table; absent: one text field "Name" */
  fields?: FieldSpec[];
}

export { tableComment } from './comments.js';

async function assertDisplayNameFree(c: Change, name: string, exceptId?: number): Promise<void> {
  const { rows } = await c.tx.query(
    /* sql */ `SELECT id FROM tablewright.tables WHERE trashed_at IS NULL AND lower(name) = lower($1) AND id IS DISTINCT FROM $2`,
    [name, exceptId ?? null],
  );
  if (rows.length) throw conflict('name_taken', `a table named "${name}" already exists`, 'name');
}

/**
 * Physical names in use in the data schema (by metadata's live tables and by the catalog)
 * among those that start with `prefix`: every name a choice can end on (prefix, prefix_2,
 * prefix_...) sorts in [prefix, prefix || '{') bytewise, so the read is an index range of
 * pg_class, not every relation of a schema that may hold tens of thousands. (The equality
 * is for a 63-byte prefix: name truncates prefix || '{' back to the prefix, an empty range.)
 */
async function takenTableNames(c: Change, prefix: string): Promise<(n: string) => boolean> {
  const { rows } = await c.tx.query<{ name: string }>(
    /* sql */ `SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND (c.relname = $2::name OR (c.relname > $2::name AND c.relname < ($2 || '{')::name))
     UNION
     SELECT table_name FROM tablewright.tables
      WHERE trashed_at IS NULL AND table_name COLLATE "C" >= $2 AND table_name COLLATE "C" < $2 || '{'`,
    [c.deps.config.dataSchema, prefix],
  );
  const taken = new Set(rows.map((r) => r.name));
  return (n) => {
    if (!n.startsWith(prefix)) throw new Error(`name "${n}" outside the prefix "${prefix}" that was read`);
    return taken.has(n);
  };
}

async function choosePhysicalName(c: Change, display: string, requested: unknown, current?: string): Promise<string> {
  if (requested !== undefined && requested !== null && requested !== '') {
    const name = await validatePhysicalName(c.tx, requested, 'table_name', 'table');
    if (name !== current && (await takenTableNames(c, name))(name)) throw conflict('table_name_taken', `the schema already has a relation named "${name}"`, 'table_name');
    return name;
  }
  // A display rename never renames the PostgreSQL table: views, functions, other
  // applications and people's SQL use that name. Renaming it is its own choice (table_name).
  if (current) return current;
  return derivePhysicalName(c.tx, display, 'untitled_table', await takenTableNames(c, slugify(display) || 'untitled_table'), 'table');
}

export async function createTable(deps: EditorDeps, actor: Actor, spec: CreateTableSpec) {
  const name = validateDisplayName(spec.name);
  const fieldSpecs = spec.fields ?? [{ name: 'Name', type: 'text' }];
  fieldSpecs.forEach((f, i) => {
    if (!f || typeof f !== 'object' || Array.isArray(f)) throw badRequest('each of fields is an object {name, type, options...}', `fields.${i}`);
  });
  return schemaChange(deps, actor, 'create_table', TABLE_SET_LOCK, async (c) => {
    const id = await createTableIn(c, name, spec.table_name, fieldSpecs);
    return { result: { id }, tableId: id, details: { name, table_name: (await getTable(c.tx, id)).table_name, fields: fieldSpecs.length } };
  });
}

/**
 * The body of a table creation inside a schema change (the caller's schemaChange holds
 * TABLE_SET_LOCK): the table, its comment and its fields. An import from a file loads its
 * rows after it, in the same transaction (server/import/create.ts).
 */
export async function createTableIn(c: Change, name: string, tableName: unknown, fieldSpecs: FieldSpec[]): Promise<number> {
  await assertDisplayNameFree(c, name);
  const physical = await choosePhysicalName(c, name, tableName);
  c.reached('validate');

  const { rows } = await c.tx.query<TableMeta>(
    /* sql */ `INSERT INTO tablewright.tables (name, table_name, version, created_by) VALUES ($1, $2, 0, $3) RETURNING ${TABLE_COLUMNS}`,
    [name, physical, c.actor.name],
  );
  const id = rows[0]!.id;
  const schema = c.deps.config.dataSchema;
  // One CREATE TABLE with every column, its comments in the same round trip; errors name
  // the input in the list: fields.2.column, not column.
  await createTableWithFields(
    c,
    rows[0]!,
    `id bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME ${qualified(schema, `seq_t${id}`)}) CONSTRAINT ${ident(`pk_t${id}`)} PRIMARY KEY`,
    tableComment({ id, name }),
    fieldSpecs,
    fieldSpecs.map((_, i) => `fields.${i}.`),
  );
  c.reached('ddl');
  c.reached('metadata');
  return id;
}

/** A display rename (name) changes the display name and the comment; table_name renames the PostgreSQL table. */
export async function renameTable(deps: EditorDeps, actor: Actor, tableId: number, spec: { name?: unknown; table_name?: unknown }) {
  const given = spec.name !== undefined && spec.name !== '';
  if (!given && (spec.table_name === undefined || spec.table_name === '')) throw badRequest('send name (the display name) or table_name (the PostgreSQL name)', 'name');
  const newName = given ? validateDisplayName(spec.name) : undefined;
  return schemaChange(deps, actor, 'rename_table', tableId, async (c) => {
    const table = await liveTableForChange(c, tableId);
    const name = newName ?? table.name;
    await assertDisplayNameFree(c, name, tableId);
    const physical = await choosePhysicalName(c, name, spec.table_name, table.table_name);
    c.reached('validate');
    const schema = c.deps.config.dataSchema;
    if (physical !== table.table_name) {
      await assertNoLinkInFlightTo(c.tx, tableId);
      await c.ddl(`ALTER TABLE ${qualified(schema, table.table_name)} RENAME TO ${ident(physical)}`);
    }
    await c.ddl(`COMMENT ON TABLE ${qualified(schema, physical)} IS ${literal(tableComment({ id: tableId, name }))}`);
    c.reached('ddl');
    await c.tx.query(`UPDATE tablewright.tables SET name = $2, table_name = $3 WHERE id = $1`, [tableId, name, physical]);
    c.reached('metadata');
    return {
      result: { id: tableId },
      tableId,
      details: { from: { name: table.name, table_name: table.table_name }, to: { name, table_name: physical } },
    };
  });
}

/** Trash: the table moves to the trash schema under an id-based name. No data is dropped. */
export async function trashTable(deps: EditorDeps, actor: Actor, tableId: number) {
  return schemaChange(deps, actor, 'trash_table', tableId, async (c) => {
    const table = await liveTableForChange(c, tableId);
    const parked = trashName('t', tableId, table.table_name);
    await assertNoLinkInFlightTo(c.tx, tableId);
    c.reached('validate');
    const { dataSchema, trashSchema } = c.deps.config;
    // Rename first, inside the data schema (the parked name is free: users cannot
    // choose the prefix), then move: the trash schema may hold an older namesake.
    await c.ddl(`ALTER TABLE ${qualified(dataSchema, table.table_name)} RENAME TO ${ident(parked)}`);
    await c.ddl(`ALTER TABLE ${qualified(dataSchema, parked)} SET SCHEMA ${ident(trashSchema)}`);
    // The comment says it is trashed and where it came from: enough to restore it from the catalog alone.
    await c.ddl(`COMMENT ON TABLE ${qualified(trashSchema, parked)} IS ${literal(tableComment(table, { trashed: true, table_name: table.table_name }))}`);
    c.reached('ddl');
    await c.tx.query(
      /* sql */ `UPDATE tablewright.tables SET trashed_at = now(), trashed_by = $2, trash_name = $3 WHERE id = $1`,
      [tableId, actor.name, parked],
    );
    c.reached('metadata');
    return { result: { id: tableId }, tableId, details: { name: table.name, table_name: table.table_name, trash_name: parked } };
  });
}

/**
 * Restore: back into the data schema under its old names, or under new ones given here.
 * When the old name was taken meanwhile, 409 with a free name to suggest.
 */
export async function restoreTable(deps: EditorDeps, actor: Actor, tableId: number, spec: { name?: unknown; table_name?: unknown } = {}) {
  return schemaChange(deps, actor, 'restore_table', tableId, async (c) => {
    await c.lockTable(TABLE_SET_LOCK);
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    if (!table.trashed_at || !table.trash_name) throw conflict('not_trashed', `table "${table.name}" is not in the trash`);
    const name = spec.name !== undefined && spec.name !== '' ? validateDisplayName(spec.name) : table.name;
    const { rows } = await c.tx.query(`SELECT 1 FROM tablewright.tables WHERE trashed_at IS NULL AND lower(name) = lower($1)`, [name]);
    if (rows.length) {
      throw conflict('name_taken', `a table named "${name}" exists now; restore it under another name`, 'name', {
        suggestion: { name: `${name} (restored)` },
      });
    }
    let physical = table.table_name;
    if (spec.table_name !== undefined && spec.table_name !== '') {
      physical = await validatePhysicalName(c.tx, spec.table_name, 'table_name', 'table');
    }
    if ((await takenTableNames(c, physical))(physical)) {
      const suggestion = await derivePhysicalName(c.tx, physical, 'table', await takenTableNames(c, slugify(physical) || 'table'), 'table');
      throw conflict('table_name_taken', `the schema has a relation named "${physical}" now; restore under another table_name`, 'table_name', {
        suggestion: { table_name: suggestion },
      });
    }
    const { dataSchema, trashSchema } = c.deps.config;
    // A trashed table is found by its comment or name (never its oid alone: a restore of
    // the database renumbers them), and its identity is refreshed on the way back.
    const found = await locateTable(c.tx, table, { data: dataSchema, trash: trashSchema });
    if (!found) throw new AppError(409, 'schema_drift', `table "${table.name}" is no longer in ${trashSchema} (dropped outside the console); see the drift report (GET /reconcile)`, undefined, { reconcile: '/reconcile' });
    if (found.rel.name !== table.trash_name) {
      throw new AppError(409, 'schema_drift', `table "${table.name}" was renamed in the trash outside the console; resolve it on the drift report (GET /reconcile) first`, undefined, { reconcile: '/reconcile' });
    }
    c.reached('validate');
    await c.ddl(`ALTER TABLE ${qualified(trashSchema, table.trash_name)} SET SCHEMA ${ident(dataSchema)}`);
    await c.ddl(`ALTER TABLE ${qualified(dataSchema, table.trash_name)} RENAME TO ${ident(physical)}`);
    await c.ddl(`COMMENT ON TABLE ${qualified(dataSchema, physical)} IS ${literal(tableComment({ id: tableId, name }))}`);
    c.reached('ddl');
    await c.tx.query(
      /* sql */ `UPDATE tablewright.tables SET trashed_at = NULL, trashed_by = NULL, trash_name = NULL, name = $2, table_name = $3, table_oid = $4 WHERE id = $1`,
      [tableId, name, physical, found.rel.oid],
    );
    await refreshFieldIdentities(c, tableId, found.rel);
    c.reached('metadata');
    return { result: { id: tableId }, tableId, details: { name, table_name: physical } };
  });
}

export async function describeTable(db: EditorDeps['pool'], tableId: number) {
  const table = await getTable(db, tableId);
  return tableJson(table, await listFields(db, tableId));
}
