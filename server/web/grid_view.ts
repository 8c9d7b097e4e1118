// How the console grid shows and edits values, per field type. Pure functions over a
// compiled model and row JSON (rowToJson): the templates only place what these answer,
// always through <%= %>, so nothing here builds HTML.
import { manyLinkText } from '../model/csv.js';
import { jsonText } from '../fields/json.js';
import type { Choice } from '../model/choices.js';
import type { ModelField } from '../model/compile.js';

/** What a display cell shows; `kind` picks the markup in views/partials/grid_cell.ejs. */
export interface CellView {
  kind: 'empty' | 'text' | 'number' | 'bool' | 'link' | 'url' | 'email' | 'tag' | 'tags' | 'json' | 'long';
  text: string;
  /** the full value, on hover (long text, JSON, a link's id) */
  title?: string;
  /** url: an http(s) URL; email: a mailto: URL. Never anything else. */
  href?: string;
  checked?: boolean;
  color?: string;
  /** the value as its editor (and a paste) reads it, where the text shown differs */
  copy?: string;
  /** tags: a multiple select's options, each in its colour */
  tags?: Array<{ text: string; color: string }>;
}

/** What an editor cell needs: the input's kind and its current value as text. */
export interface EditorView {
  input: 'text' | 'textarea' | 'number' | 'checkbox' | 'date' | 'datetime' | 'select' | 'email' | 'url' | 'link';
  value: string;
  checked?: boolean;
  choices?: Array<{ value: string; label: string }>;
  /** select: several may be chosen (a multiple select); `values` are the chosen ones */
  multiple?: boolean;
  values?: string[];
  hint?: string;
  /** link: the row picker (a datalist of the linked table's rows); none when that table is gone */
  picker?: LinkPicker;
}

/** One <option> of a link picker's datalist: the row id the input takes, and its label. */
export interface ChoiceOption {
  value: string;
  label: string;
}

/** What a link editor offers besides the id input: the linked table and its first rows. */
export interface LinkPicker {
  tableId: number;
  tableName: string;
  options: ChoiceOption[];
}

const CHOICE_LABEL_CHARS = 80;

/** "Acme (#3)"; "#3" alone when the row has no label. */
export function choiceOption(c: Choice): ChoiceOption {
  const id = `#${c.id}`;
  if (c.label === id) return { value: String(c.id), label: id };
  const label = c.label.length > CHOICE_LABEL_CHARS ? `${c.label.slice(0, CHOICE_LABEL_CHARS - 1)}…` : c.label;
  return { value: String(c.id), label: `${label} (${id})` };
}

const LONG_TEXT_CHARS = 120;
const JSON_CHARS = 80;

/** Only http(s) ever becomes a link: a javascript: or data: URL stays text. */
export function safeHttpUrl(value: string): string | undefined {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

export function cellView(field: ModelField, value: unknown): CellView {
  if (value === null || value === undefined || value === '') {
    return field.meta.type === 'boolean' ? { kind: 'bool', text: 'empty', checked: false, copy: '' } : { kind: 'empty', text: '' };
  }
  switch (field.meta.type) {
    case 'boolean':
      return { kind: 'bool', text: value ? 'yes' : 'no', checked: Boolean(value), copy: value ? 'true' : 'false' };
    case 'number':
      // 9.5 in a field of 2 decimals reads 9.50, as the column stores it.
      return { kind: 'number', text: typeof value === 'number' && field.options.decimals && field.options.decimals <= 15 ? value.toFixed(field.options.decimals) : String(value) };
    case 'date':
      return { kind: 'text', text: field.type.display(value, field.options) };
    case 'datetime':
      return { kind: 'text', text: field.type.display(value, field.options), title: String(value), copy: String(value) };
    case 'link': {
      if (Array.isArray(value)) return { kind: 'link', text: field.type.display(value, field.options), title: value.map((o: { id: number }) => `row ${o.id}`).join(', ') };
      const v = value as { id: number; label: string | null };
      return { kind: 'link', text: v.label ?? `#${v.id}`, title: `row ${v.id}`, copy: String(v.id) };
    }
    case 'single_select': {
      const v = value as { id: number; label: string | null; color: string | null };
      return { kind: 'tag', text: v.label ?? `#${v.id}`, color: v.color ?? 'gray' };
    }
    case 'multiple_select': {
      const list = value as Array<{ id: number; label: string | null; color: string | null }>;
      const tags = list.map((v) => ({ text: v.label ?? `#${v.id}`, color: v.color ?? 'gray' }));
      return { kind: 'tags', text: tags.map((t) => t.text).join(', '), tags };
    }
    case 'json': {
      const full = jsonText(value);
      return full.length > JSON_CHARS ? { kind: 'json', text: `${full.slice(0, JSON_CHARS - 1)}…`, title: full, copy: full } : { kind: 'json', text: full };
    }
    case 'long_text': {
      const s = String(value);
      return s.length > LONG_TEXT_CHARS ? { kind: 'long', text: `${s.slice(0, LONG_TEXT_CHARS - 1)}…`, title: s, copy: s } : { kind: 'text', text: s };
    }
    case 'url': {
      const s = String(value);
      const href = safeHttpUrl(s);
      return href ? { kind: 'url', text: s, href } : { kind: 'text', text: s };
    }
    case 'email': {
      const s = String(value);
      return { kind: 'email', text: s, href: `mailto:${encodeURIComponent(s).replace(/%40/g, '@')}` };
    }
    default: {
      // the other types format themselves (★★★☆☆, 12.5 %, USD 9.99, 1:30, a datetime's UTC)
      const text = field.type.display(value, field.options);
      const raw = String(value);
      return { kind: RIGHT_ALIGNED.has(field.meta.type) ? 'number' : 'text', text, ...(raw !== text && typeof value !== 'object' ? { copy: raw } : {}) };
    }
  }
}

const RIGHT_ALIGNED = new Set(['autonumber', 'percent', 'currency', 'duration']);

/**
 * The editor's value: what the field's parser reads back as the same value. A link field
 * takes its picker from the caller (it reads the linked table).
 */
export function editorView(field: ModelField, value: unknown, picker?: LinkPicker): EditorView {
  const t = field.meta.type;
  const text = value === null || value === undefined ? '' : String(value);
  switch (t) {
    case 'boolean':
      return { input: 'checkbox', value: 'true', checked: value === true };
    case 'number':
      return { input: 'number', value: text, hint: field.options.any_precision ? 'any number' : field.options.decimals ? `up to ${field.options.decimals} decimals` : 'a whole number' };
    case 'date':
      return { input: 'date', value: text };
    case 'datetime': {
      // datetime-local has no zone: the value shown and sent is UTC (the parser reads a
      // time without an offset as UTC). It takes whole seconds: a value with a fraction
      // is edited as text, so that saving it unchanged keeps every digit.
      const fraction = /\.\d*[1-9]/.test(text.slice(19, 27));
      return fraction ? { input: 'text', value: text, hint: 'ISO 8601, UTC' } : { input: 'datetime', value: text.slice(0, 19), hint: 'UTC' };
    }
    case 'long_text':
      return { input: 'textarea', value: text };
    case 'json':
      return { input: 'textarea', value: value == null ? '' : jsonText(value) };
    case 'single_select':
      return {
        input: 'select',
        value: value == null ? '' : String((value as { id: number }).id),
        choices: [{ value: '', label: '(empty)' }, ...(field.options.choices as Array<{ id: number; label: string }>).map((c) => ({ value: String(c.id), label: c.label }))],
      };
    case 'multiple_select': {
      // <select multiple>: works as a plain form without JS (each chosen option is one value)
      const chosen = value == null ? [] : (value as Array<{ id: number }>).map((v) => String(v.id));
      const choices = (field.options.choices as Array<{ id: number; label: string }>).map((c) => ({ value: String(c.id), label: c.label }));
      for (const id of chosen) if (!choices.some((c) => c.value === id)) choices.push({ value: id, label: `#${id}` });
      return { input: 'select', multiple: true, value: chosen.join(','), values: chosen, choices, hint: 'Ctrl or ⌘ + click to choose several' };
    }
    case 'link': {
      if (field.options.multiple) {
        // a plain text input (no JavaScript needed): labels or #ids, comma-separated
        return { input: 'text', value: manyLinkText(Array.isArray(value) ? value : []), hint: `labels or #ids of ${picker?.tableName ?? 'linked'} rows, comma-separated` };
      }
      const v = value as { id: number; label: string | null } | null;
      const hint = v ? `now: ${choiceOption({ id: v.id, label: v.label || `#${v.id}` }).label}` : picker ? `a label or row id; type to search ${picker.tableName}` : 'a row id';
      return { input: 'link', value: v ? String(v.id) : '', hint, ...(picker ? { picker } : {}) };
    }
    case 'email':
      return { input: 'email', value: text };
    case 'url':
      return { input: 'url', value: text };
    case 'rating':
      return { input: 'select', value: text, choices: [{ value: '', label: '(empty)' }, ...Array.from({ length: field.options.max as number }, (_, i) => ({ value: String(i + 1), label: '★'.repeat(i + 1) }))] };
    case 'duration':
      return { input: 'text', value: text, hint: 'h:mm, h:mm:ss, or 90m, 1h 30m' };
    case 'currency':
      return { input: 'text', value: text, hint: `${field.options.code}, up to ${field.options.decimals} decimals` };
    case 'percent':
      return { input: 'text', value: text, hint: `%, up to ${field.options.decimals} decimals` };
    default:
      return { input: 'text', value: text };
  }
}
