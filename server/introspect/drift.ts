// Drift: where the metadata and the catalog disagree. compareSnapshot() is pure (no
// queries): it matches metadata tables to catalog tables by oid first, then by name, and
// fields to columns by attnum first (only within a table matched by oid: attnums mean
// nothing across a dump and restore), then by name. Every difference becomes an item
// with a stable id, a kind, the objects involved and the actions that resolve it.
import { performance } from 'node:perf_hooks';
import { IDENTIFIER_RE } from '../db/ident.js';
import { fieldType } from '../fields/registry.js';
import type { TableMeta } from '../schema/metadata.js';
import { parseExactJson, RawJson, stringifyExact } from '../fields/exact_json.js';
import { TRASH_PREFIX } from '../schema/names.js';
import { matchColumns, matchTables, wasRestored } from './identity.js';
import { type CatalogColumn, type CatalogTable, type Snapshot, type SnapshotField } from './snapshot.js';
import { expectedColumnType } from './types.js';
import { historyItemId } from '../history/triggers.js';
import { hasNoColumn, isManyLink } from '../schema/m2m.js';
import { missingInputs } from '../schema/formula_fields.js';
import { junctionMessage, junctionShape } from './junction_shape.js';

export const DRIFT_KINDS = [
  'missing_table',
  'missing_column',
  'untracked_table',
  'untracked_column',
  'renamed_table',
  'renamed_column',
  'retyped_column',
  'constraint_changed',
  'trashed_gone',
  'column_limit',
  'identity_changed',
  'database_restored',
  'history_off',
  'missing_junction',
  'broken_computed',
  'broken_formula',
  'untracked_index',
  'id_not_generated',
] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

export const ACTION_NAMES = ['recreate', 'forget', 'adopt', 'adopt_link', 'ignore', 'unignore', 'purge', 'accept', 'revert', 'restore', 'rebuild', 'reidentify'] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

export interface DriftAction {
  name: ActionName;
  label: string;
  /** drops or loses data: the console asks first, the API wants `confirm` naming the object */
  destructive?: boolean;
  /** optional or required inputs, e.g. table_name for adopting a table whose name we cannot use */
  params?: string[];
}

export interface DriftItem {
  id: string;
  kind: DriftKind;
  message: string;
  table?: { id?: number; name?: string; schema: string; table_name: string; oid?: number | null };
  field?: { id: number; name: string; column: string; trashed: boolean };
  column?: { name: string; attnum: number; type: string };
  expected?: Record<string, unknown>;
  actual?: Record<string, unknown>;
  actions: DriftAction[];
  ignored?: { at: Date; by: string };
}

export interface DriftReport {
  clean: boolean;
  checked_at: Date;
  /** drift items by kind (ignored ones not counted) */
  counts: Partial<Record<DriftKind, number>>;
  items: DriftItem[];
  ignored: DriftItem[];
  /** the catalog's size, and how many metadata tables were compared field by field (the others passed the first pass) */
  catalog: { tables: number; columns: number; compared: number };
  ms: { snapshot: number; compare: number };
  /** online schema changes in flight (reconcile.ts): their objects are not drift */
  in_flight?: Array<Record<string, unknown>>;
}

export interface CompareOptions {
  /** a tracked table using this many column slots (dropped ones included) is reported */
  columnSlotWarning: number;
}

const A = {
  recreate: (what: string): DriftAction => ({ name: 'recreate', label: `Recreate the ${what} from metadata (empty)` }),
  forget: (what: string): DriftAction => ({ name: 'forget', label: `Forget the ${what} (delete its metadata)`, destructive: true }),
  adopt: (params: string[] = []): DriftAction => ({ name: 'adopt', label: 'Adopt (describe it in metadata)', params }),
  adoptLink: (a: string, b: string, addUnique: boolean): DriftAction => ({
    name: 'adopt_link',
    label: `Adopt as a many-to-many link between "${a}" and "${b}" (its pairs stay where they are${addUnique ? '; adds the unique pair' : ''})`,
    params: addUnique ? ['add_unique'] : [],
  }),
  ignore: (): DriftAction => ({ name: 'ignore', label: 'Ignore (keep it outside the console)' }),
  purge: (what: string): DriftAction => ({ name: 'purge', label: `Drop the ${what}`, destructive: true, params: ['confirm'] }),
  accept: (label: string): DriftAction => ({ name: 'accept', label }),
  revert: (label: string): DriftAction => ({ name: 'revert', label }),
  restore: (label: string, destructive = false): DriftAction => ({ name: 'restore', label, ...(destructive ? { destructive, params: ['confirm_loss'] } : {}) }),
  reidentify: (n: number): DriftAction => ({ name: 'reidentify', label: `Re-identify ${n === 1 ? 'the table' : `all ${n} tables`} by comment and name, and record the new database identity (one transaction; changes no data)` }),
};

function identityItem(t: TableMeta, tableRef: NonNullable<DriftItem['table']>, rel: CatalogTable, stale: Array<{ field_id: number; attnum: number | null; actual: number }>): DriftItem {
  return {
    id: `identity_changed:t${t.id}`,
    kind: 'identity_changed',
    message: `Table "${t.name}" was recognised by its comment or name: its catalog identity (oid${stale.length ? ', column numbers' : ''}) changed, as after a dump and restore or a column dropped and added again.`,
    table: tableRef,
    expected: { oid: t.table_oid, attnums: Object.fromEntries(stale.map((s) => [s.field_id, s.attnum])) },
    actual: { oid: rel.oid, attnums: Object.fromEntries(stale.map((s) => [s.field_id, s.actual])) },
    actions: [A.accept('Record the new identity')],
  };
}

/** An id for a catalog object we know only by name. */
export const untrackedTableId = (schema: string, name: string) => `untracked_table:${schema}:${encodeURIComponent(name)}`;
export const untrackedColumnId = (tableId: number, column: string) => `untracked_column:t${tableId}:${encodeURIComponent(column)}`;
export const untrackedIndexId = (tableId: number, name: string) => `untracked_index:t${tableId}:${encodeURIComponent(name)}`;

/**
 * Indexes and UNIQUE constraints over several columns that no table_indexes row describes
 * (a DBA made them in psql): adopted, they become indexes over several fields. Adoptable
 * when whole (no predicate, no expression) and over live fields only.
 */
function untrackedIndexes(rel: CatalogTable, tableRef: NonNullable<DriftItem['table']>, tableId: number, fieldAt: Map<number, SnapshotField>): DriftItem[] {
  const found = [
    ...rel.indexes.filter((i) => i.columns.length > 1).map((i) => ({ name: i.name, unique: i.is_unique, constraint: false, columns: i.columns, whole: !i.partial && !i.expressions })),
    ...rel.constraints.filter((c) => c.kind === 'u' && c.columns.length > 1 && !c.ours).map((c) => ({ name: c.name, unique: true, constraint: true, columns: c.columns, whole: true })),
  ];
  return found.map((ix) => {
    const fields = ix.columns.map((a) => fieldAt.get(a));
    const adoptable = ix.whole && fields.every((f) => f !== undefined && f.type !== 'json');
    const names = fields.map((f, k) => (f ? `"${f.name}"` : `column ${ix.columns[k]}`)).join(', ');
    return {
      id: untrackedIndexId(tableId, ix.name),
      kind: 'untracked_index' as const,
      message: `${ix.constraint ? 'UNIQUE constraint' : ix.unique ? 'Unique index' : 'Index'} ${ix.name} on ${rel.name} over ${names} is in the database but not in the metadata${adoptable ? '' : ' (partial, on an expression or over a column that is not a live field: it can only be ignored)'}.`,
      table: tableRef,
      actual: { name: ix.name, unique: ix.unique, constraint: ix.constraint, field_ids: adoptable ? fields.map((f) => f!.id) : null },
      actions: adoptable ? [A.adopt(), A.ignore()] : [A.ignore()],
    };
  });
}

/** A name the console can use as ours (the identifier rule, and not a trash name). */
export const usableName = (name: string) => IDENTIFIER_RE.test(name) && Buffer.byteLength(name) <= 63 && !name.startsWith(TRASH_PREFIX);

// ------------------------------------------------------------------ catalog facts

export function uniqueOn(rel: CatalogTable, attnum: number): string | undefined {
  const con = rel.constraints.find((c) => c.kind === 'u' && c.columns.length === 1 && c.columns[0] === attnum);
  if (con) return con.name;
  return rel.indexes.find((i) => i.is_unique && !i.partial && !i.expressions && i.columns.length === 1 && i.columns[0] === attnum)?.name;
}

export function indexOn(rel: CatalogTable, attnum: number): string | undefined {
  // one over several columns is an index over several fields (untracked_index), not this column's
  return rel.indexes.find((i) => !i.is_unique && !i.partial && i.columns.length === 1 && i.columns[0] === attnum)?.name;
}

/** Whether a column is indexed as a field sees it: its own index, or (for a unique field) its UNIQUE one. */
export function indexedNow(f: { indexed: boolean }, ix: string | undefined, uq: string | undefined): boolean {
  return ix !== undefined || (f.indexed && uq !== undefined);
}

export function foreignKeyOn(rel: CatalogTable, attnum: number): { name: string; ref_oid: number | null } | undefined {
  const c = rel.constraints.find((x) => x.kind === 'f' && x.columns.length === 1 && x.columns[0] === attnum);
  return c ? { name: c.name, ref_oid: c.ref_oid } : undefined;
}

/** The single-column primary key named `id`: the implicit one every managed table has. */
export function idColumn(rel: CatalogTable): CatalogColumn | undefined {
  if (!rel.pk_columns || rel.pk_columns.length !== 1) return undefined;
  const col = rel.columns.find((c) => c.attnum === rel.pk_columns![0]);
  return col && col.name === 'id' ? col : undefined;
}

// ------------------------------------------------------------------ defaults

// A number with a point is printed bare, with its typmod as a cast (`1.5::numeric(30,2)`);
// a whole one, or a negative one, quoted (`'7'::bigint`, `'-1.5'::numeric(30,2)`).
const CONSTANT_RE = /^(?:'((?:[^']|'')*)'(?:::[a-z][a-z0-9 _,()"[\]]*)?|(-?\d+(?:\.\d+)?)(?:::[a-z][a-z0-9 _,()"[\]]*)?|(true|false))$/;

// A multiple select's default is a cast of a cast: `('{1,2}'::integer[])::tablewright.option_ids`.
const OUTER_CAST_RE = /^\((.*)\)::[a-z][a-z0-9_."]*$/;

/** The literal text of a constant default as pg_get_expr() prints it; undefined for an expression. */
export function constantText(expr: string): string | undefined {
  const trimmed = expr.trim();
  const m = CONSTANT_RE.exec(OUTER_CAST_RE.exec(trimmed)?.[1] ?? trimmed);
  if (!m) return undefined;
  if (m[1] !== undefined) return m[1].replace(/''/g, "'");
  return m[2] ?? m[3];
}

/** A constant default as the field type's JSON value (what default_value holds), or undefined. */
export function defaultJson(f: { type: SnapshotField['type']; options: unknown }, text: string): unknown {
  try {
    const t = fieldType(f.type);
    // a select's default is its option ids: one, or a set ('{1,2}')
    const input =
      f.type === 'single_select' && /^\d+$/.test(text) ? Number(text)
      : f.type === 'multiple_select' && /^\{[\d,]*\}$/.test(text) ? text.slice(1, -1).split(',').filter(Boolean).map(Number)
      : text;
    const v = t.parse(input, f.options);
    if (v === null || v === undefined) return undefined;
    return t.toJson(v, f.options);
  } catch {
    return undefined;
  }
}

/** What metadata would say about a column's default: default_value (a constant) or pg_default (an expression). */
export function acceptedDefault(f: { type: SnapshotField['type']; options: unknown }, expr: string | null): { default_value: unknown; pg_default: string | null } {
  if (expr === null) return { default_value: null, pg_default: null };
  const text = constantText(expr);
  const json = text === undefined ? undefined : defaultJson(f, text);
  return json === undefined ? { default_value: null, pg_default: expr } : { default_value: json, pg_default: null };
}

/**
 * A JSON value as text with sorted keys and every number's digits as written, whether it
 * is a value, a RawJson number or a RawJson document (a jsonb default): stableJson reads a
 * RawJson document through JSON.parse, which makes 1e400 null.
 */
export function exactKey(value: unknown): string {
  const canonical = (v: unknown): string => {
    if (v instanceof RawJson) return v.text;
    if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return `{${Object.keys(o)
        .sort()
        .filter((k) => o[k] !== undefined)
        .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
        .join(',')}}`;
    }
    return JSON.stringify(v);
  };
  return canonical(parseExactJson(stringifyExact(value)));
}

export function defaultMatches(f: SnapshotField, expr: string | null): boolean {
  if (f.default_value !== null && f.default_value !== undefined) {
    if (expr === null) return false;
    const text = constantText(expr);
    const json = text === undefined ? undefined : defaultJson(f, text);
    if (json === undefined) return false;
    // an instant, however written ('…Z', '…+00:00', another offset)
    if (f.type === 'datetime' && typeof json === 'string' && typeof f.default_value === 'string') return Date.parse(json) === Date.parse(f.default_value);
    return exactKey(json) === exactKey(f.default_value);
  }
  if (f.pg_default) return expr === f.pg_default;
  return expr === null;
}

// ------------------------------------------------------------------ compare

export function compareSnapshot(snap: Snapshot, opts: CompareOptions): DriftReport {
  const started = performance.now();
  const { data, trash } = snap.schemas;
  const items: DriftItem[] = [];
  const claimed = new Set<number>();
  const matched = new Map<number, { rel: CatalogTable; byOid: boolean }>();

  const fieldsOf = new Map<number, SnapshotField[]>();
  // many-to-many links have no column: their junction table is theirs (server/schema/m2m.ts)
  const manyLinks = snap.meta.fields.filter((f) => isManyLink(f));
  const noColumn = (f: SnapshotField) => hasNoColumn(f);
  // every field of a table, those without a column too (formulas read them all)
  const allFieldsOf = new Map<number, SnapshotField[]>();
  for (const f of snap.meta.fields) {
    let all = allFieldsOf.get(f.table_id);
    if (!all) allFieldsOf.set(f.table_id, (all = []));
    all.push(f);
    if (noColumn(f)) continue;
    let list = fieldsOf.get(f.table_id);
    if (!list) fieldsOf.set(f.table_id, (list = []));
    list.push(f);
  }
  // Relations of verified tables are not read (the first pass vouched for them by oid).
  const verifiedOids = new Set<number>(snap.meta.tables.filter((t) => snap.verified.has(t.id) && t.table_oid !== null).map((t) => Number(t.table_oid)));
  const schemaOf = (t: TableMeta) => (t.trashed_at ? trash : data);
  const physicalOf = (t: TableMeta) => (t.trashed_at ? t.trash_name ?? t.table_name : t.table_name);

  // Tables and fields by identity (server/introspect/identity.ts): comment, then a
  // confirmed oid (never after a restore), then name.
  const tablesToCompare = snap.meta.tables.filter((t) => !snap.verified.has(t.id));
  const restored = wasRestored(snap.identity);
  const identities = matchTables({
    schemas: snap.schemas,
    tables: tablesToCompare,
    fields: snap.meta.fields,
    catalog: snap.tables.filter((rel) => !verifiedOids.has(rel.oid)),
    restored,
  });
  for (const [id, m] of identities) {
    claimed.add(m.rel.oid);
    matched.set(id, { rel: m.rel, byOid: m.sameOid });
  }
  const reidentify: DriftItem[] = [];

  for (const t of tablesToCompare) {
    const m = matched.get(t.id);
    const tableRef = { id: t.id, name: t.name, schema: schemaOf(t), table_name: physicalOf(t), oid: t.table_oid };
    if (!m) {
      if (t.trashed_at) {
        items.push({
          id: `trashed_gone:t${t.id}`,
          kind: 'trashed_gone',
          message: `Trashed table "${t.name}" is gone: ${trash}.${physicalOf(t)} was dropped outside the console.`,
          table: tableRef,
          actions: [A.forget('table')],
        });
      } else {
        items.push({
          id: `missing_table:t${t.id}`,
          kind: 'missing_table',
          message: `Table "${t.name}" (${data}.${t.table_name}) is in the metadata but not in the database.`,
          table: tableRef,
          actions: [A.recreate('table'), A.forget('table')],
        });
      }
      continue;
    }
    const { rel, byOid } = m;
    if (rel.name !== physicalOf(t)) {
      const acceptable = t.trashed_at || usableName(rel.name);
      items.push({
        id: `renamed_table:t${t.id}`,
        kind: 'renamed_table',
        message: `Table "${t.name}" was renamed outside the console: ${rel.schema}.${physicalOf(t)} is now ${rel.schema}.${rel.name}.`,
        table: tableRef,
        expected: { table_name: physicalOf(t) },
        actual: { table_name: rel.name },
        actions: [
          ...(acceptable ? [A.accept(`Accept the new name "${rel.name}"`)] : []),
          A.revert(`Rename it back to "${physicalOf(t)}"`),
        ],
      });
    }
    const fields = fieldsOf.get(t.id) ?? [];
    if (t.trashed_at) {
      // a trashed table's columns are left as they were trashed; its identity still counts
      if (!byOid) reidentify.push(identityItem(t, tableRef, rel, []));
      continue;
    }

    const fieldCol = matchColumns(rel, fields, { sameOid: byOid, restored });
    const colClaimed = new Set([...fieldCol.values()].map((c) => c.attnum));

    const stale: Array<{ field_id: number; attnum: number | null; actual: number }> = [];
    for (const f of fields) {
      const trashed = f.trashed_at !== null;
      const expectedName = trashed ? f.trash_name ?? f.column_name : f.column_name;
      const fieldRef = { id: f.id, name: f.name, column: expectedName, trashed };
      const c = fieldCol.get(f.id);
      if (!c) {
        if (trashed) {
          items.push({
            id: `trashed_gone:f${f.id}`,
            kind: 'trashed_gone',
            message: `Trashed field "${f.name}" of "${t.name}" is gone: column ${expectedName} was dropped outside the console.`,
            table: tableRef,
            field: fieldRef,
            actions: [A.forget('field')],
          });
        } else {
          items.push({
            id: `missing_column:f${f.id}`,
            kind: 'missing_column',
            message: `Field "${f.name}" of "${t.name}" has no column: ${rel.name}.${f.column_name} is not in the database.`,
            table: tableRef,
            field: fieldRef,
            actions: t.read_only ? [A.forget('field')] : [A.recreate('column'), A.forget('field')],
          });
        }
        continue;
      }
      const column = { name: c.name, attnum: c.attnum, type: c.type };
      if (f.attnum !== c.attnum) stale.push({ field_id: f.id, attnum: f.attnum, actual: c.attnum });
      if (c.name !== expectedName) {
        const acceptable = trashed ? c.name.startsWith(TRASH_PREFIX) || IDENTIFIER_RE.test(c.name) : usableName(c.name) && c.name !== 'id';
        items.push({
          id: `renamed_column:f${f.id}`,
          kind: 'renamed_column',
          message: `Column ${rel.name}.${expectedName} (field "${f.name}") was renamed outside the console to ${c.name}.`,
          table: tableRef,
          field: fieldRef,
          column,
          expected: { column: expectedName },
          actual: { column: c.name },
          actions: [...(acceptable ? [A.accept(`Accept the new name "${c.name}"`)] : []), A.revert(`Rename it back to "${expectedName}"`)],
        });
      }
      if (trashed) continue; // NOT NULL and UNIQUE are dropped while in the trash, by design

      const expectedType = expectedColumnType(f);
      if (expectedType !== c.type) {
        items.push({
          id: `retyped_column:f${f.id}`,
          kind: 'retyped_column',
          message: `Column ${rel.name}.${c.name} (field "${f.name}") was changed outside the console from ${expectedType} to ${c.type}.`,
          table: tableRef,
          field: fieldRef,
          column,
          expected: { type: expectedType },
          actual: { type: c.type },
          actions: [A.accept(`Accept ${c.type} into metadata`), A.restore(`Convert it back to ${expectedType}`, true)],
        });
      }

      const diffs: Record<string, { expected: unknown; actual: unknown }> = {};
      if (f.not_null !== c.not_null) diffs.not_null = { expected: f.not_null, actual: c.not_null };
      const uq = uniqueOn(rel, c.attnum);
      if (f.is_unique !== (uq !== undefined)) diffs.unique = { expected: f.is_unique, actual: uq !== undefined };
      const ix = indexedNow(f, indexOn(rel, c.attnum), uq);
      if (f.indexed !== ix) diffs.indexed = { expected: f.indexed, actual: ix };
      if (f.type === 'link') {
        const target = snap.meta.tables.find((x) => x.id === Number(f.options?.table_id));
        const targetRel = target ? matched.get(target.id)?.rel : undefined;
        const fk = foreignKeyOn(rel, c.attnum);
        if (targetRel && (!fk || fk.ref_oid !== targetRel.oid)) diffs.foreign_key = { expected: `${targetRel.schema}.${targetRel.name}`, actual: fk ? (snap.byOid.get(fk.ref_oid ?? 0)?.name ?? 'another table') : null };
      }
      // A stored formula's expression is in pg_attrdef too, but it is no default: the
      // formula's options hold it (retyping or dropping it shows as retyped_column).
      const generatedFormula = f.type === 'formula' && c.generated !== null;
      if (!generatedFormula && !defaultMatches(f, c.default_expr)) diffs.default = { expected: f.default_value ?? f.pg_default ?? null, actual: c.default_expr };
      if (Object.keys(diffs).length) {
        items.push({
          id: `constraint_changed:f${f.id}`,
          kind: 'constraint_changed',
          message: `Column ${rel.name}.${c.name} (field "${f.name}") changed outside the console: ${Object.keys(diffs).join(', ').replace(/_/g, ' ')}.`,
          table: tableRef,
          field: fieldRef,
          column,
          expected: Object.fromEntries(Object.entries(diffs).map(([k, v]) => [k, v.expected])),
          actual: Object.fromEntries(Object.entries(diffs).map(([k, v]) => [k, v.actual])),
          actions: [A.accept('Accept the database as it is'), A.restore('Restore what the metadata says')],
        });
      }
    }

    if (!byOid || stale.length) reidentify.push(identityItem(t, tableRef, rel, stale));

    // A formula that uses a trashed (or gone) field reads as empty until the field is back.
    // (all the table's fields: a formula using today() has no column, nor has a lookup)
    const ownFields = allFieldsOf.get(t.id) ?? [];
    const liveFields = new Map(ownFields.filter((f) => f.trashed_at === null).map((f) => [f.id, f]));
    for (const f of liveFields.values()) {
      if (f.type !== 'formula') continue;
      const missing = missingInputs(f, liveFields);
      if (!missing.length) continue;
      const names = missing.map((id) => ownFields.find((x) => x.id === id)?.name ?? `#${id}`);
      items.push({
        id: `broken_formula:f${f.id}`,
        kind: 'broken_formula',
        message: `Formula "${f.name}" of table "${t.name}" uses ${names.map((n) => `"${n}"`).join(', ')}, not a live field now (in the trash, or gone): it reads as empty until ${missing.length > 1 ? 'they are' : 'it is'} restored, or its expression is changed.`,
        table: tableRef,
        field: { id: f.id, name: f.name, column: f.column_name, trashed: false },
        actions: [A.ignore()],
      });
    }

    const fieldAt = new Map<number, SnapshotField>();
    for (const f of fields) {
      const c = fieldCol.get(f.id);
      if (c && f.trashed_at === null) fieldAt.set(c.attnum, f);
    }
    items.push(...untrackedIndexes(rel, tableRef, t.id, fieldAt));

    const pk = idColumn(rel);
    for (const c of rel.columns) {
      if (colClaimed.has(c.attnum) || c === pk) continue;
      const orphan = c.name.startsWith(TRASH_PREFIX);
      items.push({
        id: untrackedColumnId(t.id, c.name),
        kind: 'untracked_column',
        message: orphan
          ? `Column ${rel.name}.${c.name} looks like a trashed column whose metadata is gone.`
          : `Column ${rel.name}.${c.name} (${c.type}) is in the database but not in the metadata.`,
        table: tableRef,
        column: { name: c.name, attnum: c.attnum, type: c.type },
        actions: [A.adopt(usableName(c.name) ? [] : ['column']), A.ignore(), A.purge('column')],
      });
    }

    // Rows made here get their id from PostgreSQL: a key whose identity (or sequence
    // default) was dropped in SQL makes every new row a 23502 on id.
    if (!t.read_only && pk && pk.identity === null && pk.default_expr === null) {
      items.push({
        id: `id_not_generated:t${t.id}`,
        kind: 'id_not_generated',
        message: `Table "${t.name}": its id column is no longer filled by PostgreSQL (its identity or default was removed outside the console), so no row can be created in it.`,
        table: tableRef,
        column: { name: pk.name, attnum: pk.attnum, type: pk.type },
        actions: [A.restore('Make id an identity column again, numbering after the largest id'), A.ignore()],
      });
    }

    if (rel.slots >= opts.columnSlotWarning && rel.dropped > 0) {
      items.push({
        id: `column_limit:t${t.id}`,
        kind: 'column_limit',
        message: `Table "${t.name}" uses ${rel.slots} of PostgreSQL's 1600 column slots; ${rel.dropped} of them are dropped columns, never reused. Rebuilding the table frees them.`,
        table: tableRef,
        actual: { slots: rel.slots, dropped: rel.dropped, live: rel.columns.length },
        actions: t.read_only ? [A.ignore()] : [{ name: 'rebuild', label: 'Rebuild the table (copies every row; locks it meanwhile)' }, A.ignore()],
      });
    }
  }

  // Row history: every live managed table records its rows' changes through two triggers.
  for (const h of snap.historyOff) {
    const t = snap.meta.tables.find((x) => x.id === h.table_id);
    if (!t) continue;
    const broken = [h.row_trigger !== 'ok' ? `tablewright_history is ${h.row_trigger}` : '', h.truncate_trigger !== 'ok' ? `tablewright_history_truncate is ${h.truncate_trigger}` : ''].filter(Boolean);
    items.push({
      id: historyItemId(t.id),
      kind: 'history_off',
      message: `Table "${t.name}" does not record its row history: ${broken.join(' and ')} (changed outside the console). Row changes are not in its history or row trash until it is back.`,
      table: { id: t.id, name: t.name, schema: data, table_name: t.table_name, oid: t.table_oid },
      actual: { row_trigger: h.row_trigger, truncate_trigger: h.truncate_trigger },
      actions: [A.restore('Put the history triggers back'), A.ignore()],
    });
  }

  if (restored) {
    // One item for the whole restore, and nothing destructive until it is resolved: until
    // then a stored oid or attnum may name another object.
    for (const item of items) item.actions = item.actions.filter((a) => !a.destructive && a.name !== 'rebuild');
    items.unshift({
      id: 'database_restored',
      kind: 'database_restored',
      message: `This database was restored (its identity changed from ${snap.identity!.recorded} to ${snap.identity!.current}): ${reidentify.length} table${reidentify.length === 1 ? '' : 's'} to re-identify.`,
      expected: { identity: snap.identity!.recorded },
      actual: { identity: snap.identity!.current, tables: reidentify.map((i) => ({ id: i.table!.id, name: i.table!.name, from: i.expected!.oid, to: i.actual!.oid })) },
      actions: [A.reidentify(reidentify.length)],
    });
  } else items.push(...reidentify);

  const liveTables = new Map(snap.meta.tables.map((t) => [t.id, t]));
  for (const f of manyLinks) {
    const junction = snap.byName.get(`${data}\0${f.options?.junction}`);
    if (junction) {
      claimed.add(junction.oid);
      continue;
    }
    const t = liveTables.get(f.table_id);
    if (!t || t.trashed_at || f.trashed_at) continue;
    items.push({
      id: `missing_junction:f${f.id}`,
      kind: 'missing_junction',
      message: `Field "${f.name}" of "${t.name}" links many-to-many through ${data}.${f.options?.junction}, which is not in the database: it reads empty.`,
      table: { id: t.id, name: t.name, schema: data, table_name: t.table_name, oid: t.table_oid },
      field: { id: f.id, name: f.name, column: f.column_name, trashed: false },
      expected: { junction: f.options?.junction },
      actions: [A.forget('field')],
    });
  }

  // lookups and rollups whose link or looked-up field is gone or in the trash: they read empty
  const fieldById = new Map(snap.meta.fields.map((f) => [f.id, f]));
  for (const f of snap.meta.fields) {
    if ((f.type !== 'lookup' && f.type !== 'rollup') || f.trashed_at) continue;
    const t = liveTables.get(f.table_id);
    if (!t || t.trashed_at) continue;
    const o = (f.options ?? {}) as { link_field_id?: number; field_id?: number };
    const link = fieldById.get(o.link_field_id ?? 0);
    const linkedTable = link ? liveTables.get(Number(link.options?.table_id)) : undefined;
    const target = o.field_id === undefined ? undefined : fieldById.get(o.field_id);
    const why =
      !link || link.trashed_at || link.table_id !== f.table_id ? 'its link field is in the trash or gone'
      : !linkedTable || linkedTable.trashed_at ? 'the linked table is in the trash or gone'
      : o.field_id !== undefined && (!target || target.trashed_at || target.table_id !== linkedTable.id) ? 'the field it reads is in the trash or gone'
      : null;
    if (!why) continue;
    items.push({
      id: `broken_computed:f${f.id}`,
      kind: 'broken_computed',
      message: `${f.type === 'lookup' ? 'Lookup' : 'Rollup'} "${f.name}" of "${t.name}" is broken: ${why}. It reads empty until that is restored.`,
      table: { id: t.id, name: t.name, schema: data, table_name: t.table_name, oid: t.table_oid },
      field: { id: f.id, name: f.name, column: f.column_name, trashed: false },
      actions: [A.ignore()],
    });
  }

  // A hand-made junction between two live managed tables can be adopted as a many-to-many
  // link (junction_shape.ts): the tables by their catalog oid now (a verified one's is its own).
  const managedByOid = new Map<number, TableMeta>();
  for (const t of snap.meta.tables) {
    if (t.trashed_at) continue;
    const oid = matched.get(t.id)?.rel.oid ?? (snap.verified.has(t.id) && t.table_oid !== null ? Number(t.table_oid) : undefined);
    if (oid !== undefined) managedByOid.set(oid, t);
  }
  const idAttnum = (oid: number) => {
    const r = snap.byOid.get(oid);
    return r ? idColumn(r)?.attnum : undefined;
  };

  for (const rel of snap.tables) {
    if (claimed.has(rel.oid) || verifiedOids.has(rel.oid)) continue;
    const inTrash = rel.schema === trash;
    const junction = inTrash ? undefined : junctionShape(rel, managedByOid, idAttnum);
    items.push({
      id: untrackedTableId(rel.schema, rel.name),
      kind: 'untracked_table',
      message: inTrash
        ? `Table ${rel.schema}.${rel.name} is in the trash schema but no metadata knows it (an orphan).`
        : `Table ${rel.schema}.${rel.name} (${rel.columns.length} columns) is in the database but not in the metadata.${junction ? junctionMessage(rel, junction) : ''}`,
      table: { schema: rel.schema, table_name: rel.name, oid: rel.oid },
      actual: {
        columns: rel.columns.length,
        est_rows: Math.round(rel.est_rows),
        primary_key: rel.pk_columns?.length ? rel.columns.filter((c) => rel.pk_columns!.includes(c.attnum)).map((c) => c.name) : null,
        ...(junction ? { junction } : {}),
      },
      actions: (inTrash
        ? [A.ignore(), A.purge('table')]
        : [
            ...(junction && !junction.refused ? [A.adoptLink(junction.self.table, junction.other.table, junction.pair === null)] : []),
            A.adopt(usableName(rel.name) ? [] : ['table_name']),
            A.ignore(),
            A.purge('table'),
          ]
      ).filter((a) => !(restored && a.destructive)),
    });
  }

  const ignoredIds = new Map(snap.meta.ignored.map((i) => [i.item_id, i]));
  const live: DriftItem[] = [];
  const ignored: DriftItem[] = [];
  for (const item of items) {
    const ig = ignoredIds.get(item.id);
    if (ig) ignored.push({ ...item, ignored: { at: ig.ignored_at, by: ig.ignored_by }, actions: [{ name: 'unignore', label: 'Stop ignoring' }, ...item.actions.filter((a) => a.name !== 'ignore')] });
    else live.push(item);
  }
  const counts: Partial<Record<DriftKind, number>> = {};
  for (const i of live) counts[i.kind] = (counts[i.kind] ?? 0) + 1;
  return {
    clean: live.length === 0,
    checked_at: snap.taken_at,
    counts,
    items: live,
    ignored,
    catalog: { ...snap.totals, compared: tablesToCompare.length },
    ms: { snapshot: snap.ms, compare: performance.now() - started },
  };
}
