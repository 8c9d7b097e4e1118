// Input coercion shared by JSON bodies and HTML forms: a form sends every value as a
// string ('on' for a ticked checkbox, '2' for a number), JSON sends typed values. The
// domain functions accept both through these helpers, so both paths validate the same way.
import { RawJson } from '../fields/exact_json.js';
import { badRequest } from '../errors.js';

const TRUE = new Set(['true', '1', 'on', 'yes']);
const FALSE = new Set(['false', '0', 'off', 'no', '']);

export function flag(value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && (value === 0 || value === 1)) return value === 1;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
  }
  // A form's hidden "0" + checkbox "1": the last one counts. An empty list, or a list in a
  // list, says nothing: refused (read as "not given", a dry_run=[] would make the change).
  if (Array.isArray(value) && value.length > 0 && !Array.isArray(value[value.length - 1])) return flag(value[value.length - 1], field) ?? refuse(field);
  throw badRequest(`${field} must be true or false`, field);
}

function refuse(field: string): never {
  throw badRequest(`${field} must be true or false`, field);
}

export function positiveInt(value: unknown, field: string): number {
  const n = typeof value === 'string' && /^\d{1,15}$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw badRequest(`${field} must be a positive whole number`, field);
  return n;
}

/** An id from a URL segment: 404-worthy garbage becomes a clear 400 instead. */
export function idParam(value: unknown, field = 'id'): number {
  return positiveInt(value, field);
}

/** qs turns long form arrays (over 20 items) into objects keyed '0', '1', ...: undo that. */
export function asArray(value: unknown): unknown[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (Array.isArray(value)) return value;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.every(([k]) => /^\d+$/.test(k))) return entries.sort(([a], [b]) => Number(a) - Number(b)).map(([, v]) => v);
  }
  return undefined;
}

/**
 * Options from a form arrive as strings: decimals '2', table_id '7', choices as a
 * textarea with one label per line. Turns them into the typed shape the field types
 * validate; JSON input passes through unchanged where it is already typed.
 */
export function coerceOptions(type: string, raw: unknown, previous?: { choices?: Array<{ id: number; label: string; color: string }> }): unknown {
  if (raw === undefined || raw === null || raw === '') return (type === 'single_select' || type === 'multiple_select') && previous ? previous : {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('options must be an object', 'options');
  const o = { ...(raw as Record<string, unknown>) };
  const toInt = (k: string) => {
    if (typeof o[k] === 'string') o[k] = o[k] === '' ? undefined : /^-?\d+$/.test(o[k] as string) ? Number(o[k]) : o[k];
  };
  if (type === 'number') {
    toInt('decimals');
    // a form's checkbox: present ('1', 'on') or absent
    if (typeof o.any_precision === 'string') o.any_precision = ['1', 'on', 'true'].includes(o.any_precision);
  }
  if (type === 'lookup' || type === 'rollup') {
    toInt('link_field_id');
    toInt('field_id');
  }
  if (type === 'link') {
    toInt('table_id');
    if (o.multiple === '') delete o.multiple;
    else if (typeof o.multiple === 'string') o.multiple = ['1', 'true', 'on', 'yes'].includes(o.multiple.toLowerCase());
    if (o.reverse_name === '') delete o.reverse_name;
  }
  if (type === 'text' || type === 'long_text') toInt('max_length');
  if ((type === 'single_select' || type === 'multiple_select') && o.choices !== undefined) {
    if (typeof o.choices === 'string') {
      // One label per line; a line matching an existing option keeps its id and colour.
      const old = previous?.choices ?? [];
      o.choices = o.choices
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean)
        .map((label) => old.find((c) => c.label.toLowerCase() === label.toLowerCase()) ?? { label });
    } else {
      const list = asArray(o.choices);
      if (!list) throw badRequest('options.choices must be a list', 'options.choices');
      o.choices = list.map((c) => {
        if (typeof c === 'string') return { label: c };
        if (c && typeof c === 'object') {
          const x = { ...(c as Record<string, unknown>) };
          if (typeof x.id === 'string') x.id = x.id === '' ? undefined : Number(x.id);
          if (x.color === '') delete x.color;
          return x;
        }
        return c;
      });
    }
  }
  return o;
}

const OPTION_KEYS: Record<string, string[]> = {
  text: ['max_length'],
  long_text: ['max_length'],
  number: ['decimals', 'any_precision'],
  single_select: ['choices'],
  link: ['table_id', 'multiple', 'reverse_name'],
  lookup: ['link_field_id', 'field_id'],
  rollup: ['link_field_id', 'field_id', 'fn'],
  multiple_select: ['choices'],
  formula: ['expression'],
  rating: ['max'],
  percent: ['decimals'],
  currency: ['code', 'decimals'],
};

/**
 * A console form shows option inputs for every type; keep the chosen type's, drop empty
 * ones. undefined when none is left ("options unchanged").
 */
export function formOptionsFor(type: string, raw: unknown): Record<string, unknown> | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const picked = Object.fromEntries(
    Object.entries(raw as Record<string, unknown>).filter(([k, v]) => (Object.hasOwn(OPTION_KEYS, type) ? OPTION_KEYS[type]! : []).includes(k) && v !== '' && v !== undefined),
  );
  return Object.keys(picked).length ? picked : undefined;
}

/** JSON with object keys sorted, to compare option objects (jsonb reorders keys). */
export function stableJson(value: unknown): string {
  if (value instanceof RawJson) return stableJson(value.toJSON());
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as object)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
