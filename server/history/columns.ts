// History and trash keep a row's values by column name, as they were when written. This
// module finds each value's field again (through the layout the entry was written under)
// and where that field lives now: its current column, or the parked column of a trashed
// field. Values stay JSON text from PostgreSQL to PostgreSQL, so that a number never
// passes through a JavaScript float on its way back into a row.
import { identFromCatalog } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import { fieldType } from '../fields/registry.js';
import { numberToJson } from '../fields/number.js';
import { parseExactJson, RawJson } from '../fields/exact_json.js';
import type { FieldMeta } from '../schema/metadata.js';

/** A column's value as JSON text ('12.50', '"abc"', 'null'), exactly as jsonb prints it. */
export type JsonText = string;
/** Values by key: `f<field id>` for a field's value, `c:<name>` for a column no field describes. */
export type RowValues = Map<string, JsonText>;

/**
 * SQL: a jsonb object as [[key, value as JSON text], ...]. Read through this, values keep
 * every digit (the pg driver would parse numbers of a jsonb into floats).
 */
export const pairsSql = (expr: string) => `(SELECT coalesce(jsonb_agg(jsonb_build_array(p.key, p.value::text)), '[]') FROM jsonb_each(${expr}) p)`;

export interface CatalogColumn {
  name: string;
  /** generated or identity: PostgreSQL fills it, a restore never writes it */
  computed: boolean;
}

export interface Target {
  key: string;
  field?: FieldMeta;
  /** the column name scripts see: the field's column (also while trashed), or the raw name */
  column: string;
  /** where the value would go now; undefined when its field (or column) is gone */
  physical?: string;
}

/** Fields, layouts and catalog columns of one table: everything a value's key needs. */
export class ColumnResolver {
  private constructor(
    readonly fields: FieldMeta[],
    private readonly layouts: Map<number, Record<string, number>>,
    readonly catalog: Map<string, CatalogColumn>,
    private readonly byId: Map<number, FieldMeta>,
    private readonly byPhysical: Map<string, FieldMeta>,
  ) {}

  /** Loads the table's fields (trashed ones too), the given layouts and, when given, the relation's columns. */
  static async load(db: Queryable, tableId: number, layoutIds: Array<number | null>, relationOid: number | null): Promise<ColumnResolver> {
    const ids = [...new Set(layoutIds.filter((x): x is number => x !== null))];
    // One after another: `db` may be a transaction's client.
    const fields = await db.query<FieldMeta>(
      `SELECT id, table_id, name, column_name, type, options, position, not_null, is_unique, indexed, default_value, attnum, read_only,
              created_at, updated_at, trashed_at, trashed_by, trash_name, trash_reason
         FROM tablewright.fields WHERE table_id = $1 ORDER BY position, id`,
      [tableId],
    );
    const layouts = ids.length
      ? await db.query<{ id: number; columns: Record<string, number> }>(`SELECT id, columns FROM tablewright.row_layouts WHERE id = ANY($1::int8[])`, [ids])
      : { rows: [] as Array<{ id: number; columns: Record<string, number> }> };
    const catalog =
      relationOid === null
        ? { rows: [] as Array<{ name: string; computed: boolean }> }
        : await db.query<{ name: string; computed: boolean }>(
            // an identity column is put back (insertRow says OVERRIDING SYSTEM VALUE): a restored row keeps its autonumber
            `SELECT attname AS name, (attgenerated <> '') AS computed FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`,
            [relationOid],
          );
    const byId = new Map(fields.rows.map((f) => [Number(f.id), f]));
    const byPhysical = new Map(fields.rows.map((f) => [physicalOf(f), f]));
    return new ColumnResolver(
      fields.rows,
      new Map(layouts.rows.map((l) => [Number(l.id), l.columns])),
      new Map(catalog.rows.map((c) => [c.name, c])),
      byId,
      byPhysical,
    );
  }

  /** The field a column name written under `layoutId` belongs to, and where it is now. */
  resolve(layoutId: number | null, name: string): Target {
    const fid = layoutId !== null ? this.layouts.get(layoutId)?.[name] : undefined;
    let field = fid !== undefined ? this.byId.get(Number(fid)) : undefined;
    // Not in the layout (a column added outside the console, or no layout): the field
    // that has this column now, if any.
    if (fid === undefined) field = this.byPhysical.get(name);
    if (field) {
      const physical = physicalOf(field);
      return { key: `f${field.id}`, field, column: field.column_name, physical: this.catalog.has(physical) ? physical : undefined };
    }
    if (fid !== undefined) return { key: `f${fid}`, column: name }; // its field was purged
    return { key: `c:${name}`, column: name, physical: this.catalog.has(name) ? name : undefined };
  }

  /** A key back to its target now (for values collected by key). */
  target(key: string): Target {
    if (key.startsWith('f')) {
      const field = this.byId.get(Number(key.slice(1)));
      if (!field) return { key, column: key };
      const physical = physicalOf(field);
      return { key, field, column: field.column_name, physical: this.catalog.has(physical) ? physical : undefined };
    }
    const name = key.slice(2);
    return { key, column: name, physical: this.catalog.has(name) ? name : undefined };
  }

  /** [[name, text], ...] written under a layout -> values by key (the id column left out). */
  values(layoutId: number | null, pairs: Array<[string, JsonText]> | null): RowValues {
    const out: RowValues = new Map();
    for (const [name, text] of pairs ?? []) {
      // id, and an online change's own column (ours: the field's value is under the field's column)
      if (name === 'id' || SHADOW_COLUMN.test(name)) continue;
      out.set(this.resolve(layoutId, name).key, text);
    }
    return out;
  }

  /**
   * A deleted row's values for its restore from the row trash. A value a number made a link
   * in place moved aside (withKeptValues) comes back where it was while that change runs
   * (its column is there: the field stays empty, the value aside, as for every other row),
   * and as the field's once the change is over (as a value deleted before any type change).
   */
  restoredValues(layoutId: number | null, pairs: Array<[string, JsonText]> | null): RowValues {
    const all = pairs ?? [];
    const live = all.filter(([name]) => SHADOW_COLUMN.test(name) && this.catalog.has(name));
    const out = this.values(layoutId, withKeptValues(all.filter(([name]) => !live.some(([l]) => l === name)), (id) => this.columnOf(layoutId, id)));
    for (const [name, text] of live) out.set(`c:${name}`, text);
    return out;
  }

  /** The column name a field's value goes under in a row written under `layoutId` (withKeptValues). */
  columnOf(layoutId: number | null, fieldId: number): string | undefined {
    const layout = layoutId !== null ? this.layouts.get(layoutId) : undefined;
    if (layout) return Object.entries(layout).find(([, id]) => Number(id) === fieldId)?.[0];
    const f = this.byId.get(fieldId);
    return f ? physicalOf(f) : undefined;
  }
}

/**
 * A row's values without an online change's own column (SHADOW_COLUMN). Where that column
 * holds a value and the field's own column is empty, the value is the field's: a number made
 * a link in place (server/schema/online/op_link_in_place.ts) moves the values that will not
 * survive into it while the change runs, so a row deleted meanwhile keeps its number (in the
 * row trash, restored after a cancel as it was; after the change, as any value written
 * before a type change). The shadow way's column holds the converted value of a field
 * that is never empty where it is not, so there it never stands in.
 */
export function withKeptValues(pairs: Array<[string, JsonText]>, columnOf: (fieldId: number) => string | undefined): Array<[string, JsonText]> {
  const kept = pairs.filter(([name, text]) => SHADOW_COLUMN.test(name) && text !== 'null');
  const out = pairs.filter(([name]) => !SHADOW_COLUMN.test(name));
  for (const [name, text] of kept) {
    const fieldId = Number(name.slice('_tw_new_f'.length));
    const column = columnOf(fieldId);
    const at = column === undefined ? -1 : out.findIndex(([n]) => n === column);
    if (at >= 0 && out[at]![1] === 'null') out[at] = [column!, text];
  }
  return out;
}

/** The shadow column of an online type change in flight (server/schema/online/op_change_type.ts). */
export const SHADOW_COLUMN = /^_tw_new_f\d+$/;

/** Where a field's values are now: its column, or its parked name while in the trash. */
export const physicalOf = (f: Pick<FieldMeta, 'trashed_at' | 'trash_name' | 'column_name'>) => (f.trashed_at ? f.trash_name ?? f.column_name : f.column_name);

/** {"col": value, ...} as JSON text, the values spliced in as they are (exact). */
export function jsonObjectText(entries: Array<[string, JsonText]>): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

/** A quoted column list for SQL, from names the catalog has (checked by the caller). */
export const quotedColumns = (names: string[]) => names.map((n) => String(identFromCatalog(n)));

const NUMBER_TEXT = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * A history value as the API shows it: the field type's JSON where it has one (an option
 * as {id, label, color}, a link as {id, label}), numbers exact (a string when a double
 * would round them), anything else as stored. Never throws: a value written before a type
 * change shows as it was.
 */
export function apiValue(field: FieldMeta | undefined, text: JsonText): unknown {
  // A JSON field's document goes out as stored, every digit of it.
  if (field?.type === 'json' && text !== 'null') return new RawJson(text);
  let raw: unknown;
  try {
    raw = NUMBER_TEXT.test(text) ? numberToJson(text) : parseExactJson(text);
  } catch {
    return new RawJson(text); // deeper than the body parser reads: as stored
  }
  if (!field || raw === null) return raw;
  try {
    // A datetime as the row API writes it: UTC, 'Z', its fraction of a second kept.
    if (field.type === 'datetime' && typeof raw === 'string') return utcIso(raw);
    // A value written before the field became a number (text '42'): shown as the number it converted to.
    if (field.type === 'number' && typeof raw === 'string' && NUMBER_TEXT.test(raw.trim())) return numberToJson(raw.trim());
    if (field.type === 'single_select' && typeof raw === 'number') return fieldType(field.type).toJson(raw, field.options);
    if (field.type === 'multiple_select' && Array.isArray(raw)) return fieldType(field.type).toJson(raw, field.options);
    if (field.type === 'link' && typeof raw === 'number') return { id: raw, label: null };
    // a many-to-many link's ids (its pairs' history: sql/migrations/061_link_history.sql)
    if (field.type === 'link' && Array.isArray(raw)) return raw.map((id) => ({ id: Number(id), label: null }));
  } catch {
    // a value that no longer fits its field's type: shown as stored
  }
  return raw;
}

const OFFSET_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?([+-])(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** '2024-03-01T15:30:00.123456+05:45' (to_jsonb's form, in the writer's time zone) -> '2024-03-01T09:45:00.123456Z'. */
export function utcIso(text: string): string {
  const m = OFFSET_TIME.exec(text);
  if (!m) return text;
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os] = m;
  const offset = (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60 + Number(os ?? 0)) * 1000;
  const when = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) - offset);
  const year = when.getUTCFullYear();
  if (year < 1 || year > 9999 || Number(y) < 100) return text; // Date.UTC reads years 0-99 as 19xx: leave those as written
  return `${when.toISOString().slice(0, 19)}${frac ?? ''}Z`;
}

/** The same value as a short text for the console. */
export function displayValue(field: FieldMeta | undefined, text: JsonText): string {
  const v = apiValue(field, text);
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (v instanceof RawJson) return v.text.length > 120 ? `${v.text.slice(0, 119)}…` : v.text;
  if (Array.isArray(v) && v.every((x) => typeof x === 'object' && x !== null && 'id' in x)) return v.map((x: { id: number }) => `#${x.id}`).join(', ');
  if (typeof v === 'object' && v !== null && 'label' in v) {
    const o = v as { id: number; label: string | null };
    return o.label ?? `#${o.id}`;
  }
  const s = JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 119)}…` : s;
}
