// The file's header -> the columns the COPY writes: each header cell's field (by the
// caller's mapping, or by column then display name), what an empty cell becomes (the
// column's default, or NULL), and the cell encoder. Refuses at line 1 a header that names
// no field, a read-only one, or leaves out a required one.
import type pg from 'pg';
import { FieldValueError } from '../fields/types.js';
import type { Model, ModelField } from '../model/compile.js';
import { invalidCsv, isComputed, mapHeader } from '../model/csv.js';
import { cellEncoder, type CellEncoder } from './cells.js';
import { defaultTexts } from './column_defaults.js';
import { copyText, DEFAULT_MARK } from './copy.js';
import type { CopyImportOptions } from './engine.js';
import { GrowingChoices } from './engine_options.js';

export interface Column {
  index: number;
  field: ModelField;
  /** the COPY text of "empty cell": the column default, or NULL */
  empty: string;
  grow?: GrowingChoices;
  encode: CellEncoder;
}

/** A single select's cell with add_options: an option it names, or a new one. */
function parseGrowing(f: ModelField, grow: GrowingChoices, cell: string): unknown {
  try {
    return f.type.parse(cell, grow.options);
  } catch (err) {
    if (!(err instanceof FieldValueError) || /^\d+$/.test(cell.trim())) throw err;
    const added = grow.add(cell);
    if (typeof added === 'string') throw new FieldValueError(added);
    return added.id;
  }
}

export async function mapColumns(tx: pg.PoolClient, model: Model, header: string[], opts: CopyImportOptions, copyDefault: boolean, grown: GrowingChoices[]): Promise<Column[]> {
  let mapped: Array<ModelField | null>;
  if (opts.columns) {
    const seen = new Set<string>();
    mapped = header.map((h) => {
      const col = opts.columns![h.trim()];
      if (col === undefined || col === '') return null;
      const f = model.byColumn.get(col);
      if (f && isComputed(f)) return null; // a lookup or rollup: computed, skipped as mapHeader does
      if (!f || f.type.system) throw invalidCsv(1, col, `no field of table "${model.table.name}" has the column "${col.slice(0, 60)}"`);
      if (seen.has(col)) throw invalidCsv(1, col, `two columns of the file go to field ${f.meta.name}`);
      seen.add(col);
      return f;
    });
  } else {
    mapped = mapHeader(model, header, opts.ignoreUnknown);
  }
  const fields = mapped.filter((f): f is ModelField => f !== null);
  for (const f of fields) if (f.meta.read_only) throw invalidCsv(1, f.column, `${f.meta.name} is read-only`);
  for (const f of model.fields) {
    if (f.meta.not_null && f.meta.default_value == null && !f.type.system && !fields.includes(f)) {
      throw invalidCsv(1, f.column, `${f.meta.name} is required, and the file has no column for it`);
    }
  }
  if (!fields.length) throw invalidCsv(1, undefined, `the header names no field of table "${model.table.name}"`);
  const defaults = copyDefault ? null : await defaultTexts(tx, model, fields);
  const out: Column[] = [];
  mapped.forEach((f, index) => {
    if (!f) return;
    const hasDefault = f.meta.default_value != null;
    let empty = '\\N';
    if (hasDefault) {
      if (copyDefault) empty = DEFAULT_MARK;
      else {
        const t = defaults!.get(f.column);
        empty = t == null ? '\\N' : copyText(t);
      }
    }
    const grow = opts.addOptions && f.meta.type === 'single_select' ? new GrowingChoices(f) : undefined;
    if (grow) grown.push(grow);
    const parse = grow ? (cell: string) => parseGrowing(f, grow, cell) : (cell: string) => f.type.parse(cell, f.options);
    out.push({ index, field: f, empty, grow, encode: cellEncoder(f, parse, !grow) });
  });
  return out;
}
