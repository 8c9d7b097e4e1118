// The actions that resolve drift items. Each one that concerns a managed table is one
// schemaChange() (one transaction, lock_timeout, advisory lock, audit, version + 1,
// NOTIFY), and re-reads inside it what it is about to change: the report it was chosen
// from may be seconds old. Three actions concern objects no metadata row describes, so
// there is no table version to bump: ignore/unignore (metadata only) and dropping an
// untracked table; they run in their own transaction with the same lock and an audit row.
import { DDL_CHANNEL } from '../bus/index.js';
import { ident, identFromCatalog, literal, qualified } from '../db/ident.js';
import { withTransaction } from '../db/tx.js';
import { AppError, badRequest, conflict, notFound, unprocessable } from '../errors.js';
import { fieldType, parseOptions } from '../fields/registry.js';
import type { FieldTypeName } from '../fields/types.js';
import { flag } from '../schema/input.js';
import { schemaChange, SCHEMA_LOCK_NAMESPACE, TABLE_SET_LOCK, type Actor, type Change } from '../schema/change.js';
import { getField, getTable, liveTableForChange, type TableMeta } from '../schema/metadata.js';
import { isManyLink, junctionExists } from '../schema/m2m.js';
import { validateDisplayName, validatePhysicalName } from '../schema/names.js';
import { assertNoDependents } from '../schema/catalog.js';
import { columnComment, hasOwnIndex } from '../schema/fields.js';
import { keepLostValues, type KeptValues } from '../schema/lost_values.js';
import { tableComment } from '../schema/tables.js';
import { mappingFromComment } from './adopt_comment.js';
import { parseColumnComment, parseTableComment } from '../schema/comments.js';
import {
  acceptedDefault,
  defaultMatches,
  foreignKeyOn,
  idColumn,
  indexedNow,
  indexOn,
  uniqueOn,
  usableName,
  type ActionName,
  type DriftItem,
} from './drift.js';
import { findItem, reconcile, type ReconcileDeps } from './reconcile.js';
import { exactDefault, readCatalog, type CatalogColumn, type CatalogTable, type FieldRow } from './snapshot.js';
import { stringifyExact } from '../fields/exact_json.js';
import { displayNameOf, expectedColumnType, mapColumn, type TypeMapping } from './types.js';
import { rebuildTable } from './rebuild.js';
import { adoptTableIndex } from './adopt_index.js';
import { adoptJunction } from './adopt_junction.js';
import { notOwnerMessage, relationOwnership } from '../db/privileges.js';
import { locateTable, matchColumns, readDatabaseIdentity, wasRestored } from './identity.js';
import { reidentifyDatabase } from './reidentify.js';
import { syncHistoryTriggers } from '../history/triggers.js';

export interface ActionRequest {
  item: unknown;
  action: unknown;
  /** adopt: a new physical name when the current one cannot be ours */
  table_name?: unknown;
  column?: unknown;
  /** adopt: the display name (adopt_link: the link field's) */
  name?: unknown;
  /** adopt_link: the reverse field's display name */
  reverse_name?: unknown;
  /** adopt_link: add the unique pair a junction lacks */
  add_unique?: unknown;
  /** purge: the qualified name of what will be dropped, typed back */
  confirm?: unknown;
  /** restore of a retyped column: accept that values which do not convert become empty */
  confirm_loss?: unknown;
  note?: unknown;
}

export interface ActionResult {
  item: DriftItem;
  action: ActionName;
  result: Record<string, unknown>;
}

// default_value as text, read exactly (snapshot.ts exactDefault)
const FIELD_COLUMNS = /* sql */ `id, table_id, name, column_name, type, options, position, not_null, is_unique, indexed,
  default_value::text AS default_value, attnum, read_only, created_at, updated_at, trashed_at, trashed_by, trash_name, trash_reason, pg_type, pg_default`;

/** Applies one action to one drift item of a fresh report. */
/** The drift item a request names, as the catalog is now, and the action, if it resolves that item. */
export async function checkAction(deps: Pick<ReconcileDeps, 'pool' | 'config'>, req: ActionRequest): Promise<{ item: DriftItem; action: ActionName }> {
  if (typeof req.item !== 'string' || !req.item) throw badRequest('item: the id of a drift item is required', 'item');
  if (typeof req.action !== 'string' || !req.action) throw badRequest('action is required', 'action');
  const report = await reconcile(deps);
  const item = findItem(report, req.item);
  if (!item) throw notFound(`drift item "${req.item.slice(0, 200)}" (it may have been resolved already)`);
  const allowed = item.actions.map((a) => a.name);
  if (!(allowed as string[]).includes(req.action)) {
    throw badRequest(`"${req.action.slice(0, 40)}" does not resolve this item; use one of: ${allowed.join(', ')}`, 'action');
  }
  return { item, action: req.action as ActionName };
}

export async function applyAction(deps: ReconcileDeps, actor: Actor, req: ActionRequest): Promise<ActionResult> {
  const { item, action } = await checkAction(deps, req);
  const result = await dispatch(deps, actor, item, action, req);
  deps.log.info({ item: item.id, kind: item.kind, action, actor: actor.name }, 'drift action applied');
  return { item, action, result };
}

async function dispatch(deps: ReconcileDeps, actor: Actor, item: DriftItem, action: ActionName, req: ActionRequest): Promise<Record<string, unknown>> {
  if (action === 'ignore') return ignore(deps, actor, item, req.note);
  if (action === 'unignore') return unignore(deps, actor, item);
  const tableId = item.table?.id;
  const fieldId = item.field?.id;
  switch (item.kind) {
    case 'missing_table':
      return action === 'recreate' ? recreateTable(deps, actor, tableId!) : forgetTable(deps, actor, tableId!, 'missing');
    case 'trashed_gone':
      return fieldId ? forgetField(deps, actor, tableId!, fieldId, 'trashed_gone') : forgetTable(deps, actor, tableId!, 'trashed_gone');
    case 'missing_junction':
      return forgetManyLink(deps, actor, tableId!, fieldId!);
    case 'missing_column':
      return action === 'recreate' ? recreateColumn(deps, actor, tableId!, fieldId!) : forgetField(deps, actor, tableId!, fieldId!, 'missing');
    case 'renamed_table':
      return renamedTable(deps, actor, tableId!, action);
    case 'renamed_column':
      return renamedColumn(deps, actor, tableId!, fieldId!, action);
    case 'retyped_column':
      return action === 'accept' ? acceptType(deps, actor, tableId!, fieldId!) : restoreType(deps, actor, tableId!, fieldId!, flag(req.confirm_loss, 'confirm_loss') ?? false);
    case 'constraint_changed':
      return action === 'accept' ? acceptConstraints(deps, actor, tableId!, fieldId!) : restoreConstraints(deps, actor, tableId!, fieldId!);
    case 'identity_changed':
      return refreshIdentity(deps, actor, tableId!);
    case 'untracked_table':
      if (action === 'purge') return purgeUntrackedTable(deps, actor, item.table!.schema, item.table!.table_name, req.confirm);
      if (action === 'adopt_link') return adoptJunction(deps, actor, item, req);
      return adoptTable(deps, actor, item.table!.table_name, req);
    case 'untracked_column':
      if (action === 'purge') return purgeUntrackedColumn(deps, actor, tableId!, item.column!.name, req.confirm);
      return adoptColumn(deps, actor, tableId!, item.column!.name, req);
    case 'untracked_index':
      return adoptTableIndex(deps, actor, tableId!, item);
    case 'column_limit':
      return rebuildTable(deps, actor, tableId!);
    case 'database_restored':
      return reidentifyDatabase(deps, actor);
    case 'history_off':
      return restoreHistory(deps, actor, tableId!, item.id);
    case 'id_not_generated':
      return restoreIdentity(deps, actor, tableId!);
    case 'broken_computed':
      throw badRequest('a broken lookup or rollup is resolved by restoring what it reads, or by trashing it; here it can only be ignored', 'action');
    case 'broken_formula':
      // only ignore is offered: restoring the field (or changing the expression) repairs it
      throw conflict('no_action', 'restore the field the formula uses, or change its expression');
  }
}

// ------------------------------------------------------------------ helpers

async function fieldRow(c: Change, tableId: number, fieldId: number): Promise<FieldRow> {
  const { rows } = await c.tx.query<FieldRow>(`SELECT ${FIELD_COLUMNS} FROM tablewright.fields WHERE table_id = $1 AND id = $2 FOR UPDATE`, [tableId, fieldId]);
  if (!rows[0]) throw notFound(`field ${fieldId} of table ${tableId}`);
  return exactDefault(rows[0]);
}

const changedMeanwhile = (what: string) => conflict('drift_changed', `${what} changed since the report was made; reload the report`);

/** The catalog table a metadata table is now: by comment, a confirmed oid, or name (server/introspect/identity.ts). */
async function relationOf(c: Change, table: TableMeta): Promise<CatalogTable | undefined> {
  return (await locateTable(c.tx, table, { data: c.deps.config.dataSchema, trash: c.deps.config.trashSchema }))?.rel;
}

/** The column a field is now, by the same rules as the report (comment, a confirmed attnum, name). */
async function columnOfField(c: Change, table: TableMeta, rel: CatalogTable, fieldId: number): Promise<CatalogColumn | undefined> {
  const { rows } = await c.tx.query<FieldRow>(`SELECT id, column_name, attnum, trashed_at, trash_name FROM tablewright.fields WHERE table_id = $1`, [table.id]);
  const restored = wasRestored(await readDatabaseIdentity(c.tx));
  return matchColumns(rel, rows, { sameOid: rel.oid === Number(table.table_oid), restored }).get(fieldId);
}

async function requireRelation(c: Change, table: TableMeta): Promise<CatalogTable> {
  const rel = await relationOf(c, table);
  if (!rel) throw changedMeanwhile(`table "${table.name}"`);
  await requireOwnership(c, rel);
  return rel;
}

/** Altering a table needs its ownership: say which GRANT is missing (409) rather than fail halfway (500). */
async function requireOwnership(c: Change, rel: Pick<CatalogTable, 'oid' | 'schema' | 'name'>): Promise<void> {
  const own = await relationOwnership(c.tx, rel.oid);
  if (own && !own.mayAlter) throw conflict('insufficient_privilege', notOwnerMessage(String(qualified(rel.schema, rel.name)), own.owner, own.role, rel.name));
}

const relName = (rel: CatalogTable) => qualified(rel.schema, rel.name);

/** The SQL default for a field's default_value (the same literal the schema editor writes). */
function defaultSql(f: Pick<FieldRow, 'type' | 'options' | 'default_value'>): string | null {
  if (f.default_value === null || f.default_value === undefined) return null;
  const t = fieldType(f.type);
  const v = f.type === 'json' ? stringifyExact(f.default_value) : t.parse(f.default_value, f.options);
  if (v === null || v === undefined) return null;
  return `${literal(String(v))}::${t.sqlType(f.options)}`;
}

/** A live, managed table a link field points to, as a quoted relation; undefined when there is none. */
async function linkTargetRelation(c: Change, f: Pick<FieldRow, 'type' | 'options'>): Promise<string | undefined> {
  if (f.type !== 'link') return undefined;
  const { rows } = await c.tx.query<{ table_name: string }>(`SELECT table_name FROM tablewright.tables WHERE id = $1 AND trashed_at IS NULL`, [Number(f.options?.table_id)]);
  return rows[0] ? String(qualified(c.deps.config.dataSchema, rows[0].table_name)) : undefined;
}

/** Which managed table a catalog foreign key points to (its id column), for adoption as a link. */
async function linkTargets(c: Change): Promise<(refOid: number, refColumns: number[]) => number | undefined> {
  const { rows } = await c.tx.query<{ id: number; oid: number; attnum: number | null }>(
    /* sql */ `SELECT t.id, t.table_oid::int8 AS oid,
        (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = t.table_oid AND a.attname = 'id' AND NOT a.attisdropped)::int AS attnum
       FROM tablewright.tables t WHERE t.trashed_at IS NULL AND t.table_oid IS NOT NULL`,
  );
  const byOid = new Map(rows.map((r) => [Number(r.oid), r]));
  return (oid, cols) => {
    const t = byOid.get(oid);
    return t && cols.length === 1 && cols[0] === t.attnum ? t.id : undefined;
  };
}

async function audit(db: Change['tx'], actor: Actor, op: string, details: Record<string, unknown>, ddl: string[] = [], tableId: number | null = null): Promise<void> {
  await db.query(
    /* sql */ `INSERT INTO tablewright.audit (actor, operation, table_id, ddl, details) VALUES ($1, $2, $3, $4, $5)`,
    [actor.name, op, tableId, ddl.map((s) => `${s};`).join('\n'), details],
  );
}

function parseFieldOptions(type: FieldTypeName, options: Record<string, unknown>): unknown {
  return parseOptions(fieldType(type), options);
}

// ------------------------------------------------------------------ ignore

async function ignore(deps: ReconcileDeps, actor: Actor, item: DriftItem, note: unknown): Promise<Record<string, unknown>> {
  const text = typeof note === 'string' && note.trim() ? note.trim().slice(0, 500) : null;
  await withTransaction(deps.pool, async (tx) => {
    await tx.query(
      /* sql */ `INSERT INTO tablewright.drift_ignored (item_id, kind, ignored_by, note) VALUES ($1, $2, $3, $4)
        ON CONFLICT (item_id) DO UPDATE SET ignored_by = EXCLUDED.ignored_by, ignored_at = now(), note = EXCLUDED.note`,
      [item.id, item.kind, actor.name, text],
    );
    await audit(tx, actor, 'ignore_drift', { item: item.id, kind: item.kind, note: text }, [], item.table?.id ?? null);
    await tx.query('SELECT pg_notify($1, $2)', [DDL_CHANNEL, JSON.stringify({ event: 'drift_ignored', item: item.id })]);
  });
  return { ignored: item.id };
}

async function unignore(deps: ReconcileDeps, actor: Actor, item: DriftItem): Promise<Record<string, unknown>> {
  await withTransaction(deps.pool, async (tx) => {
    await tx.query(`DELETE FROM tablewright.drift_ignored WHERE item_id = $1`, [item.id]);
    await audit(tx, actor, 'unignore_drift', { item: item.id, kind: item.kind }, [], item.table?.id ?? null);
    await tx.query('SELECT pg_notify($1, $2)', [DDL_CHANNEL, JSON.stringify({ event: 'drift_unignored', item: item.id })]);
  });
  return { unignored: item.id };
}

// ------------------------------------------------------------------ missing / gone

/** Recreates a dropped table from metadata: its live fields as they are described, no rows. */
async function recreateTable(deps: ReconcileDeps, actor: Actor, tableId: number) {
  return schemaChange(deps, actor, 'recreate_table', tableId, async (c) => {
    await c.lockTable(TABLE_SET_LOCK);
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    if (table.trashed_at) throw conflict('trashed', `table "${table.name}" is in the trash`);
    if (await relationOf(c, table)) throw changedMeanwhile(`table "${table.name}"`);
    const schema = c.deps.config.dataSchema;
    // a relation with its name that says it is another table (its comment) is not ours to replace
    const { rows: named } = await c.tx.query(`SELECT to_regclass(format('%I.%I', $1::text, $2::text)) AS r`, [schema, table.table_name]);
    if (named[0]?.r) throw conflict('table_name_taken', `${schema}.${table.table_name} exists but its comment says it is another table; fix its comment, or forget this table`);
    c.reached('validate');
    const rel = qualified(schema, table.table_name);
    await c.ddl(
      `CREATE TABLE ${rel} (id bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME ${qualified(schema, `seq_t${tableId}`)}) CONSTRAINT ${ident(`pk_t${tableId}`)} PRIMARY KEY)`,
    );
    await c.ddl(`COMMENT ON TABLE ${rel} IS ${literal(tableComment(table))}`);
    const { rows: oidRows } = await c.tx.query<{ oid: number }>(`SELECT to_regclass(format('%I.%I', $1::text, $2::text))::oid::int8 AS oid`, [schema, table.table_name]);
    const oid = oidRows[0]!.oid;
    const { rows: fields } = await c.tx.query<FieldRow>(`SELECT ${FIELD_COLUMNS} FROM tablewright.fields WHERE table_id = $1 ORDER BY position, id FOR UPDATE`, [tableId]);
    fields.forEach(exactDefault);
    const skipped: string[] = [];
    for (const f of fields.filter((x) => !x.trashed_at)) {
      const out = await addColumnFor(c, table, rel.toString(), f);
      if (out) skipped.push(out);
    }
    // The columns of trashed fields went with the table: their metadata goes too.
    const gone = fields.filter((x) => x.trashed_at).map((x) => x.id);
    if (gone.length) await c.tx.query(`DELETE FROM tablewright.fields WHERE id = ANY($1::bigint[])`, [gone]);
    c.reached('ddl');
    await c.tx.query(`UPDATE tablewright.tables SET table_oid = $2 WHERE id = $1`, [tableId, oid]);
    await c.tx.query(
      /* sql */ `UPDATE tablewright.fields f SET attnum = a.attnum FROM pg_attribute a
        WHERE f.table_id = $1 AND f.trashed_at IS NULL AND a.attrelid = $2 AND a.attname = f.column_name AND NOT a.attisdropped`,
      [tableId, oid],
    );
    c.reached('metadata');
    return { result: { recreated: table.table_name, forgotten_trashed_fields: gone, warnings: skipped }, tableId, details: { table_name: table.table_name, forgotten_trashed_fields: gone } };
  });
}

/**
 * ADD COLUMN for a field as metadata describes it, with its constraints, index, foreign
 * key and comment. Returns a warning when something could not be restored as described.
 */
async function addColumnFor(c: Change, table: TableMeta, rel: string, f: FieldRow): Promise<string | undefined> {
  const col = ident(f.column_name);
  const type = f.pg_type ? safePgType(f.pg_type) : fieldType(f.type).sqlType(f.options);
  const dflt = f.pg_default === null ? defaultSql(f) : null;
  let warning: string | undefined;
  let notNull = f.not_null;
  if (notNull && !dflt) {
    const { rows } = await c.tx.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${rel}) AS any`);
    if (rows[0]!.any) {
      notNull = false;
      warning = `"${f.name}" was recreated as optional: the table has rows and the field has no default`;
      await c.tx.query(`UPDATE tablewright.fields SET not_null = false WHERE id = $1`, [f.id]);
    }
  }
  let def = `${col} ${type}`;
  if (dflt) def += ` DEFAULT ${dflt}`;
  if (notNull) def += ' NOT NULL';
  await c.ddl(`ALTER TABLE ${rel} ADD COLUMN ${def}`);
  if (f.is_unique) await c.ddl(`ALTER TABLE ${rel} ADD CONSTRAINT ${ident(`uq_f${f.id}`)} UNIQUE (${col})`);
  if (hasOwnIndex(f)) await c.ddl(`CREATE INDEX ${ident(`ix_f${f.id}`)} ON ${rel} (${col})`);
  const target = await linkTargetRelation(c, f);
  if (target) await c.ddl(`ALTER TABLE ${rel} ADD CONSTRAINT ${ident(`fk_f${f.id}`)} FOREIGN KEY (${col}) REFERENCES ${target} (id) ON DELETE SET NULL`);
  await c.ddl(`COMMENT ON COLUMN ${rel}.${col} IS ${literal(columnComment(f, table))}`);
  return warning;
}

/** pg_type came from format_type() when the column was adopted; check its shape before it goes into DDL. */
function safePgType(t: string): string {
  if (!/^[a-z][a-z0-9 _]*(\(\d+(,\d+)?\))?( with(out)? time zone)?(\[\])*$/.test(t)) throw conflict('unsupported_type', `cannot write the type "${t.slice(0, 60)}" back`);
  return t;
}

async function recreateColumn(deps: ReconcileDeps, actor: Actor, tableId: number, fieldId: number) {
  return schemaChange(deps, actor, 'recreate_field', tableId, async (c) => {
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    const f = await fieldRow(c, tableId, fieldId);
    if (f.trashed_at) throw conflict('trashed', `field "${f.name}" is in the trash`);
    const rel = await requireRelation(c, table);
    if (rel.columns.some((x) => x.name === f.column_name)) throw changedMeanwhile(`field "${f.name}"`);
    c.reached('validate');
    const warning = await addColumnFor(c, table, relName(rel).toString(), f);
    c.reached('ddl');
    await c.tx.query(
      /* sql */ `UPDATE tablewright.fields SET attnum = (SELECT attnum FROM pg_attribute WHERE attrelid = $2 AND attname = $3 AND NOT attisdropped), updated_at = now() WHERE id = $1`,
      [fieldId, rel.oid, f.column_name],
    );
    c.reached('metadata');
    return { result: { recreated: f.column_name, warnings: warning ? [warning] : [] }, tableId, fieldId, details: { column: f.column_name } };
  });
}

async function forgetTable(deps: ReconcileDeps, actor: Actor, tableId: number, why: 'missing' | 'trashed_gone') {
  return schemaChange(deps, actor, 'forget_table', tableId, async (c) => {
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    if ((why === 'trashed_gone') !== (table.trashed_at !== null)) throw changedMeanwhile(`table "${table.name}"`);
    if (await relationOf(c, table)) throw changedMeanwhile(`table "${table.name}"`);
    await assertNoLinksTo(c, tableId, table.name);
    c.reached('validate');
    c.reached('ddl');
    await queueTableRemoval(c, tableId);
    c.reached('metadata');
    return { result: { forgotten: { table_id: tableId, name: table.name } }, tableId, details: { name: table.name, table_name: table.table_name, why } };
  });
}

/** Live link fields of other tables that point at this table: it cannot go while they do. */
export async function assertNoLinksTo(c: Change, tableId: number, name: string): Promise<void> {
  const { rows } = await c.tx.query<{ field: string; table: string }>(
    /* sql */ `SELECT f.name AS field, t.name AS table FROM tablewright.fields f JOIN tablewright.tables t ON t.id = f.table_id
      WHERE f.type = 'link' AND f.trashed_at IS NULL AND (f.options->>'table_id')::bigint = $1 AND f.table_id <> $1 ORDER BY t.name, f.name LIMIT 5`,
    [tableId],
  );
  if (rows.length) {
    const list = rows.map((r) => `"${r.field}" of "${r.table}"`).join(', ');
    throw conflict('linked', `table "${name}" is linked from ${list}; change or trash those fields first`);
  }
}

/** Deletes the table's metadata row at COMMIT (see sql/migrations/004_reconcile.sql). */
export async function queueTableRemoval(c: Change, tableId: number): Promise<void> {
  await c.tx.query(`INSERT INTO tablewright.table_removals (table_id) VALUES ($1) ON CONFLICT DO NOTHING`, [tableId]);
}

async function forgetField(deps: ReconcileDeps, actor: Actor, tableId: number, fieldId: number, why: 'missing' | 'trashed_gone') {
  return schemaChange(deps, actor, 'forget_field', tableId, async (c) => {
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    const f = await fieldRow(c, tableId, fieldId);
    if ((why === 'trashed_gone') !== (f.trashed_at !== null)) throw changedMeanwhile(`field "${f.name}"`);
    const rel = await relationOf(c, table);
    const physical = f.trashed_at ? f.trash_name ?? f.column_name : f.column_name;
    if (rel && (rel.columns.some((x) => x.name === physical) || (await columnOfField(c, table, rel, fieldId)))) {
      throw changedMeanwhile(`field "${f.name}"`);
    }
    c.reached('validate');
    c.reached('ddl');
    await c.tx.query(`DELETE FROM tablewright.fields WHERE id = $1`, [fieldId]);
    c.reached('metadata');
    return { result: { forgotten: { field_id: fieldId, name: f.name } }, tableId, fieldId, details: { name: f.name, column: f.column_name, why } };
  });
}

/** A many-to-many link whose junction a DBA dropped: both sides are forgotten. */
async function forgetManyLink(deps: ReconcileDeps, actor: Actor, tableId: number, fieldId: number) {
  return schemaChange(deps, actor, 'forget_field', tableId, async (c) => {
    const f = await getField(c.tx, tableId, fieldId, { forUpdate: true });
    if (!isManyLink(f) || (await junctionExists(c.tx, c.deps.config.dataSchema, f))) throw changedMeanwhile(`field "${f.name}"`);
    c.reached('validate');
    c.reached('ddl');
    const { rows } = await c.tx.query<{ table_id: number }>(`DELETE FROM tablewright.fields WHERE id = ANY($1::int8[]) RETURNING table_id`, [[fieldId, f.options.reverse_field_id ?? 0]]);
    c.alsoTables.push(...rows.map((r) => r.table_id));
    c.reached('metadata');
    return { result: { forgotten: { field_id: fieldId, name: f.name } }, tableId, fieldId, details: { name: f.name, junction: f.options.junction, why: 'missing' } };
  });
}

// ------------------------------------------------------------------ renames

async function renamedTable(deps: ReconcileDeps, actor: Actor, tableId: number, action: ActionName) {
  return schemaChange(deps, actor, action === 'accept' ? 'accept_table_rename' : 'revert_table_rename', tableId, async (c) => {
    await c.lockTable(TABLE_SET_LOCK);
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    const rel = await requireRelation(c, table);
    const expected = table.trashed_at ? table.trash_name ?? table.table_name : table.table_name;
    if (rel.name === expected) throw changedMeanwhile(`table "${table.name}"`);
    c.reached('validate');
    if (action === 'accept') {
      if (!table.trashed_at && !usableName(rel.name)) throw unprocessable('invalid_identifier', `"${rel.name}" cannot be a managed table name; rename it back instead`, 'table_name');
      c.reached('ddl');
      if (table.trashed_at) await c.tx.query(`UPDATE tablewright.tables SET trash_name = $2 WHERE id = $1`, [tableId, rel.name]);
      else {
        const { rows } = await c.tx.query(`SELECT 1 FROM tablewright.tables WHERE trashed_at IS NULL AND table_name = $1 AND id <> $2`, [rel.name, tableId]);
        if (rows.length) throw conflict('table_name_taken', `another table's metadata uses the name "${rel.name}"`, 'table_name');
        await c.tx.query(`UPDATE tablewright.tables SET table_name = $2, table_oid = $3 WHERE id = $1`, [tableId, rel.name, rel.oid]);
      }
      c.reached('metadata');
      return { result: { table_name: rel.name }, tableId, details: { from: expected, to: rel.name, accepted: true } };
    }
    const { rows } = await c.tx.query(`SELECT to_regclass(format('%I.%I', $1::text, $2::text)) AS r`, [rel.schema, expected]);
    if (rows[0]?.r) throw conflict('table_name_taken', `${rel.schema} has a relation named "${expected}" now; accept the new name or rename that one first`, 'table_name');
    await c.ddl(`ALTER TABLE ${relName(rel)} RENAME TO ${identFromCatalog(expected)}`);
    c.reached('ddl');
    await c.tx.query(`UPDATE tablewright.tables SET table_oid = $2 WHERE id = $1`, [tableId, rel.oid]);
    c.reached('metadata');
    return { result: { table_name: expected }, tableId, details: { from: rel.name, to: expected, reverted: true } };
  });
}

async function renamedColumn(deps: ReconcileDeps, actor: Actor, tableId: number, fieldId: number, action: ActionName) {
  return schemaChange(deps, actor, action === 'accept' ? 'accept_column_rename' : 'revert_column_rename', tableId, async (c) => {
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    const f = await fieldRow(c, tableId, fieldId);
    const rel = await requireRelation(c, table);
    const col = await columnOfField(c, table, rel, fieldId);
    const expected = f.trashed_at ? f.trash_name ?? f.column_name : f.column_name;
    if (!col || col.name === expected) throw changedMeanwhile(`field "${f.name}"`);
    c.reached('validate');
    if (action === 'accept') {
      if (!f.trashed_at && (!usableName(col.name) || col.name === 'id')) throw unprocessable('invalid_identifier', `"${col.name}" cannot be a managed column name; rename it back instead`, 'column');
      if (!f.trashed_at) {
        const { rows } = await c.tx.query(`SELECT 1 FROM tablewright.fields WHERE table_id = $1 AND trashed_at IS NULL AND column_name = $2 AND id <> $3`, [tableId, col.name, fieldId]);
        if (rows.length) throw conflict('column_taken', `another field uses the column name "${col.name}"`, 'column');
      }
      c.reached('ddl');
      await c.tx.query(`UPDATE tablewright.fields SET ${f.trashed_at ? 'trash_name' : 'column_name'} = $2, updated_at = now() WHERE id = $1`, [fieldId, col.name]);
      c.reached('metadata');
      return { result: { column: col.name }, tableId, fieldId, details: { from: expected, to: col.name, accepted: true } };
    }
    if (rel.columns.some((x) => x.name === expected)) throw conflict('column_taken', `the table has a column named "${expected}" now; accept the new name instead`, 'column');
    await c.ddl(`ALTER TABLE ${relName(rel)} RENAME COLUMN ${identFromCatalog(col.name)} TO ${identFromCatalog(expected)}`);
    c.reached('ddl');
    c.reached('metadata');
    return { result: { column: expected }, tableId, fieldId, details: { from: col.name, to: expected, reverted: true } };
  });
}

// ------------------------------------------------------------------ types

async function liveFieldColumn(c: Change, tableId: number, fieldId: number) {
  const table = await getTable(c.tx, tableId, { forUpdate: true });
  if (table.trashed_at) throw conflict('trashed', `table "${table.name}" is in the trash`);
  const f = await fieldRow(c, tableId, fieldId);
  if (f.trashed_at) throw conflict('trashed', `field "${f.name}" is in the trash`);
  const rel = await requireRelation(c, table);
  const col = rel.columns.find((x) => x.name === f.column_name);
  if (!col) throw changedMeanwhile(`field "${f.name}"`);
  return { table, f, rel, col };
}

async function acceptType(deps: ReconcileDeps, actor: Actor, tableId: number, fieldId: number) {
  return schemaChange(deps, actor, 'accept_type', tableId, async (c) => {
    const { f, rel, col } = await liveFieldColumn(c, tableId, fieldId);
    if (expectedColumnType(f) === col.type) throw changedMeanwhile(`field "${f.name}"`);
    const m = mapColumn(col, rel, await linkTargets(c));
    const options = parseFieldOptions(m.type, m.options);
    const dflt = acceptedDefault({ type: m.type, options }, col.default_expr);
    c.reached('validate');
    c.reached('ddl');
    await c.tx.query(
      /* sql */ `UPDATE tablewright.fields SET type = $2, options = $3, read_only = $4, pg_type = $5, default_value = $6, pg_default = $7,
          indexed = indexed OR $2 = 'link', updated_at = now() WHERE id = $1`,
      [fieldId, m.type, options, m.read_only, m.pg_type, dflt.default_value === null ? null : stringifyExact(dflt.default_value), dflt.pg_default],
    );
    c.reached('metadata');
    return {
      result: { type: m.type, options, read_only: m.read_only, pg_type: m.pg_type, ...(m.reason ? { reason: m.reason } : {}) },
      tableId,
      fieldId,
      details: { from: expectedColumnType(f), to: col.type, type: m.type, read_only: m.read_only },
    };
  });
}

/**
 * Converts a column retyped outside the console back to the type metadata describes.
 * Values that do not convert are counted first (422 without confirm_loss) and, with it,
 * kept in a trashed copy of the column as it is now, exactly as a field's own type change
 * keeps them (schema/lost_values.ts): nothing is emptied without a copy.
 */
async function restoreType(deps: ReconcileDeps, actor: Actor, tableId: number, fieldId: number, confirmLoss: boolean) {
  return schemaChange(deps, actor, 'restore_type', tableId, async (c) => {
    const { table, f, rel, col } = await liveFieldColumn(c, tableId, fieldId);
    const target = f.pg_type ? safePgType(f.pg_type) : fieldType(f.type).sqlType(f.options);
    if (expectedColumnType(f) === col.type) throw changedMeanwhile(`field "${f.name}"`);
    const relation = relName(rel).toString();
    const q = identFromCatalog(col.name).toString();
    // Through text: every field type reads its own text form back and never raises (values
    // that do not fit become NULL); an adopted type is asked whether the text fits it.
    let converted: string;
    let loss: string;
    if (f.pg_type) {
      const fits = `tablewright.input_is_valid((${q})::text, ${literal(target)})`;
      converted = `CASE WHEN ${fits} THEN (${q})::text::${target} END`;
      loss = `${q} IS NOT NULL AND NOT ${fits}`;
    } else {
      const linkRel = await linkTargetRelation(c, f);
      converted = fieldType(f.type).fromText(`(${q})::text`, f.options, { linkTarget: () => linkRel ?? 'NULL' });
      loss = `${q} IS NOT NULL AND (${converted}) IS NULL`;
    }
    const { rows } = await c.tx.query<{ lost: number; ids: number[] | null }>(
      `SELECT count(*)::int AS lost, (array_agg(id ORDER BY id))[1:10] AS ids FROM ${relation} WHERE ${loss}`,
    );
    const { lost, ids } = rows[0]!;
    if (lost > 0 && !confirmLoss) {
      throw unprocessable(
        'lossy_conversion',
        `${lost} values of "${f.name}" would not convert back to ${target}; send confirm_loss=1 to convert anyway (the old values are kept in the trash)`,
        'confirm_loss',
        { lost, row_ids: ids ?? [] },
      );
    }
    if (lost > 0 && f.not_null) throw unprocessable('lossy_conversion', `${lost} values of "${f.name}" would not convert, and the field is required`, 'confirm_loss');
    await assertNoDependents(c.tx, relation, col.name, `converting "${f.name}" back to ${target}`);
    c.reached('validate');
    let kept: KeptValues | undefined;
    if (lost > 0) {
      const now = mapColumn(col, rel, await linkTargets(c));
      kept = await keepLostValues(
        c,
        { tableId, tableOid: rel.oid, relation },
        { ...f, column_name: col.name },
        {
          sqlType: col.type,
          shape: { type: now.type, options: parseFieldOptions(now.type, now.options), pg_type: now.pg_type, read_only: now.read_only },
          why: `as ${col.type} before restore to ${target}`,
          version: table.version + 1,
          lost,
        },
        loss,
      );
    }
    if (col.default_expr !== null) await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${q} DROP DEFAULT`);
    await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${q} TYPE ${target} USING ${converted}`);
    const dflt = f.pg_default === null ? defaultSql(f) : null;
    if (dflt) await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${q} SET DEFAULT ${dflt}`);
    c.reached('ddl');
    if (f.pg_default !== null && col.default_expr !== null) {
      await c.tx.query(`UPDATE tablewright.fields SET pg_default = NULL WHERE id = $1`, [fieldId]);
    }
    c.reached('metadata');
    return {
      result: { type: target, table: table.name, lost, ...(kept ? { kept_in_trash: kept } : {}) },
      tableId,
      fieldId,
      details: { from: col.type, to: target, lost, ...(kept ? { kept_in_trash: kept } : {}) },
    };
  });
}

// ------------------------------------------------------------------ constraints

async function acceptConstraints(deps: ReconcileDeps, actor: Actor, tableId: number, fieldId: number) {
  return schemaChange(deps, actor, 'accept_constraints', tableId, async (c) => {
    const { f, rel, col } = await liveFieldColumn(c, tableId, fieldId);
    const uq = uniqueOn(rel, col.attnum);
    const ix = indexOn(rel, col.attnum);
    const fk = foreignKeyOn(rel, col.attnum);
    if (f.type === 'link' && ((!ix && !uq) || !fk)) {
      throw conflict('link_needs_index', `a link field needs its index and its foreign key; restore them instead (or change the field's type first)`);
    }
    const dflt = acceptedDefault(f, col.default_expr);
    c.reached('validate');
    // Bring the names to our conventions (a catalog-only rename: no data is touched), so
    // that later changes through the console find them.
    const relation = relName(rel);
    if (uq && rel.constraints.some((x) => x.name === uq) && uq !== `uq_f${fieldId}`) await c.ddl(`ALTER TABLE ${relation} RENAME CONSTRAINT ${identFromCatalog(uq)} TO ${ident(`uq_f${fieldId}`)}`);
    if (ix && ix !== `ix_f${fieldId}`) await c.ddl(`ALTER INDEX ${qualified(rel.schema, ix)} RENAME TO ${ident(`ix_f${fieldId}`)}`);
    if (fk && fk.name !== `fk_f${fieldId}`) await c.ddl(`ALTER TABLE ${relation} RENAME CONSTRAINT ${identFromCatalog(fk.name)} TO ${ident(`fk_f${fieldId}`)}`);
    c.reached('ddl');
    await c.tx.query(
      /* sql */ `UPDATE tablewright.fields SET not_null = $2, is_unique = $3, indexed = $4, default_value = $5, pg_default = $6, updated_at = now() WHERE id = $1`,
      [fieldId, col.not_null, uq !== undefined, indexedNow(f, ix, uq), dflt.default_value === null ? null : stringifyExact(dflt.default_value), dflt.pg_default],
    );
    c.reached('metadata');
    const now = { not_null: col.not_null, unique: uq !== undefined, indexed: indexedNow(f, ix, uq), default: dflt.default_value ?? dflt.pg_default };
    return { result: now, tableId, fieldId, details: { accepted: now } };
  });
}

async function restoreConstraints(deps: ReconcileDeps, actor: Actor, tableId: number, fieldId: number) {
  return schemaChange(deps, actor, 'restore_constraints', tableId, async (c) => {
    const { f, rel, col } = await liveFieldColumn(c, tableId, fieldId);
    const relation = relName(rel);
    const q = identFromCatalog(col.name);
    const done: string[] = [];
    const warnings: string[] = [];
    c.reached('validate');
    if (f.not_null !== col.not_null) {
      if (f.not_null) {
        const { rows } = await c.tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${relation} WHERE ${q} IS NULL`);
        if (rows[0]!.n > 0) throw unprocessable('has_empty_values', `"${f.name}" cannot be required again: ${rows[0]!.n} rows have no value`, 'not_null', { count: rows[0]!.n });
        await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${q} SET NOT NULL`);
      } else await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${q} DROP NOT NULL`);
      done.push('not_null');
    }
    const uq = uniqueOn(rel, col.attnum);
    if (f.is_unique !== (uq !== undefined)) {
      if (f.is_unique) {
        const { rows } = await c.tx.query(`SELECT 1 FROM ${relation} WHERE ${q} IS NOT NULL GROUP BY ${q} HAVING count(*) > 1 LIMIT 1`);
        if (rows.length) throw unprocessable('has_duplicates', `"${f.name}" cannot be unique again: some values repeat`, 'unique');
        await c.ddl(`ALTER TABLE ${relation} ADD CONSTRAINT ${ident(`uq_f${fieldId}`)} UNIQUE (${q})`);
      } else if (rel.constraints.some((x) => x.name === uq)) await c.ddl(`ALTER TABLE ${relation} DROP CONSTRAINT ${identFromCatalog(uq!)}`);
      else await c.ddl(`DROP INDEX ${qualified(rel.schema, uq!)}`);
      done.push('unique');
    }
    // UNIQUE is as the metadata says now: its index serves an indexed field (hasOwnIndex)
    const ix = indexOn(rel, col.attnum);
    if (hasOwnIndex(f) && !ix) {
      await c.ddl(`CREATE INDEX ${ident(`ix_f${fieldId}`)} ON ${relation} (${q})`);
      done.push('indexed');
    } else if (!f.indexed && ix) {
      await c.ddl(`DROP INDEX ${qualified(rel.schema, ix)}`);
      done.push('indexed');
    }
    if (f.type === 'link') {
      const target = await linkTargetRelation(c, f);
      const fk = foreignKeyOn(rel, col.attnum);
      const { rows } = target ? await c.tx.query<{ oid: number }>(`SELECT $1::regclass::oid::int8 AS oid`, [target]) : { rows: [] as Array<{ oid: number }> };
      const targetOid = rows[0]?.oid;
      if (target && (!fk || fk.ref_oid !== targetOid)) {
        if (fk) await c.ddl(`ALTER TABLE ${relation} DROP CONSTRAINT ${identFromCatalog(fk.name)}`);
        // ON DELETE SET NULL is what the link promises: ids of rows that are gone become empty.
        const { rows: dangling } = await c.tx.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${relation} s WHERE s.${q} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${target} l WHERE l.id = s.${q})`,
        );
        if (dangling[0]!.n > 0) {
          await c.ddl(`UPDATE ${relation} s SET ${q} = NULL WHERE s.${q} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${target} l WHERE l.id = s.${q})`);
          warnings.push(`${dangling[0]!.n} links pointed at rows that no longer exist and were cleared`);
        }
        await c.ddl(`ALTER TABLE ${relation} ADD CONSTRAINT ${ident(`fk_f${fieldId}`)} FOREIGN KEY (${q}) REFERENCES ${target} (id) ON DELETE SET NULL`);
        done.push('foreign_key');
      }
    }
    const expectedDefault = f.pg_default ?? defaultSql(f);
    const same = defaultMatches(f, col.default_expr);
    if (!same) {
      await c.ddl(`ALTER TABLE ${relation} ALTER COLUMN ${q} ${expectedDefault ? `SET DEFAULT ${expectedDefault}` : 'DROP DEFAULT'}`);
      done.push('default');
    }
    c.reached('ddl');
    c.reached('metadata');
    return { result: { restored: done, warnings }, tableId, fieldId, details: { restored: done, warnings } };
  });
}

// ------------------------------------------------------------------ identity

async function refreshIdentity(deps: ReconcileDeps, actor: Actor, tableId: number) {
  return schemaChange(deps, actor, 'refresh_identity', tableId, async (c) => {
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    const rel = await requireRelation(c, table);
    c.reached('validate');
    c.reached('ddl');
    await c.tx.query(`UPDATE tablewright.tables SET table_oid = $2 WHERE id = $1`, [tableId, rel.oid]);
    const { rowCount } = await c.tx.query(
      /* sql */ `UPDATE tablewright.fields f SET attnum = a.attnum FROM pg_attribute a
        WHERE f.table_id = $1 AND a.attrelid = $2 AND NOT a.attisdropped AND a.attnum > 0
          AND a.attname = CASE WHEN f.trashed_at IS NULL THEN f.column_name ELSE coalesce(f.trash_name, f.column_name) END
          AND f.attnum IS DISTINCT FROM a.attnum`,
      [tableId, rel.oid],
    );
    c.reached('metadata');
    return { result: { table_oid: rel.oid, fields_updated: rowCount ?? 0 }, tableId, details: { from: table.table_oid, to: rel.oid, fields: rowCount ?? 0 } };
  });
}

// ------------------------------------------------------------------ row history

/**
 * Puts a table's row history triggers back (dropped or disabled by hand), even when the
 * item was ignored: the action says so. Rows changed meanwhile have no history.
 */
async function restoreHistory(deps: ReconcileDeps, actor: Actor, tableId: number, itemId: string) {
  return schemaChange(deps, actor, 'restore_history_triggers', tableId, async (c) => {
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    if (table.trashed_at) throw changedMeanwhile(`table "${table.name}"`);
    c.reached('validate');
    await c.tx.query(`DELETE FROM tablewright.drift_ignored WHERE item_id = $1`, [itemId]);
    const ddl = await syncHistoryTriggers(c.tx, c.deps.config.dataSchema, tableId, { evenIfIgnored: true });
    if (ddl === null) {
      // Only a table's owner may put triggers on it (sync_history_triggers skips the others).
      const own = table.table_oid === null ? undefined : await relationOwnership(c.tx, Number(table.table_oid));
      if (own && !own.mayAlter) {
        throw conflict('insufficient_privilege', notOwnerMessage(`${c.deps.config.dataSchema}.${table.table_name}`, own.owner, own.role, `"${table.name}"`), undefined, { owner: own.owner });
      }
      throw changedMeanwhile(`the history triggers of "${table.name}"`);
    }
    c.record(ddl);
    c.reached('ddl');
    c.reached('metadata');
    return { result: { restored: true }, tableId, details: { table: table.name } };
  });
}

// ------------------------------------------------------------------ the id key

/**
 * Makes a table's id an identity column again (its identity or default was dropped in
 * SQL), numbering after the largest id, as the table was made: GENERATED ALWAYS, its
 * sequence named seq_t<id> when that name is free. The table is locked while the largest
 * id is read, so no row can take that number meanwhile.
 */
async function restoreIdentity(deps: ReconcileDeps, actor: Actor, tableId: number) {
  return schemaChange(deps, actor, 'restore_id_identity', tableId, async (c) => {
    const table = await liveTableForChange(c, tableId);
    c.reached('validate');
    const schema = c.deps.config.dataSchema;
    const rel = qualified(schema, table.table_name);
    const { rows } = await c.tx.query<{ identity: string; has_default: boolean; seq_free: boolean }>(
      `SELECT a.attidentity AS identity, a.atthasdef AS has_default,
              NOT EXISTS (SELECT 1 FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace WHERE n.nspname = $2 AND s.relname = $3) AS seq_free
         FROM pg_attribute a WHERE a.attrelid = $1 AND a.attname = 'id' AND NOT a.attisdropped`,
      [table.table_oid, schema, `seq_t${tableId}`],
    );
    const col = rows[0];
    if (!col || col.identity !== '' || col.has_default) throw changedMeanwhile(`the id column of "${table.name}"`);
    const name = col.seq_free ? `SEQUENCE NAME ${qualified(schema, `seq_t${tableId}`)} ` : '';
    await c.ddl(`LOCK TABLE ${rel} IN SHARE ROW EXCLUSIVE MODE`);
    const { rows: again } = await c.tx.query<{ next: string }>(`SELECT (coalesce(max(id), 0) + 1)::text AS next FROM ${rel}`);
    await c.ddl(`ALTER TABLE ${rel} ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (${name}START WITH ${BigInt(again[0]!.next)})`);
    c.reached('ddl');
    c.reached('metadata');
    return { result: { restored: true, next_id: String(again[0]!.next) }, tableId, details: { table: table.name } };
  });
}

// ------------------------------------------------------------------ adoption

interface AdoptedField {
  name: string;
  column: string;
  attnum: number;
  mapping: TypeMapping;
  options: unknown;
  not_null: boolean;
  unique: string | undefined;
  index: string | undefined;
  fk: string | undefined;
  default_value: unknown;
  pg_default: string | null;
  comment: string | null;
}

function planField(col: CatalogColumn, rel: CatalogTable, targets: (oid: number, cols: number[]) => number | undefined, name: string): AdoptedField {
  const mapping = mappingFromComment(col, mapColumn(col, rel, targets));
  const options = parseFieldOptions(mapping.type, mapping.options);
  const dflt = col.identity ? { default_value: null, pg_default: null } : acceptedDefault({ type: mapping.type, options }, col.default_expr);
  return {
    name,
    column: col.name,
    attnum: col.attnum,
    mapping,
    options,
    not_null: col.not_null,
    unique: uniqueOn(rel, col.attnum),
    index: indexOn(rel, col.attnum),
    fk: mapping.type === 'link' ? foreignKeyOn(rel, col.attnum)?.name : undefined,
    default_value: dflt.default_value,
    pg_default: dflt.pg_default,
    comment: col.comment,
  };
}

/** Inserts the field row and brings its constraint names to our conventions (renames only). */
async function adoptField(c: Change, table: { id: number; name: string }, relation: string, schema: string, a: AdoptedField, position: number, tableReadOnly: boolean): Promise<number> {
  const { rows } = await c.tx.query<{ id: number }>(
    /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position, not_null, is_unique, indexed,
        default_value, attnum, read_only, pg_type, pg_default)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
    [
      table.id, a.name, a.column, a.mapping.type, a.options, position, a.not_null, a.unique !== undefined,
      a.index !== undefined || a.mapping.type === 'link', a.default_value === null ? null : stringifyExact(a.default_value),
      a.attnum, a.mapping.read_only || tableReadOnly, a.mapping.pg_type, a.pg_default,
    ],
  );
  const id = rows[0]!.id;
  const col = identFromCatalog(a.column);
  if (!tableReadOnly) {
    const { rows: cons } = await c.tx.query<{ conname: string }>(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2`, [relation, a.unique ?? '']);
    if (a.unique && cons.length) await c.ddl(`ALTER TABLE ${relation} RENAME CONSTRAINT ${identFromCatalog(a.unique)} TO ${ident(`uq_f${id}`)}`);
    if (a.index) await c.ddl(`ALTER INDEX ${qualified(schema, a.index)} RENAME TO ${ident(`ix_f${id}`)}`);
    if (a.fk) await c.ddl(`ALTER TABLE ${relation} RENAME CONSTRAINT ${identFromCatalog(a.fk)} TO ${ident(`fk_f${id}`)}`);
    // A link is always indexed (lookups of the rows linking to a row); an index build
    // reads the table but rewrites nothing.
    if (a.mapping.type === 'link' && !a.index && !a.unique) await c.ddl(`CREATE INDEX ${ident(`ix_f${id}`)} ON ${relation} (${col})`);
  }
  // A DBA's own comment is kept; ours (from a restored dump) gets the new ids.
  if (a.comment === null || parseColumnComment(a.comment)) {
    await c.ddl(`COMMENT ON COLUMN ${relation}.${col} IS ${literal(columnComment({ id, name: a.name, type: a.mapping.type, options: a.options }, table))}`);
  }
  return id;
}

function uniqueDisplayName(base: string, taken: Set<string>): string {
  let name = base.slice(0, 240);
  for (let i = 2; taken.has(name.toLowerCase()); i++) name = `${base.slice(0, 240)} ${i}`;
  taken.add(name.toLowerCase());
  return name;
}

/**
 * Adopts an untracked table of the data schema: metadata from the catalog. The table
 * itself is changed only where that is cheap and safe (renames of its constraints,
 * indexes and sequence to our id-based names, comments where it has none, an index for
 * a link), never rewritten. Without a single-column primary key `id` filled by
 * PostgreSQL (identity or a sequence default) the table is adopted read-only.
 */
async function adoptTable(deps: ReconcileDeps, actor: Actor, name: string, req: ActionRequest) {
  const requestedName = req.name !== undefined && req.name !== '' ? validateDisplayName(req.name) : undefined;
  return schemaChange(deps, actor, 'adopt_table', TABLE_SET_LOCK, async (c) => {
    const schema = c.deps.config.dataSchema;
    const { rows: found } = await c.tx.query<{ oid: number | null }>(`SELECT to_regclass(format('%I.%I', $1::text, $2::text))::oid::int8 AS oid`, [schema, name]);
    const oid = found[0]?.oid;
    if (oid == null) throw changedMeanwhile(`table ${schema}.${name}`);
    const { rows: tracked } = await c.tx.query(`SELECT 1 FROM tablewright.tables WHERE table_oid = $1 OR (trashed_at IS NULL AND table_name = $2)`, [oid, name]);
    if (tracked.length) throw changedMeanwhile(`table ${schema}.${name}`);
    const [rel] = await readCatalog(c.tx, [schema], [oid]);
    if (!rel) throw changedMeanwhile(`table ${schema}.${name}`);
    await requireOwnership(c, rel);
    let physical = rel.name;
    if (req.table_name !== undefined && req.table_name !== '' && req.table_name !== rel.name) {
      physical = await validatePhysicalName(c.tx, req.table_name, 'table_name', 'table');
      const { rows } = await c.tx.query(`SELECT to_regclass(format('%I.%I', $1::text, $2::text)) AS r`, [schema, physical]);
      if (rows[0]?.r) throw conflict('table_name_taken', `the schema already has a relation named "${physical}"`, 'table_name');
    } else if (!usableName(rel.name)) {
      throw unprocessable('invalid_identifier', `"${rel.name}" cannot be a managed table name (lowercase letters, digits and _); adopt it with a new table_name`, 'table_name');
    }
    const pk = idColumn(rel);
    const pkFilled = pk && ['int8', 'int4', 'int2'].includes(pk.type_name) && (pk.identity !== null || (pk.default_expr ?? '').startsWith('nextval('));
    const readOnlyReason = !rel.pk_columns?.length
      ? 'it has no primary key'
      : rel.pk_columns.length > 1
        ? 'its primary key has several columns'
        : !pk
          ? 'its primary key is not a column named id'
          : !pkFilled
            ? 'its id is not filled by PostgreSQL (no identity or sequence default)'
            : undefined;
    const readOnly = readOnlyReason !== undefined;
    const columns = rel.columns.filter((col) => col !== pk);
    if (columns.length > c.deps.config.maxFields) {
      throw unprocessable('too_many_fields', `${rel.name} has ${columns.length} columns; a table has at most ${c.deps.config.maxFields} fields (MAX_FIELDS)`);
    }
    const { rows: names } = await c.tx.query<{ n: string }>(`SELECT lower(name) AS n FROM tablewright.tables WHERE trashed_at IS NULL`);
    // A table we made once (a schema-only restore of the data schema) keeps its display name.
    const display = uniqueDisplayName(requestedName ?? parseTableComment(rel.comment)?.name ?? displayNameOf(physical), new Set(names.map((r) => r.n)));
    const targets = await linkTargets(c);
    const fieldNames = new Set<string>();
    const skipped: string[] = [];
    const plans: AdoptedField[] = [];
    for (const col of columns) {
      // Names we cannot quote through ident() stay untracked (drift items to rename and
      // adopt, or to ignore): every managed column name follows the identifier rule.
      if (!usableName(col.name) || col.name === 'id') {
        skipped.push(col.name);
        continue;
      }
      plans.push(planField(col, rel, targets, uniqueDisplayName(parseColumnComment(col.comment)?.name ?? displayNameOf(col.name), fieldNames)));
    }
    c.reached('validate');

    const { rows } = await c.tx.query<{ id: number }>(
      /* sql */ `INSERT INTO tablewright.tables (name, table_name, version, created_by, table_oid, read_only) VALUES ($1, $2, 0, $3, $4, $5) RETURNING id`,
      [display, physical, actor.name, oid, readOnly],
    );
    const id = rows[0]!.id;
    if (physical !== rel.name) await c.ddl(`ALTER TABLE ${qualified(schema, rel.name)} RENAME TO ${ident(physical)}`);
    const relation = qualified(schema, physical).toString();
    if (!readOnly && pk) {
      if (rel.pk_name && rel.pk_name !== `pk_t${id}`) await c.ddl(`ALTER TABLE ${relation} RENAME CONSTRAINT ${identFromCatalog(rel.pk_name)} TO ${ident(`pk_t${id}`)}`);
      const { rows: seq } = await c.tx.query<{ schema: string; name: string }>(
        /* sql */ `SELECT n.nspname AS schema, s.relname AS name FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
          WHERE s.oid = pg_get_serial_sequence($1, 'id')::regclass`,
        [relation],
      );
      if (seq[0] && seq[0].name !== `seq_t${id}` && seq[0].schema === schema) {
        await c.ddl(`ALTER SEQUENCE ${qualified(schema, seq[0].name)} RENAME TO ${ident(`seq_t${id}`)}`);
      }
    }
    if (rel.comment === null || parseTableComment(rel.comment)) await c.ddl(`COMMENT ON TABLE ${relation} IS ${literal(tableComment({ id, name: display }))}`);
    const fieldIds: number[] = [];
    for (const [i, p] of plans.entries()) fieldIds.push(await adoptField(c, { id, name: display }, relation, schema, p, i + 1, readOnly));
    c.reached('ddl');
    await c.tx.query(`DELETE FROM tablewright.drift_ignored WHERE item_id = $1`, [`untracked_table:${schema}:${encodeURIComponent(name)}`]);
    c.reached('metadata');
    const readOnlyFields = plans.filter((p) => p.mapping.read_only).map((p) => ({ column: p.column, type: p.mapping.pg_type, reason: p.mapping.reason }));
    return {
      result: { id, name: display, table_name: physical, read_only: readOnly, ...(readOnlyReason ? { read_only_reason: readOnlyReason } : {}), fields: fieldIds.length, read_only_fields: readOnlyFields, skipped_columns: skipped },
      tableId: id,
      details: { adopted: `${schema}.${rel.name}`, table_name: physical, read_only: readOnly, fields: fieldIds.length, skipped_columns: skipped },
    };
  });
}

async function adoptColumn(deps: ReconcileDeps, actor: Actor, tableId: number, column: string, req: ActionRequest) {
  return schemaChange(deps, actor, 'adopt_field', tableId, async (c) => {
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    if (table.trashed_at) throw conflict('trashed', `table "${table.name}" is in the trash`);
    const rel = await requireRelation(c, table);
    const col = rel.columns.find((x) => x.name === column);
    if (!col) throw changedMeanwhile(`column ${column}`);
    const { rows: known } = await c.tx.query(
      `SELECT 1 FROM tablewright.fields WHERE table_id = $1 AND (column_name = $2 OR trash_name = $2 OR (attnum = $3 AND $4))`,
      [tableId, column, col.attnum, rel.oid === Number(table.table_oid)],
    );
    if (known.length) throw changedMeanwhile(`column ${column}`);
    let physical = col.name;
    if (req.column !== undefined && req.column !== '' && req.column !== col.name) {
      physical = await validatePhysicalName(c.tx, req.column, 'column', 'column');
      if (rel.columns.some((x) => x.name === physical)) throw conflict('column_taken', `the table already has a column named "${physical}"`, 'column');
    } else if (!usableName(col.name) || col.name === 'id') {
      throw unprocessable('invalid_identifier', `"${col.name}" cannot be a managed column name; adopt it with a new column name`, 'column');
    }
    const { rows: counts } = await c.tx.query<{ live: number; next: number }>(
      `SELECT count(*) FILTER (WHERE trashed_at IS NULL)::int AS live, coalesce(max(position), 0) + 1 AS next FROM tablewright.fields WHERE table_id = $1`,
      [tableId],
    );
    if (counts[0]!.live >= c.deps.config.maxFields) throw unprocessable('too_many_fields', `a table has at most ${c.deps.config.maxFields} fields (MAX_FIELDS)`);
    const { rows: names } = await c.tx.query<{ n: string }>(`SELECT lower(name) AS n FROM tablewright.fields WHERE table_id = $1 AND trashed_at IS NULL`, [tableId]);
    const display =
      req.name !== undefined && req.name !== '' ? validateDisplayName(req.name) : uniqueDisplayName(displayNameOf(physical), new Set(names.map((r) => r.n)));
    if (names.some((r) => r.n === display.toLowerCase())) throw conflict('name_taken', `this table already has a field named "${display}"`, 'name');
    const plan = planField(col, rel, await linkTargets(c), display);
    c.reached('validate');
    const relation = relName(rel).toString();
    if (physical !== col.name) {
      await c.ddl(`ALTER TABLE ${relation} RENAME COLUMN ${identFromCatalog(col.name)} TO ${ident(physical)}`);
      plan.column = physical;
    }
    const id = await adoptField(c, table, relation, rel.schema, plan, counts[0]!.next, table.read_only);
    c.reached('ddl');
    await c.tx.query(`DELETE FROM tablewright.drift_ignored WHERE item_id = $1`, [`untracked_column:t${tableId}:${encodeURIComponent(column)}`]);
    c.reached('metadata');
    return {
      result: { field_id: id, name: display, column: physical, type: plan.mapping.type, read_only: plan.mapping.read_only || table.read_only, ...(plan.mapping.reason ? { reason: plan.mapping.reason } : {}) },
      tableId,
      fieldId: id,
      details: { adopted: column, column: physical, type: plan.mapping.type },
    };
  });
}

// ------------------------------------------------------------------ dropping untracked objects

function requireConfirm(confirm: unknown, expected: string): void {
  if (confirm !== expected) {
    throw new AppError(422, 'confirmation_required', `this drops ${expected} and its data for good; send confirm=${expected} to go ahead`, 'confirm', { confirm: expected });
  }
}

/** Drops an untracked table: only ever on a DBA's explicit request, naming it. */
async function purgeUntrackedTable(deps: ReconcileDeps, actor: Actor, schema: string, name: string, confirm: unknown) {
  requireConfirm(confirm, `${schema}.${name}`);
  const statements: string[] = [];
  await withTransaction(deps.pool, async (tx) => {
    await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [`${deps.config.lockTimeoutMs}ms`]);
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [SCHEMA_LOCK_NAMESPACE, TABLE_SET_LOCK]);
    const { rows } = await tx.query<{ oid: number | null }>(`SELECT to_regclass(format('%I.%I', $1::text, $2::text))::oid::int8 AS oid`, [schema, name]);
    const oid = rows[0]?.oid;
    if (oid == null) throw notFound(`table ${schema}.${name}`);
    const { rows: tracked } = await tx.query(
      `SELECT 1 FROM tablewright.tables WHERE table_oid = $1 OR (trashed_at IS NULL AND table_name = $2 AND $3) OR (trash_name = $2 AND $4)`,
      [oid, name, schema === deps.config.dataSchema, schema === deps.config.trashSchema],
    );
    if (tracked.length) throw conflict('tracked', `${schema}.${name} is described in the metadata now; it is not an orphan`);
    const own = await relationOwnership(tx, oid);
    if (own && !own.mayAlter) throw conflict('insufficient_privilege', notOwnerMessage(String(qualified(schema, name)), own.owner, own.role, name));
    const sql = `DROP TABLE ${qualified(schema, name)}`;
    statements.push(sql);
    await tx.query(sql);
    await audit(tx, actor, 'purge_untracked_table', { schema, table: name }, statements);
    await tx.query(`DELETE FROM tablewright.drift_ignored WHERE item_id = $1`, [`untracked_table:${schema}:${encodeURIComponent(name)}`]);
    await tx.query('SELECT pg_notify($1, $2)', [DDL_CHANNEL, JSON.stringify({ event: 'purge_untracked_table', schema, table: name })]);
  });
  deps.log.info({ schema, table: name, actor: actor.name }, 'untracked table dropped');
  return { purged: `${schema}.${name}` };
}

async function purgeUntrackedColumn(deps: ReconcileDeps, actor: Actor, tableId: number, column: string, confirm: unknown) {
  return schemaChange(deps, actor, 'purge_untracked_column', tableId, async (c) => {
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    const rel = await requireRelation(c, table);
    requireConfirm(confirm, `${rel.schema}.${rel.name}.${column}`);
    const col = rel.columns.find((x) => x.name === column);
    if (!col) throw notFound(`column ${column}`);
    const { rows } = await c.tx.query(`SELECT 1 FROM tablewright.fields WHERE table_id = $1 AND (column_name = $2 OR trash_name = $2)`, [tableId, column]);
    if (rows.length) throw conflict('tracked', `column ${column} is described in the metadata now; it is not an orphan`);
    c.reached('validate');
    await c.ddl(`ALTER TABLE ${relName(rel)} DROP COLUMN ${identFromCatalog(column)}`);
    c.reached('ddl');
    await c.tx.query(`DELETE FROM tablewright.drift_ignored WHERE item_id = $1`, [`untracked_column:t${tableId}:${encodeURIComponent(column)}`]);
    c.reached('metadata');
    return { result: { purged: `${rel.schema}.${rel.name}.${column}` }, tableId, details: { column } };
  });
}
