// The trash: trashed tables and fields (kept until restored or purged), and untracked
// objects in the managed schemas (orphans), with their age, row count and size on disk.
// Purging one object is one schemaChange(): it re-checks, with the metadata row locked,
// that the object is still in the trash (and, for the cleanup job, still older than the
// retention), so an object restored meanwhile is never purged.
import { identFromCatalog, qualified } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import { AppError, conflict, notFound } from '../errors.js';
import { assertNoLinksTo, queueTableRemoval } from '../introspect/actions.js';
import { reconcile, type ReconcileDeps } from '../introspect/reconcile.js';
import { assertNoDependents } from '../schema/catalog.js';
import { schemaChange, type Actor, type Change } from '../schema/change.js';
import { getField, getTable, type TableMeta } from '../schema/metadata.js';
import { isManyLink, purgeManyLink } from '../schema/m2m.js';
import { assertNoFormulaUses } from '../schema/formula_fields.js';
import { formatDuration, humanAge, humanBytes } from './duration.js';
import { historyStats, rowTrashStats, type HistoryStats } from '../history/retention.js';

/** Above this many (estimated) rows, counts and column sizes come from statistics instead of a scan. */
export const EXACT_COUNT_LIMIT = 1_000_000;

export interface TrashEntry {
  kind: 'table' | 'field' | 'untracked_table' | 'untracked_column';
  /** table id (kind table) or field id (kind field) */
  id: number | null;
  table_id: number | null;
  name: string;
  /** the display name of the table a field belongs to */
  table: string | null;
  /** schema.table or schema.table.column: what a purge drops */
  physical: string;
  trashed_at: Date | null;
  trashed_by: string | null;
  reason: string | null;
  age: string | null;
  purge_at: Date | null;
  due: boolean;
  rows: number | null;
  rows_estimated: boolean;
  bytes: number | null;
  size: string;
  /** the column or table is still there (false: dropped by hand; purge only forgets it) */
  exists: boolean;
  /** untracked objects: the drift item that adopts, ignores or drops it */
  drift_item?: string;
  /** untracked objects: the actions the drift item offers (adopt, ignore, purge...) */
  actions?: string[];
  ignored?: boolean;
}

export interface TrashListing {
  retention: string;
  retention_ms: number | null;
  /** objects trashed before this are due for purging */
  cutoff: Date | null;
  tables: TrashEntry[];
  fields: TrashEntry[];
  orphans: TrashEntry[];
  totals: { objects: number; bytes: number; due: number };
  /** deleted rows per table (TRASH_RETENTION applies to them too) */
  rows: RowTrashEntry[];
  /** the row history of every table (ROW_HISTORY_RETENTION) */
  history: HistoryStats & { retention: string; cutoff: Date | null; size: string };
}

export interface RowTrashEntry {
  table_id: number;
  /** the table's display name (null: its table is gone; the next cleanup drops these) */
  table: string | null;
  rows: number;
  /** counted from a 1% sample (a very large row trash) */
  rows_estimated: boolean;
  bytes: number;
  size: string;
  oldest: Date;
  /** when the oldest deleted row is purged */
  purge_at: Date | null;
}

export interface TrashDeps extends ReconcileDeps {
  config: ReconcileDeps['config'] & { trashRetentionMs: number | null; rowHistoryRetentionMs?: number | null };
}

export function cutoffOf(retentionMs: number | null, now = new Date()): Date | null {
  return retentionMs === null ? null : new Date(now.getTime() - retentionMs);
}

interface Located {
  oid: number;
  schema: string;
  name: string;
  est_rows: number;
}

/** Where a metadata table is now (by oid, else by its expected name); undefined when gone. */
async function locate(db: Queryable, t: Pick<TableMeta, 'table_oid' | 'trashed_at' | 'trash_name' | 'table_name'>, schemas: { data: string; trash: string }): Promise<Located | undefined> {
  const schema = t.trashed_at ? schemas.trash : schemas.data;
  const name = t.trashed_at ? t.trash_name ?? t.table_name : t.table_name;
  const { rows } = await db.query<Located>(
    /* sql */ `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, greatest(c.reltuples, 0)::float8 AS est_rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($3::text[]) AND c.relkind IN ('r', 'p') AND (c.oid = $1::oid OR (n.nspname = $2 AND c.relname = $4))
      ORDER BY c.oid = $1::oid DESC LIMIT 1`,
    [t.table_oid ?? 0, schema, [schemas.data, schemas.trash], name],
  );
  return rows[0];
}

async function tableStats(db: Queryable, rel: Located): Promise<{ rows: number; estimated: boolean; bytes: number }> {
  const { rows: size } = await db.query<{ bytes: number }>(`SELECT pg_total_relation_size($1::oid)::int8 AS bytes`, [rel.oid]);
  if (rel.est_rows > EXACT_COUNT_LIMIT) return { rows: Math.round(rel.est_rows), estimated: true, bytes: size[0]!.bytes };
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM ${qualified(rel.schema, rel.name)}`);
  return { rows: rows[0]!.n, estimated: false, bytes: size[0]!.bytes };
}

/** Non-empty values and their bytes, per column of one table (one scan for all of them). */
async function columnStats(db: Queryable, rel: Located, columns: string[]): Promise<Map<string, { rows: number | null; bytes: number | null; estimated: boolean }>> {
  const out = new Map<string, { rows: number | null; bytes: number | null; estimated: boolean }>();
  if (!columns.length) return out;
  if (rel.est_rows > EXACT_COUNT_LIMIT) {
    const { rows } = await db.query<{ attname: string; rows: number; bytes: number }>(
      /* sql */ `SELECT attname, round($3::float8 * (1 - null_frac))::int8 AS rows, round($3::float8 * (1 - null_frac) * avg_width)::int8 AS bytes
         FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = ANY($4::text[])`,
      [rel.schema, rel.name, rel.est_rows, columns],
    );
    for (const c of columns) {
      const s = rows.find((r) => r.attname === c);
      out.set(c, { rows: s?.rows ?? null, bytes: s?.bytes ?? null, estimated: true });
    }
    return out;
  }
  const select = columns.map((c, i) => `count(${identFromCatalog(c)})::int8 AS n${i}, coalesce(sum(pg_column_size(${identFromCatalog(c)})), 0)::int8 AS b${i}`).join(', ');
  const { rows } = await db.query<Record<string, number>>(`SELECT ${select} FROM ${qualified(rel.schema, rel.name)}`);
  columns.forEach((c, i) => out.set(c, { rows: rows[0]![`n${i}`]!, bytes: rows[0]![`b${i}`]!, estimated: false }));
  return out;
}

function entry(partial: Omit<TrashEntry, 'age' | 'purge_at' | 'due' | 'size'>, retentionMs: number | null, now: Date): TrashEntry {
  const purgeAt = partial.trashed_at && retentionMs !== null ? new Date(partial.trashed_at.getTime() + retentionMs) : null;
  return {
    ...partial,
    age: partial.trashed_at ? humanAge(now.getTime() - partial.trashed_at.getTime()) : null,
    purge_at: purgeAt,
    due: purgeAt !== null && purgeAt.getTime() <= now.getTime(),
    size: partial.exists ? humanBytes(partial.bytes) : 'gone',
  };
}

/** Everything in the trash, and the orphans, measured. One read-only transaction. */
export async function listTrash(deps: TrashDeps, opts: { orphans?: boolean } = {}): Promise<TrashListing> {
  const now = new Date();
  const retentionMs = deps.config.trashRetentionMs;
  const schemas = { data: deps.config.dataSchema, trash: deps.config.trashSchema };
  const report = opts.orphans === false ? undefined : await reconcile(deps);
  const client = await deps.pool.connect();
  const tables: TrashEntry[] = [];
  const fields: TrashEntry[] = [];
  const orphans: TrashEntry[] = [];
  let rowTrash: RowTrashEntry[] = [];
  let history: HistoryStats;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows: metaTables } = await client.query<TableMeta>(
      `SELECT id, name, table_name, version, table_oid::int8 AS table_oid, read_only, created_at, created_by, updated_at, trashed_at, trashed_by, trash_name FROM tablewright.tables ORDER BY id`,
    );
    const byId = new Map(metaTables.map((t) => [t.id, t]));
    for (const t of metaTables.filter((x) => x.trashed_at)) {
      const rel = await locate(client, t, schemas);
      const stats = rel ? await tableStats(client, rel) : undefined;
      tables.push(
        entry(
          {
            kind: 'table', id: t.id, table_id: t.id, name: t.name, table: null,
            physical: `${schemas.trash}.${t.trash_name ?? t.table_name}`,
            trashed_at: t.trashed_at, trashed_by: t.trashed_by, reason: null,
            rows: stats?.rows ?? null, rows_estimated: stats?.estimated ?? false, bytes: stats?.bytes ?? null, exists: rel !== undefined,
          },
          retentionMs,
          now,
        ),
      );
    }
    const { rows: trashedFields } = await client.query<{ id: number; table_id: number; name: string; column_name: string; trash_name: string | null; trashed_at: Date; trashed_by: string | null; trash_reason: string | null }>(
      `SELECT id, table_id, name, column_name, trash_name, trashed_at, trashed_by, trash_reason FROM tablewright.fields WHERE trashed_at IS NOT NULL ORDER BY table_id, trashed_at, id`,
    );
    const perTable = new Map<number, typeof trashedFields>();
    for (const f of trashedFields) perTable.set(f.table_id, [...(perTable.get(f.table_id) ?? []), f]);
    for (const [tableId, list] of perTable) {
      const t = byId.get(tableId)!;
      const rel = await locate(client, t, schemas);
      const present = rel ? list.filter((f) => f.trash_name !== null).map((f) => f.trash_name!) : [];
      const relCols = rel ? new Set((await client.query<{ attname: string }>(`SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`, [rel.oid])).rows.map((r) => r.attname)) : new Set<string>();
      const stats = rel ? await columnStats(client, rel, present.filter((c) => relCols.has(c))) : new Map();
      for (const f of list) {
        const s = f.trash_name ? stats.get(f.trash_name) : undefined;
        fields.push(
          entry(
            {
              kind: 'field', id: f.id, table_id: tableId, name: f.name, table: t.name,
              physical: `${rel?.schema ?? (t.trashed_at ? schemas.trash : schemas.data)}.${rel?.name ?? t.table_name}.${f.trash_name ?? f.column_name}`,
              trashed_at: f.trashed_at, trashed_by: f.trashed_by, reason: f.trash_reason,
              rows: s?.rows ?? null, rows_estimated: s?.estimated ?? false, bytes: s?.bytes ?? null, exists: s !== undefined,
            },
            retentionMs,
            now,
          ),
        );
      }
    }
    if (report) {
      for (const item of [...report.items, ...report.ignored]) {
        if (item.kind === 'untracked_table') {
          const rel = await locate(client, { table_oid: item.table!.oid ?? null, trashed_at: null, trash_name: null, table_name: item.table!.table_name }, { data: item.table!.schema, trash: item.table!.schema });
          const stats = rel ? await tableStats(client, rel) : undefined;
          orphans.push(
            entry(
              {
                kind: 'untracked_table', id: null, table_id: null, name: item.table!.table_name, table: null,
                physical: `${item.table!.schema}.${item.table!.table_name}`, trashed_at: null, trashed_by: null, reason: item.message,
                rows: stats?.rows ?? null, rows_estimated: stats?.estimated ?? false, bytes: stats?.bytes ?? null, exists: rel !== undefined,
                drift_item: item.id, actions: item.actions.map((a) => a.name), ignored: item.ignored !== undefined,
              },
              retentionMs,
              now,
            ),
          );
        } else if (item.kind === 'untracked_column') {
          const t = byId.get(item.table!.id!);
          const rel = t ? await locate(client, t, schemas) : undefined;
          const s = rel ? (await columnStats(client, rel, [item.column!.name])).get(item.column!.name) : undefined;
          orphans.push(
            entry(
              {
                kind: 'untracked_column', id: null, table_id: item.table!.id ?? null, name: item.column!.name, table: item.table!.name ?? null,
                physical: `${rel?.schema ?? schemas.data}.${rel?.name ?? item.table!.table_name}.${item.column!.name}`, trashed_at: null, trashed_by: null, reason: item.message,
                rows: s?.rows ?? null, rows_estimated: s?.estimated ?? false, bytes: s?.bytes ?? null, exists: s !== undefined,
                drift_item: item.id, actions: item.actions.map((a) => a.name), ignored: item.ignored !== undefined,
              },
              retentionMs,
              now,
            ),
          );
        }
      }
    }
    rowTrash = (await rowTrashStats(client)).map((r) => ({
      table_id: Number(r.table_id),
      table: byId.get(Number(r.table_id))?.name ?? null,
      rows: Number(r.rows),
      rows_estimated: r.estimated,
      bytes: Number(r.bytes),
      size: humanBytes(Number(r.bytes)),
      oldest: r.oldest,
      purge_at: retentionMs === null ? null : new Date(new Date(r.oldest).getTime() + retentionMs),
    }));
    history = await historyStats(client);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  const all = [...tables, ...fields, ...orphans];
  const historyRetention = deps.config.rowHistoryRetentionMs ?? null;
  return {
    retention: formatDuration(retentionMs),
    retention_ms: retentionMs,
    cutoff: cutoffOf(retentionMs, now),
    tables,
    fields,
    orphans,
    totals: { objects: all.length, bytes: all.reduce((n, e) => n + (e.bytes ?? 0), 0), due: all.filter((e) => e.due).length },
    rows: rowTrash,
    history: { ...history, retention: formatDuration(historyRetention), cutoff: cutoffOf(historyRetention, now), size: humanBytes(history.bytes) },
  };
}

// ------------------------------------------------------------------ purge

export interface PurgeOptions {
  /** the cleanup job: purge only when trashed before this (re-checked under the row lock) */
  cutoff?: Date;
  /** a person's purge: the physical name of what is dropped, typed back; undefined skips the check (cleanup job) */
  confirm?: unknown;
  /** the cleanup job passes false: no confirmation is asked */
  requireConfirm?: boolean;
}

function checkConfirm(opts: PurgeOptions, physical: string): void {
  if (opts.requireConfirm === false) return;
  if (opts.confirm !== physical) {
    throw new AppError(422, 'confirmation_required', `this drops ${physical} and its data for good; send confirm=${physical} to go ahead`, 'confirm', { confirm: physical });
  }
}

function checkStillTrashed(what: string, trashedAt: Date | null, cutoff: Date | undefined): void {
  if (!trashedAt) throw conflict('not_trashed', `${what} is not in the trash (restored meanwhile?)`);
  if (cutoff && trashedAt.getTime() > cutoff.getTime()) throw conflict('not_due', `${what} was trashed after the retention cutoff (trashed again meanwhile?)`);
}

async function tableIdOfField(db: Queryable, fieldId: number): Promise<number> {
  const { rows } = await db.query<{ table_id: number }>(`SELECT table_id FROM tablewright.fields WHERE id = $1`, [fieldId]);
  if (!rows[0]) throw notFound(`field ${fieldId}`);
  return rows[0].table_id;
}

/** What purging a field drops: schema.table.column. */
export async function fieldPhysical(deps: TrashDeps, fieldId: number): Promise<string> {
  return (await describeField(deps.pool, deps, fieldId)).physical;
}

export async function describeField(db: Queryable, deps: TrashDeps, fieldId: number) {
  const tableId = await tableIdOfField(db, fieldId);
  const table = await getTable(db, tableId);
  const { rows } = await db.query<{ name: string; column_name: string; trash_name: string | null; trashed_at: Date | null }>(
    `SELECT name, column_name, trash_name, trashed_at FROM tablewright.fields WHERE id = $1`,
    [fieldId],
  );
  const f = rows[0]!;
  const full = await getField(db, tableId, fieldId);
  if (isManyLink(full)) return { table, field: f, rel: undefined, physical: `${deps.config.dataSchema}.${full.options.junction}` };
  const rel = await locate(db, table, { data: deps.config.dataSchema, trash: deps.config.trashSchema });
  const schema = rel?.schema ?? (table.trashed_at ? deps.config.trashSchema : deps.config.dataSchema);
  return { table, field: f, rel, physical: `${schema}.${rel?.name ?? table.table_name}.${f.trash_name ?? f.column_name}` };
}

export async function purgeField(deps: TrashDeps, actor: Actor, fieldId: number, opts: PurgeOptions = {}) {
  const tableId = await tableIdOfField(deps.pool, fieldId);
  return schemaChange(deps, actor, 'purge_field', tableId, async (c: Change) => {
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    const { rows } = await c.tx.query<{ name: string; column_name: string; trash_name: string | null; trashed_at: Date | null; trashed_by: string | null; trash_reason: string | null }>(
      `SELECT name, column_name, trash_name, trashed_at, trashed_by, trash_reason FROM tablewright.fields WHERE id = $1 AND table_id = $2 FOR UPDATE`,
      [fieldId, tableId],
    );
    const f = rows[0];
    if (!f) throw notFound(`field ${fieldId}`);
    checkStillTrashed(`field "${f.name}"`, f.trashed_at, opts.cutoff);
    const full = await getField(c.tx, tableId, fieldId);
    if (isManyLink(full)) {
      const physical = `${c.deps.config.dataSchema}.${full.options.junction}`;
      checkConfirm(opts, physical);
      c.reached('validate');
      const out = await purgeManyLink(c, full);
      if (out.otherTable !== undefined) c.alsoTables.push(out.otherTable);
      c.reached('ddl');
      await c.tx.query(`DELETE FROM tablewright.fields WHERE id = $1`, [fieldId]);
      c.reached('metadata');
      const details = { name: f.name, column: f.column_name, dropped: physical, trashed_at: f.trashed_at, trashed_by: f.trashed_by, reason: f.trash_reason, ...(opts.cutoff ? { policy: true } : {}) };
      return { result: { purged: physical, existed: true }, tableId, fieldId, details };
    }
    await assertNoFormulaUses(c.tx, tableId, fieldId, f.name);
    const rel = await locate(c.tx, table, { data: c.deps.config.dataSchema, trash: c.deps.config.trashSchema });
    const column = f.trash_name ?? f.column_name;
    const physical = `${rel?.schema ?? c.deps.config.dataSchema}.${rel?.name ?? table.table_name}.${column}`;
    checkConfirm(opts, physical);
    const exists = rel
      ? (await c.tx.query(`SELECT 1 FROM pg_attribute WHERE attrelid = $1 AND attname = $2 AND NOT attisdropped AND attnum > 0`, [rel.oid, column])).rows.length > 0
      : false;
    c.reached('validate');
    // DROP COLUMN only marks the column dropped (no rewrite): quick, under a brief
    // ACCESS EXCLUSIVE lock that lock_timeout bounds. Its constraints and index go with it.
    if (exists) {
      await assertNoDependents(c.tx, String(qualified(rel!.schema, rel!.name)), column, `purging field "${f.name}"`);
      await c.ddl(`ALTER TABLE ${qualified(rel!.schema, rel!.name)} DROP COLUMN ${identFromCatalog(column)}`);
    }
    c.reached('ddl');
    // An index over several fields with this member went with the column (PostgreSQL drops
    // an index when one of its columns goes): its row goes in the same commit.
    const { rows: gone } = await c.tx.query<{ name: string }>(`DELETE FROM tablewright.table_indexes WHERE table_id = $1 AND $2 = ANY(field_ids) RETURNING name`, [tableId, fieldId]);
    await c.tx.query(`DELETE FROM tablewright.fields WHERE id = $1`, [fieldId]);
    c.reached('metadata');
    const details = { name: f.name, column: f.column_name, dropped: exists ? physical : null, ...(gone.length ? { indexes_dropped: gone.map((g) => g.name) } : {}), trashed_at: f.trashed_at, trashed_by: f.trashed_by, reason: f.trash_reason, ...(opts.cutoff ? { policy: true } : {}) };
    return { result: { purged: physical, existed: exists }, tableId, fieldId, details };
  });
}

export async function purgeTable(deps: TrashDeps, actor: Actor, tableId: number, opts: PurgeOptions = {}) {
  await getTable(deps.pool, tableId);
  return schemaChange(deps, actor, 'purge_table', tableId, async (c: Change) => {
    const table = await getTable(c.tx, tableId, { forUpdate: true });
    checkStillTrashed(`table "${table.name}"`, table.trashed_at, opts.cutoff);
    const rel = await locate(c.tx, table, { data: c.deps.config.dataSchema, trash: c.deps.config.trashSchema });
    const physical = `${rel?.schema ?? c.deps.config.trashSchema}.${rel?.name ?? table.trash_name ?? table.table_name}`;
    checkConfirm(opts, physical);
    if (rel && rel.schema !== c.deps.config.trashSchema) throw conflict('drift_changed', `table "${table.name}" is not in the trash schema; reconcile first`);
    await assertNoLinksTo(c, tableId, table.name);
    c.reached('validate');
    // its many-to-many links (both sides in the trash by now): their junctions go first
    const { rows: many } = await c.tx.query<{ id: number; table_id: number; junction: string; reverse: number | null }>(
      /* sql */ `SELECT id, table_id, options->>'junction' AS junction, (options->>'reverse_field_id')::int8 AS reverse FROM tablewright.fields
        WHERE type = 'link' AND (options->>'multiple')::boolean AND (table_id = $1 OR (options->>'table_id')::int8 = $1)`,
      [tableId],
    );
    for (const m of many) {
      await c.ddl(`DROP TABLE IF EXISTS ${qualified(c.deps.config.dataSchema, m.junction)}`);
      await c.tx.query(`DELETE FROM tablewright.fields WHERE id = $1 AND table_id <> $2`, [m.id, tableId]);
      if (m.table_id !== tableId) c.alsoTables.push(m.table_id);
    }
    if (rel) await assertNoDependents(c.tx, String(qualified(rel.schema, rel.name)), null, `purging table "${table.name}"`);
    if (rel) {
      try {
        await c.ddl(`DROP TABLE ${qualified(rel.schema, rel.name)}`);
      } catch (err) {
        if ((err as { code?: string }).code === '2BP01') {
          throw conflict('dependent_objects', `table "${table.name}" cannot be dropped: ${(err as { detail?: string }).detail ?? 'other objects depend on it'}`);
        }
        throw err;
      }
    }
    c.reached('ddl');
    await queueTableRemoval(c, tableId);
    c.reached('metadata');
    return {
      result: { purged: physical, existed: rel !== undefined },
      tableId,
      details: { name: table.name, table_name: table.table_name, dropped: rel ? physical : null, trashed_at: table.trashed_at, trashed_by: table.trashed_by, ...(opts.cutoff ? { policy: true } : {}) },
    };
  });
}

/** What a person confirms before purging a table: the qualified name of what is dropped. */
export async function tablePhysical(deps: TrashDeps, tableId: number): Promise<string> {
  const table = await getTable(deps.pool, tableId);
  const rel = await locate(deps.pool, table, { data: deps.config.dataSchema, trash: deps.config.trashSchema });
  return `${rel?.schema ?? deps.config.trashSchema}.${rel?.name ?? table.trash_name ?? table.table_name}`;
}
