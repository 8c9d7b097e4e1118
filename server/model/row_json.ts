// A listing's rows written straight to JSON text, by a writer compiled once per model.
//
// The general path (rowToJson, then stringifyExact) builds an object per row, turns each
// number's text into a double and back to see whether it survives, and splices the ones
// that do not (RawJson) into the text afterwards. For a page of 100 rows of 50 fields
// that was a fifth of the list request's CPU. Here each field has a writer that goes from
// the value pg gives (the select list's text) to its JSON text directly: a number's text
// is already a JSON number (or is written as a string, as numberToJson does), a text is
// JSON.stringify'd, a boolean is true or false. Fields without a writer of their own
// (links, many-to-many, rollups, select options, json...) go through their type's toJson
// and stringifyExact, so the text is the same as the general path's, byte for byte (a
// property test in test/model/row_json.test.ts holds the two to that).
import { booleanType } from '../fields/boolean.js';
import { dateType, datetimeType } from '../fields/date.js';
import { isJsonNumber } from '../fields/decimal.js';
import { stringifyExact } from '../fields/exact_json.js';
import { numberToJson } from '../fields/number.js';
import { textType } from '../fields/text.js';
import { fieldJson, type Model, type ModelField } from './compile.js';

type Row = Record<string, unknown>;
/** A field's value as JSON text, or undefined to leave the key out (as JSON.stringify does). */
type Writer = (row: Row) => string | undefined;

const quoted = (v: unknown) => JSON.stringify(String(v));

function writerOf(f: ModelField): Writer {
  const col = f.column;
  const special = f.rollup !== undefined || f.meta.type === 'rollup' || f.many !== undefined || f.meta.type === 'link';
  const toJson = f.type.toJson;
  if (!special && toJson === numberToJson) {
    return (row) => {
      const v = row[col];
      if (v == null) return 'null';
      const text = String(v);
      return isJsonNumber(text) ? text : JSON.stringify(text);
    };
  }
  if (!special && toJson === textType.toJson) {
    return (row) => {
      const v = row[col];
      return v == null ? 'null' : typeof v === 'string' ? JSON.stringify(v) : stringifyExact(v);
    };
  }
  if (!special && toJson === booleanType.toJson) return (row) => (row[col] == null ? 'null' : row[col] ? 'true' : 'false');
  if (!special && (toJson === dateType.toJson || toJson === datetimeType.toJson)) return (row) => (row[col] == null ? 'null' : quoted(row[col]));
  return (row) => {
    const v = fieldJson(f, row);
    return v === undefined ? undefined : stringifyExact(v);
  };
}

interface RowWriter {
  keys: string[];
  writers: Writer[];
  hasId: boolean;
}

const compiled = new WeakMap<Model, RowWriter>();

function rowWriter(model: Model): RowWriter {
  let w = compiled.get(model);
  if (!w) {
    w = { keys: model.fields.map((f) => JSON.stringify(f.column)), writers: model.fields.map(writerOf), hasId: model.hasId };
    compiled.set(model, w);
  }
  return w;
}

/** One row as JSON text: the same text as stringifyExact(rowToJson(model, row)). */
function rowText(w: RowWriter, row: Row): string {
  let out = '{';
  let first = true;
  if (w.hasId && row.id !== undefined) {
    out += `"id":${stringifyExact(row.id)}`;
    first = false;
  }
  for (let i = 0; i < w.writers.length; i++) {
    const value = w.writers[i]!(row);
    if (value === undefined) continue;
    out += `${first ? '' : ','}${w.keys[i]}:${value}`;
    first = false;
  }
  return `${out}}`;
}

/** Rows as pg returns them (the model's select list) -> the JSON array text of rowToJson's rows. */
export function rowsJsonText(model: Model, rows: Row[]): string {
  const w = rowWriter(model);
  const parts = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) parts[i] = rowText(w, rows[i]!);
  return `[${parts.join(',')}]`;
}

/** One row as pg returns it -> the JSON text of rowToJson's object for it. */
export function rowJsonText(model: Model, row: Row): string {
  return rowText(rowWriter(model), row);
}
