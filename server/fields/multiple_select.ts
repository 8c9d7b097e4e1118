// multiple_select: the column (tablewright.option_ids, an integer[] domain; see
// sql/migrations/072_multiple_select.sql) stores the chosen options' ids as a set (ascending,
// no repeats; NULL for none), so renaming an option or changing its colour rewrites no rows.
// Labels and colours live in the field's options, as single_select's do. In text (CSV, a
// conversion, a form) a value is its labels separated by commas, so a label has no comma.
import { z } from 'zod';
import { asText, isEmpty, lit, wholeNumberInput } from './common.js';
import { RawJson } from './exact_json.js';
import { choicesSchema, type Choice, type SelectOpts } from './single_select.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

const options = choicesSchema((s) =>
  s.refine((l) => !l.includes(','), 'a multiple select option label may not contain a comma (values are written as comma-separated labels)'),
);

export const OPTION_IDS_TYPE = 'tablewright.option_ids';

function findChoice(item: unknown, opts: SelectOpts): Choice | undefined {
  const v = wholeNumberInput(item);
  if (typeof v === 'number') return opts.choices.find((c) => c.id === v);
  const text = asText(v, 1000).trim();
  const byLabel = opts.choices.find((c) => c.label.toLowerCase() === text.toLowerCase());
  if (byLabel) return byLabel;
  if (/^\d{1,10}$/.test(text)) return opts.choices.find((c) => c.id === Number(text));
  return undefined;
}

/**
 * The items a value names: a JSON list (of ids, labels or {id} objects), a form's repeated
 * inputs (a list of strings), or one text of comma-separated labels.
 */
function items(input: unknown): unknown[] {
  if (Array.isArray(input)) {
    if (input.length > 500) throw new FieldValueError('names more than 500 options');
    return input.flatMap((x) => (typeof x === 'string' ? x.split(',') : [x]));
  }
  if (typeof input === 'string') return input.split(',');
  if (input instanceof RawJson || typeof input === 'number') return [input];
  if (typeof input === 'object' && input !== null && 'id' in input) return [input];
  throw new FieldValueError('must be a list of options, or their labels separated by commas');
}

/** Ids -> the set as the column spells it (ascending, no repeats). */
export function idSet(ids: number[]): number[] | null {
  const set = [...new Set(ids)].sort((a, b) => a - b);
  return set.length ? set : null;
}

const ids = (opts: SelectOpts) => `ARRAY[${opts.choices.map((c) => String(c.id)).join(',')}]::int[]`;
const labels = (opts: SelectOpts, lower: boolean) => `ARRAY[${opts.choices.map((c) => lit(lower ? c.label.toLowerCase() : c.label)).join(',')}]::text[]`;

/** SQL: the value's labels, comma-separated, in the options' order (NULL for none). */
export function optionIdsText(expr: string, opts: SelectOpts): string {
  return `tablewright.option_ids_text(${expr}, ${ids(opts)}, ${labels(opts, false)})`;
}

/** SQL: comma-separated labels -> the set of ids, NULL when any label is no option. */
export function labelsToOptionIds(text: string, opts: SelectOpts): string {
  return `tablewright.labels_to_option_ids(${text}, ${labels(opts, true)}, ${ids(opts)})::${OPTION_IDS_TYPE}`;
}

export const multipleSelectType: FieldTypeDef<SelectOpts> = {
  name: 'multiple_select',
  label: 'Multiple select',
  options: options as unknown as z.ZodType<SelectOpts>,
  sqlType: () => OPTION_IDS_TYPE,
  parse(input, opts) {
    if (isEmpty(input)) return null;
    const found: number[] = [];
    for (const raw of items(input)) {
      const item = typeof raw === 'object' && raw !== null && !(raw instanceof RawJson) && 'id' in raw ? (raw as { id: unknown }).id : raw;
      // an empty label is no option ("a,,b"; a form's hidden marker); a null in a list names
      // nothing: refused rather than read as "no options" (a client's bug would clear the field)
      if (item === null || item === undefined) throw new FieldValueError('a list of options may not hold null: send [] (or null for the whole value) for none');
      if (isEmpty(item)) continue;
      const c = findChoice(item, opts);
      if (!c) {
        const known = opts.choices.map((x) => x.label).slice(0, 10).join(', ');
        const shown = item instanceof RawJson ? item.text : String(item);
        throw new FieldValueError(`"${shown.trim().slice(0, 40)}" is not one of the options${known ? ` (${known})` : ''}`);
      }
      found.push(c.id);
    }
    return idSet(found);
  },
  // read as int[] so that node-postgres gives a list of numbers (a domain's oid it would leave as text)
  selectSql: (e) => `(${e})::int[]`,
  toJson: (v, opts) => {
    if (v == null) return null;
    // '{1,2}' from a column read as text (adopted read-only), else a list
    const list = (typeof v === 'string' ? v.replace(/[{}\s]/g, '').split(',').filter(Boolean) : (v as Array<number | string>)).map(Number);
    // in the options' order, as the grid shows them
    const pos = (id: number) => {
      const i = opts.choices.findIndex((c) => c.id === id);
      return i < 0 ? Number.MAX_SAFE_INTEGER : i;
    };
    return [...list]
      .sort((a, b) => pos(a) - pos(b) || a - b)
      .map((id) => {
        const c = opts.choices.find((x) => x.id === id);
        return c ? { id: c.id, label: c.label, color: c.color } : { id, label: null, color: null };
      });
  },
  display: (v, opts) => (v == null ? '' : (multipleSelectType.toJson(v, opts) as Array<{ id: number; label: string | null }>).map((c) => c.label ?? `#${c.id}`).join(', ')),
  filterOps: ['has_any', 'has_all', 'has_none', 'empty', 'not_empty'],
  searchable: false,
  toText: (e, opts) => optionIdsText(e, opts),
  fromText: (t, opts) => labelsToOptionIds(t, opts),
};
