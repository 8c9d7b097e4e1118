// A hand-made junction table: an untracked table of the data schema whose two foreign keys
// point at the id of two live managed tables, so that it can be adopted as a many-to-many
// link between them (server/introspect/adopt_junction.ts) over its own pairs, nothing
// copied. Pure: it reads a CatalogTable and the metadata tables, never the database, so the
// report and the action (which reads the catalog again in its transaction) judge alike.
//
// What must stay true for a junction the console writes (server/model/link_writes.ts):
// an INSERT of (self, other) alone succeeds (every other column has a default or may be
// NULL), ON CONFLICT DO NOTHING finds the unique pair, and each column can be quoted by
// ident() (our identifier rule).
import { IDENTIFIER_RE, MAX_IDENTIFIER_BYTES } from '../db/ident.js';
import type { TableMeta } from '../schema/metadata.js';
import { TRASH_PREFIX } from '../schema/names.js';
import type { CatalogColumn, CatalogTable } from './snapshot.js';

export interface JunctionSide {
  column: string;
  attnum: number;
  not_null: boolean;
  table_id: number;
  table: string;
  /** the foreign key's name and its ON DELETE action (c: cascade) */
  fk: string;
  cascade: boolean;
}

export interface JunctionShape {
  /** the side with the lower attnum: the table the adopted field is on */
  self: JunctionSide;
  other: JunctionSide;
  /** the primary key, UNIQUE constraint or unique index over exactly the two columns */
  pair: { name: string; kind: 'primary key' | 'unique constraint' | 'unique index'; leading: number } | null;
  /** columns besides the pair's: kept as they are, never shown or written by the console */
  extra: string[];
  /** why it cannot be adopted as a link (null: it can) */
  refused: string | null;
}

const usable = (name: string) => IDENTIFIER_RE.test(name) && Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES && !name.startsWith(TRASH_PREFIX);
const INTEGER = new Set(['int2', 'int4', 'int8']);

/** May a new pair leave this column out of its INSERT? */
const fillsItself = (c: CatalogColumn) => !c.not_null || c.default_expr !== null || c.identity !== null || c.generated !== null;

/**
 * The junction shape of `rel`, or undefined when it is not one: exactly two single-column
 * foreign keys, each to a live managed table (`tables` by oid; `idAttnum` answers the
 * attnum of a table's id column when the catalog of that table was read).
 */
export function junctionShape(rel: CatalogTable, tables: Map<number, TableMeta>, idAttnum: (oid: number) => number | undefined): JunctionShape | undefined {
  const fks = rel.constraints.filter((c) => c.kind === 'f');
  if (fks.length !== 2 || fks.some((f) => f.columns.length !== 1 || f.ref_oid === null)) return undefined;
  const sides: JunctionSide[] = [];
  for (const fk of fks) {
    const t = tables.get(Number(fk.ref_oid));
    const col = rel.columns.find((c) => c.attnum === fk.columns[0]);
    if (!t || t.trashed_at || !col) return undefined;
    sides.push({ column: col.name, attnum: col.attnum, not_null: col.not_null, table_id: t.id, table: t.name, fk: fk.name, cascade: fk.on_delete === 'c' });
  }
  sides.sort((a, b) => a.attnum - b.attnum);
  const [self, other] = sides as [JunctionSide, JunctionSide];
  const both = (cols: number[]) => cols.length === 2 && cols.includes(self.attnum) && cols.includes(other.attnum);
  let pair: JunctionShape['pair'] = null;
  if (rel.pk_columns && both(rel.pk_columns)) pair = { name: rel.pk_name!, kind: 'primary key', leading: rel.pk_columns[0]! };
  const uc = rel.constraints.find((c) => c.kind === 'u' && both(c.columns));
  if (!pair && uc) pair = { name: uc.name, kind: 'unique constraint', leading: uc.columns[0]! };
  const ui = rel.indexes.find((i) => i.is_unique && !i.partial && !i.expressions && both(i.columns));
  if (!pair && ui) pair = { name: ui.name, kind: 'unique index', leading: ui.columns[0]! };
  const extraCols = rel.columns.filter((c) => c.attnum !== self.attnum && c.attnum !== other.attnum);

  const refused = (() => {
    if (!usable(rel.name)) return `its name "${rel.name}" is not one the console can use (lowercase letters, digits and _); rename it in psql first`;
    for (const s of sides) {
      const t = tables.get(fks.find((f) => f.name === s.fk)!.ref_oid!)!;
      if (t.read_only) return `"${t.name}" was adopted read-only; a many-to-many link needs tables the console writes`;
      const col = rel.columns.find((c) => c.attnum === s.attnum)!;
      if (!usable(s.column)) return `its column "${s.column}" has a name the console cannot use; rename it in psql first`;
      if (!INTEGER.has(col.type_name)) return `its column ${s.column} is ${col.type}, not an integer column holding ids`;
      const fk = fks.find((f) => f.name === s.fk)!;
      const id = idAttnum(Number(fk.ref_oid));
      if (id !== undefined && (fk.ref_columns?.length !== 1 || fk.ref_columns[0] !== id)) return `its foreign key ${s.fk} references another column of "${t.name}" than its id`;
    }
    if (self.column === other.column) return 'both foreign keys are on one column';
    const required = extraCols.filter((c) => !fillsItself(c));
    if (required.length) return `its column${required.length > 1 ? 's' : ''} ${required.map((c) => c.name).join(', ')} ${required.length > 1 ? 'are' : 'is'} required and without a default, so a new pair (its two ids alone) could not be written`;
    return null;
  })();
  return { self, other, pair, extra: extraCols.map((c) => c.name), refused };
}

/** The sentence the report adds to an untracked table that is a junction. */
export function junctionMessage(rel: CatalogTable, j: JunctionShape): string {
  const between = `"${j.self.table}" (${j.self.column}) and "${j.other.table}" (${j.other.column})`;
  if (j.refused) return ` It joins ${between} but cannot be adopted as a many-to-many link: ${j.refused}.`;
  const notes = [
    j.pair ? '' : `it has no unique pair over (${j.self.column}, ${j.other.column}): adopting adds one (send add_unique=1; refused while duplicate pairs exist)`,
    j.self.not_null && j.other.not_null ? '' : 'adopting sets NOT NULL on its two columns (refused while a pair has an empty id)',
    j.self.cascade && j.other.cascade ? '' : 'its foreign keys become ON DELETE CASCADE (a row deleted takes its pairs with it, as in every junction the console makes)',
    j.extra.length ? `its other column${j.extra.length > 1 ? 's' : ''} ${j.extra.join(', ')} ${j.extra.length > 1 ? 'are' : 'is'} kept as ${j.extra.length > 1 ? 'they are' : 'it is'}: the console neither shows nor writes ${j.extra.length > 1 ? 'them' : 'it'} (new pairs take the default${j.extra.length > 1 ? 's' : ''})` : '',
  ].filter(Boolean);
  return ` It joins ${between}: it can be adopted as a many-to-many link between them, over its pairs as they are${notes.length ? `; ${notes.join('; ')}` : ''}.`;
}
