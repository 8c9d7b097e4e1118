// A field's default through a type change: the stored default (its JSON, as the field's
// metadata holds it) as the input the new type reads, by the route the column's values take
// (server/fields/convert.ts). Reading the stored JSON as text lost defaults that convert:
// an option renamed (looked up by its old label), a multiple select's default with any
// options change (its list read as one label), true -> 1, a UTC midnight -> its date.
import { RawJson } from './exact_json.js';
import type { FieldTypeName } from './types.js';

const isSelect = (t: FieldTypeName) => t === 'single_select' || t === 'multiple_select';

/** What does not convert: the new type reads nothing from it (the default is lost). */
export const NO_DEFAULT = Symbol('no default');

/** The stored default of a `from` field as input for a `to` field's parse, or NO_DEFAULT. */
export function defaultInput(from: FieldTypeName, to: FieldTypeName, stored: unknown): unknown {
  const options = (v: unknown) => (Array.isArray(v) ? v : [v]) as Array<{ id: number; label: string | null }>;
  // Between the select types an option keeps its id (renamed, recoloured: the same option),
  // and only a single option is a single select's value.
  if (isSelect(from) && isSelect(to)) {
    const list = options(stored);
    if (to === 'multiple_select') return list;
    return list.length === 1 ? list[0] : NO_DEFAULT;
  }
  // A select's value as text is its labels (', ' between them, as option_ids_text).
  if (isSelect(from)) return options(stored).map((c) => c.label ?? `#${c.id}`).join(', ');
  if (from === 'boolean' && to === 'number') return stored === true ? 1 : stored === false ? 0 : NO_DEFAULT;
  if (from === 'number' && to === 'boolean') return String(stored) === '1' ? true : String(stored) === '0' ? false : NO_DEFAULT;
  if (from === 'datetime' && to === 'date') {
    const midnight = /^(\d{4,}-\d{2}-\d{2})T00:00:00(\.0+)?(Z|\+00(:00)?)$/.exec(String(stored));
    return midnight ? midnight[1] : NO_DEFAULT;
  }
  if (from === 'date' && to === 'datetime') return /^\d{4,}-\d{2}-\d{2}$/.test(String(stored)) ? `${String(stored)}T00:00:00Z` : NO_DEFAULT;
  if (to === 'json') return JSON.stringify(stored);
  if (stored !== null && typeof stored === 'object' && !(stored instanceof RawJson)) return JSON.stringify(stored);
  return stored;
}
