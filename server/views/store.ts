// Saved views: list, get, create, update, remove. Views are metadata: every change runs in
// the schema editor's transaction (schemaChange: the table's version + 1, an audit row,
// NOTIFY), so every instance and every open console hears of it at once.
//
// Shared views (owner NULL) are seen by everyone who may read the table and managed by
// editors and admins; a personal view is seen and managed by its owner alone (the actor:
// user:<email> or token:<name> (#id)). Another's personal view answers 404, as if absent.
import { allows, type Role } from '../auth/roles.js';
import type { Queryable } from '../db/pool.js';
import { AppError, conflict, notFound } from '../errors.js';
import { schemaChange, type EditorDeps } from '../schema/change.js';
import { getTable } from '../schema/metadata.js';
import { validateDisplayName } from '../schema/names.js';
import { flag } from '../schema/input.js';
import { parseExactJson, stringifyExact } from '../fields/exact_json.js';
import type { ViewSpec } from './spec.js';

export interface ViewRow {
  id: number;
  table_id: number;
  name: string;
  owner: string | null;
  is_default: boolean;
  spec: ViewSpec;
  created_at: Date;
  created_by: string | null;
  updated_at: Date;
  updated_by: string | null;
}

/** Who asks: the actor name (owner of personal views) and the role. */
export interface ViewCaller {
  actor: string;
  role: Role | undefined;
}

// spec as text, parsed without a double (exactSpec): a filter value of 9007199254740993
// stays that number (node-postgres would JSON.parse the jsonb and make it ...992).
const COLUMNS = /* sql */ `id, table_id, name, owner, is_default, spec::text AS spec, created_at, created_by, updated_at, updated_by`;

function exactSpec(row: ViewRow): ViewRow {
  if (typeof row.spec === 'string') row.spec = parseExactJson(row.spec) as ViewSpec;
  return row;
}

/** The table's shared views, then the caller's own, each by name. */
export async function listViews(db: Queryable, tableId: number, caller: ViewCaller): Promise<ViewRow[]> {
  const { rows } = await db.query<ViewRow>(
    /* sql */ `SELECT ${COLUMNS} FROM tablewright.views
      WHERE table_id = $1 AND (owner IS NULL OR owner = $2)
      ORDER BY owner IS NOT NULL, lower(name), id`,
    [tableId, caller.actor],
  );
  return rows.map(exactSpec);
}

export async function getView(db: Queryable, tableId: number, viewId: number, caller: ViewCaller, opts: { forUpdate?: boolean } = {}): Promise<ViewRow> {
  const { rows } = await db.query<ViewRow>(
    `SELECT ${COLUMNS} FROM tablewright.views WHERE table_id = $1 AND id = $2 AND (owner IS NULL OR owner = $3)${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [tableId, viewId, caller.actor],
  );
  if (!rows[0]) throw notFound(`view ${viewId} of table ${tableId}`);
  return exactSpec(rows[0]);
}

/** The view the console opens: the table's default shared view, if it has one. */
export async function defaultView(db: Queryable, tableId: number): Promise<ViewRow | undefined> {
  const { rows } = await db.query<ViewRow>(`SELECT ${COLUMNS} FROM tablewright.views WHERE table_id = $1 AND is_default`, [tableId]);
  return rows[0] && exactSpec(rows[0]);
}

function mayManage(caller: ViewCaller, shared: boolean): void {
  if (shared && !allows(caller.role, 'editor')) {
    throw new AppError(403, 'forbidden', 'shared views are managed by editors and admins; save it as a personal view (shared=false)', 'shared');
  }
}

export interface ViewInput {
  name?: unknown;
  shared?: unknown;
  default?: unknown;
}

async function assertNameFree(db: Queryable, tableId: number, owner: string | null, name: string, exceptId?: number): Promise<void> {
  const { rows } = await db.query(
    /* sql */ `SELECT 1 FROM tablewright.views
      WHERE table_id = $1 AND coalesce(owner, '') = coalesce($2, '') AND lower(name) = lower($3) AND id IS DISTINCT FROM $4`,
    [tableId, owner, name, exceptId ?? null],
  );
  if (rows.length) throw conflict('name_taken', `this table already has a ${owner ? 'personal' : 'shared'} view named "${name}"`, 'name');
}

async function liveTable(db: Queryable, tableId: number) {
  const table = await getTable(db, tableId, { forUpdate: true });
  if (table.trashed_at) throw conflict('trashed', `table "${table.name}" is in the trash; restore it first`);
  return table;
}

async function setDefault(db: Queryable, tableId: number, viewId: number, on: boolean): Promise<void> {
  // One default per table: the partial unique index holds it; the old one gives way first.
  if (on) await db.query(`UPDATE tablewright.views SET is_default = false WHERE table_id = $1 AND is_default AND id <> $2`, [tableId, viewId]);
  await db.query(`UPDATE tablewright.views SET is_default = $3 WHERE table_id = $1 AND id = $2`, [tableId, viewId, on]);
}

function defaultFlag(input: ViewInput, shared: boolean): boolean | undefined {
  const d = flag(input.default, 'default');
  if (d && !shared) throw new AppError(400, 'bad_request', 'only a shared view can be the default view', 'default');
  return d;
}

export async function createView(deps: EditorDeps, caller: ViewCaller, tableId: number, input: ViewInput, spec: ViewSpec): Promise<ViewRow> {
  const name = validateDisplayName(input.name);
  // Shared unless asked otherwise when the caller may share; a viewer's views are personal.
  const shared = flag(input.shared, 'shared') ?? allows(caller.role, 'editor');
  mayManage(caller, shared);
  const isDefault = defaultFlag(input, shared) ?? false;
  const owner = shared ? null : caller.actor;
  const { id } = await schemaChange(deps, { name: caller.actor }, 'create_view', tableId, async (c) => {
    await liveTable(c.tx, tableId);
    await assertNameFree(c.tx, tableId, owner, name);
    c.reached('validate');
    const { rows } = await c.tx.query<{ id: number }>(
      /* sql */ `INSERT INTO tablewright.views (table_id, name, owner, spec, created_by, updated_by) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`,
      [tableId, name, owner, stringifyExact(spec), caller.actor],
    );
    const viewId = rows[0]!.id;
    if (isDefault) await setDefault(c.tx, tableId, viewId, true);
    c.reached('metadata');
    return { result: { id: viewId }, tableId, details: { view_id: viewId, name, shared, spec } };
  });
  return getView(deps.pool, tableId, id, caller);
}

/** Changes what is sent; `spec` is the whole new spec (the caller merged it). */
export async function updateView(deps: EditorDeps, caller: ViewCaller, tableId: number, viewId: number, input: ViewInput, spec: (old: ViewSpec) => ViewSpec): Promise<ViewRow> {
  await schemaChange(deps, { name: caller.actor }, 'update_view', tableId, async (c) => {
    await liveTable(c.tx, tableId);
    const view = await getView(c.tx, tableId, viewId, caller, { forUpdate: true });
    mayManage(caller, view.owner === null);
    const name = input.name === undefined ? view.name : validateDisplayName(input.name);
    const shared = flag(input.shared, 'shared') ?? view.owner === null;
    mayManage(caller, shared);
    const owner = shared ? null : view.owner ?? caller.actor;
    const isDefault = defaultFlag(input, shared) ?? (view.is_default && shared);
    await assertNameFree(c.tx, tableId, owner, name, viewId);
    const next = spec(view.spec);
    c.reached('validate');
    await c.tx.query(
      /* sql */ `UPDATE tablewright.views SET name = $3, owner = $4, spec = $5, is_default = false, updated_at = now(), updated_by = $6 WHERE table_id = $1 AND id = $2`,
      [tableId, viewId, name, owner, stringifyExact(next), caller.actor],
    );
    if (isDefault) await setDefault(c.tx, tableId, viewId, true);
    c.reached('metadata');
    return { result: { id: viewId }, tableId, details: { view_id: viewId, from: { name: view.name, shared: view.owner === null, spec: view.spec }, to: { name, shared, spec: next } } };
  });
  return getView(deps.pool, tableId, viewId, caller);
}

export async function removeView(deps: EditorDeps, caller: ViewCaller, tableId: number, viewId: number): Promise<void> {
  await schemaChange(deps, { name: caller.actor }, 'delete_view', tableId, async (c) => {
    await liveTable(c.tx, tableId);
    const view = await getView(c.tx, tableId, viewId, caller, { forUpdate: true });
    mayManage(caller, view.owner === null);
    c.reached('validate');
    await c.tx.query(`DELETE FROM tablewright.views WHERE table_id = $1 AND id = $2`, [tableId, viewId]);
    c.reached('metadata');
    return { result: { id: viewId }, tableId, details: { view_id: viewId, name: view.name, shared: view.owner === null, spec: view.spec } };
  });
}
