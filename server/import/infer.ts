// Type inference for a new table from a file: which field type (and options) each column
// should get, read from a sample of its values.
//
// A value "fits" a type when the field type's own parser (server/fields/*) accepts it AND
// storing it keeps what the file says: "01234" parses as a number but would be stored as
// 1234, so a zip-code column stays text; "Open " would become the option "Open", so such
// a column is no single select. The import then parses every row with the chosen field's
// parser (server/model/csv.ts): a value the sample did not foresee is refused and reported
// with its line, never dropped or changed.
import { fieldType, parseOptions } from '../fields/registry.js';
import { numberType } from '../fields/number.js';

/** The types a column can be given from a file, in the order the preview lists them. */
export const IMPORT_TYPES = ['text', 'long_text', 'number', 'boolean', 'date', 'datetime', 'email', 'url', 'single_select', 'json'] as const;
export type ImportType = (typeof IMPORT_TYPES)[number];
export const isImportType = (t: unknown): t is ImportType => typeof t === 'string' && (IMPORT_TYPES as readonly string[]).includes(t);

/** Distinct values kept per column; past it the column's values are still counted, not kept. */
export const MAX_DISTINCT = 50_000;
/** A single select has at most this many options when inferred (the type allows 500). */
export const MAX_INFERRED_OPTIONS = 50;
/** Longer than this (or with a line break), text is long_text. */
export const LONG_TEXT_CHARS = 255;
/** The decimals a number field keeps at most; past it only a number of any precision fits. */
export const MAX_DECIMALS = 10;
const NUMERIC_PRECISION = 30;
const BIGINT_MAX = 9223372036854775807n;
const BIGINT_MIN = -9223372036854775808n;

/**
 * The options of a number field of any precision (plain numeric). One place: the type's
 * option schema decides at run time whether this build has it (see anyPrecisionSupported).
 */
export const ANY_PRECISION_OPTIONS = { any_precision: true } as const;
export function anyPrecisionSupported(): boolean {
  return numberType.options.safeParse(ANY_PRECISION_OPTIONS).success;
}

/** Plain decimal notation only: no sign but -, no leading zero, no exponent, no bare dot. */
const PLAIN_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.([0-9]+))?$/;
const JSONISH = /^\s*[[{]/;

/**
 * Cheap shapes a value must have before the field's parser is asked (a parser that refuses
 * throws, which costs far more than a test): they only ever rule values out.
 */
const SHAPE: Partial<Record<ImportType, (v: string) => boolean>> = {
  date: (v) => v.length >= 10 && v.length <= 12 && v.charCodeAt(4) === 45 /* - */,
  datetime: (v) => v.length >= 10 && v.length <= 64 && v.charCodeAt(4) === 45,
  email: (v) => v.includes('@') && !v.includes(' '),
  url: (v) => /^https?:\/\//i.test(v),
  json: (v) => JSONISH.test(v),
  boolean: (v) => v.length <= 9,
  number: (v) => /^\s*[+-]?\.?[0-9]/.test(v) && v.length <= 1000,
};

/** What one column's sample holds, gathered in one pass. */
export class ColumnSample {
  /** distinct non-empty values and how often each occurs (up to MAX_DISTINCT) */
  readonly counts = new Map<string, number>();
  nonEmpty = 0;
  empty = 0;
  /** more distinct values than MAX_DISTINCT: the rest were counted but not kept */
  overflow = 0;

  /** values past MAX_DISTINCT are checked as they come: misfits per type, and number shape */
  readonly overflowMisfits: Partial<Record<ImportType, number>> = {};
  overflowDecimals = 0;
  overflowWhole = 0;
  overflowBigint = true;
  overflowLongest = 0;
  overflowMultiline = false;

  add(value: string | null | undefined): void {
    if (value === null || value === undefined || value === '') {
      this.empty++;
      return;
    }
    this.nonEmpty++;
    const n = this.counts.get(value);
    if (n !== undefined) this.counts.set(value, n + 1);
    // a key of its own: a cell cut out of a chunk's text would keep the whole chunk alive
    else if (this.counts.size < MAX_DISTINCT) this.counts.set(value.length < 13 ? value : `${value} `.slice(0, -1), 1);
    else this.addOverflow(value);
  }

  private addOverflow(v: string): void {
    this.overflow++;
    for (const type of OVERFLOW_CHECKED) {
      if (!checker(type)(v)) this.overflowMisfits[type] = (this.overflowMisfits[type] ?? 0) + 1;
    }
    const m = PLAIN_NUMBER.exec(v);
    if (m) {
      this.overflowDecimals = Math.max(this.overflowDecimals, m[1]?.length ?? 0);
      this.overflowWhole = Math.max(this.overflowWhole, v.replace(/^-/, '').split('.')[0]!.length);
      if (!m[1] && this.overflowBigint) {
        const b = BigInt(v);
        if (b > BIGINT_MAX || b < BIGINT_MIN) this.overflowBigint = false;
      }
    } else this.overflowMisfits.number = (this.overflowMisfits.number ?? 0) + 1;
    this.overflowLongest = Math.max(this.overflowLongest, v.length);
    if (v.includes('\n') || v.includes('\r')) this.overflowMultiline = true;
  }

  /** Overflow values that do not fit `type` (all of them for a type not checked one by one). */
  overflowFor(type?: ImportType): number {
    if (!this.overflow) return 0;
    return type && (OVERFLOW_CHECKED as readonly string[]).concat('number').includes(type) ? (this.overflowMisfits[type] ?? 0) : this.overflow;
  }

  /** The first few distinct values, as examples. */
  examples(n = 3): string[] {
    const out: string[] = [];
    for (const v of this.counts.keys()) {
      out.push(v.length > 80 ? `${v.slice(0, 79)}…` : v);
      if (out.length >= n) break;
    }
    return out;
  }
}

export interface TypeGuess {
  type: ImportType;
  options: Record<string, unknown>;
  /** 0..1: how sure the guess is (see confidenceOf) */
  confidence: number;
  /** non-empty values of the sample this type would refuse (or change) */
  misfits: number;
  /** why, for people, when the guess is not the obvious one */
  note?: string;
}

/** Types whose fit is checked value by value past MAX_DISTINCT (number is checked by its shape). */
const OVERFLOW_CHECKED = ['text', 'long_text', 'date', 'datetime', 'email', 'url', 'json'] as const;
const checkers = new Map<string, (v: string) => boolean>();
const checker = (type: string) => {
  let c = checkers.get(type);
  if (!c) checkers.set(type, (c = parses(type, {})));
  return c;
};

/** Whether every value fits (stops at the first kept one that does not). */
function allFit(s: ColumnSample, fits: (v: string) => boolean, type?: ImportType): boolean {
  if (s.overflowFor(type)) return false;
  for (const v of s.counts.keys()) if (!fits(v)) return false;
  return true;
}

/** Counts values that fail `fits`, each distinct value tested once. */
function countMisfits(s: ColumnSample, fits: (v: string) => boolean, type?: ImportType): { misfits: number; first?: string } {
  let misfits = 0;
  let first: string | undefined;
  for (const [v, n] of s.counts) {
    if (!fits(v)) {
      misfits += n;
      first ??= v;
    }
  }
  // values past MAX_DISTINCT were not kept: they are unknown, counted as not fitting
  // unless every kept value fits this type and the type takes any text
  return { misfits: misfits + s.overflowFor(type), first };
}

const parses = (type: string, options: Record<string, unknown>) => {
  const def = fieldType(type);
  const opts = parseOptions(def, options);
  const shape = SHAPE[type as ImportType];
  return (v: string) => {
    if (shape && !shape(v)) return false;
    try {
      return def.parse(v, opts) !== undefined;
    } catch {
      return false;
    }
  };
};

/** The number options the sample needs, or null when some value is not a plain number. */
export function numberOptionsFor(s: ColumnSample): { options: Record<string, unknown>; note?: string } | null {
  let decimals = 0;
  let whole = 0;
  let bigintOk = true;
  for (const v of s.counts.keys()) {
    const m = PLAIN_NUMBER.exec(v);
    if (!m) return null;
    decimals = Math.max(decimals, m[1]?.length ?? 0);
    const w = v.replace(/^-/, '').split('.')[0]!.length;
    whole = Math.max(whole, w);
    if (!m[1] && bigintOk) {
      const b = BigInt(v);
      if (b > BIGINT_MAX || b < BIGINT_MIN) bigintOk = false;
    }
  }
  if (s.counts.size === 0 || s.overflowFor('number')) return null;
  decimals = Math.max(decimals, s.overflowDecimals);
  whole = Math.max(whole, s.overflowWhole);
  bigintOk &&= s.overflowBigint;
  if (decimals === 0 && bigintOk) return { options: { decimals: 0 } };
  const d = Math.max(decimals, 1);
  if (decimals <= MAX_DECIMALS && whole <= NUMERIC_PRECISION - d && !(decimals === 0)) return { options: { decimals } };
  const why = decimals > MAX_DECIMALS ? `${decimals} decimal places (a number field keeps at most ${MAX_DECIMALS})` : `${whole} digits`;
  return { options: { ...ANY_PRECISION_OPTIONS }, note: `values with ${why} need a number of any precision` };
}

/** Options of a single select holding every distinct value (labels as in the file). */
export function selectOptionsFor(s: ColumnSample, max = 500): { options: Record<string, unknown>; fits: boolean } {
  const seen = new Set<string>();
  const choices: Array<{ label: string }> = [];
  let fits = s.overflow === 0;
  for (const v of s.counts.keys()) {
    const key = v.toLowerCase();
    // A label is stored trimmed and matched without case: "Open " or "open" next to "Open"
    // would come back as "Open". Such values do not fit; they are not made options.
    if (v !== v.trim() || v.length > 100 || v.includes('\0') || seen.has(key) || choices.length >= max) {
      fits = false;
      continue;
    }
    seen.add(key);
    choices.push({ label: v });
  }
  return { options: { choices }, fits };
}

/** For a column of type `type`: the options its values need, and how many would not fit. */
export function fitOf(s: ColumnSample, type: ImportType): { options: Record<string, unknown>; misfits: number; note?: string } {
  switch (type) {
    case 'text':
    case 'long_text': {
      return { options: {}, misfits: countMisfits(s, parses(type, {}), type).misfits };
    }
    case 'number': {
      const need = numberOptionsFor(s);
      if (need && (need.options.any_precision !== true || anyPrecisionSupported())) return { options: need.options, misfits: 0, note: need.note };
      // Chosen although some values are no plain numbers: what the number field itself
      // would refuse (the import refuses the same), with the decimals the others need.
      let decimals = 0;
      const loose = parses('number', { decimals: MAX_DECIMALS });
      for (const v of s.counts.keys()) {
        if (!loose(v)) continue;
        const frac = /\.([0-9]+)/.exec(v.trim())?.[1]?.replace(/0+$/, '') ?? '';
        decimals = Math.max(decimals, frac.length);
      }
      const options = { decimals };
      // values past MAX_DISTINCT that are no plain numbers are counted as not fitting
      return { options, misfits: countMisfits(s, parses('number', options), 'number').misfits, note: need?.note };
    }
    case 'single_select': {
      const { options } = selectOptionsFor(s);
      const keys = new Set((options.choices as Array<{ label: string }>).map((c) => c.label));
      return { options, misfits: countMisfits(s, (v) => keys.has(v)).misfits };
    }
    case 'boolean':
      return { options: {}, misfits: countMisfits(s, (v) => BOOLEAN_WORDS.has(v.toLowerCase())).misfits };
    case 'json':
      return { options: {}, misfits: countMisfits(s, (v) => JSONISH.test(v) && parses('json', {})(v), 'json').misfits };
    case 'email':
    case 'url':
    case 'date':
    case 'datetime':
      return { options: {}, misfits: countMisfits(s, parses(type, {}), type).misfits };
  }
}

/** The words the boolean type reads (server/fields/boolean.ts), as a file writes them. */
const BOOLEAN_WORDS = new Set(['true', 'false', 'yes', 'no', '1', '0', 't', 'f', 'y', 'n', 'on', 'off']);

function confidenceOf(s: ColumnSample, base: number): number {
  // Few values say little: 1 value 0.5 of the base, 20 or more the whole base.
  const weight = Math.min(1, 0.5 + s.nonEmpty / 40);
  return Math.round(base * weight * 100) / 100;
}

/** The guess for one column. */
export function inferColumn(s: ColumnSample): TypeGuess {
  if (s.nonEmpty === 0) return { type: 'text', options: {}, confidence: 0, misfits: 0, note: 'every value is empty' };
  const values = [...s.counts.keys()];

  // Booleans: words, or a column of exactly 1 and 0 (both seen). A column of only 1s is a number.
  if (values.length <= BOOLEAN_WORDS.size && values.every((v) => BOOLEAN_WORDS.has(v.toLowerCase())) && s.overflow === 0) {
    const lower = new Set(values.map((v) => v.toLowerCase()));
    const digits = [...lower].every((v) => v === '1' || v === '0');
    if (!digits || (lower.has('1') && lower.has('0') && s.nonEmpty >= 4)) {
      const words = ['true', 'false', 'yes', 'no', 't', 'f', 'y', 'n', 'on', 'off'].filter((w) => lower.has(w));
      // true/false/yes/no read as booleans; a column of y/n or t/f (or 1/0) a little less surely
      const sure = digits ? 0.7 : words.some((w) => w.length > 1) ? 0.95 : 0.8;
      return { type: 'boolean', options: {}, confidence: confidenceOf(s, sure), misfits: 0, ...(digits ? { note: 'only 1 and 0: read as yes/no; choose number to keep them as numbers' } : {}) };
    }
  }

  const num = numberOptionsFor(s);
  if (num) {
    if (num.options.any_precision !== true || anyPrecisionSupported()) return { type: 'number', options: num.options, confidence: confidenceOf(s, 0.95), misfits: 0, ...(num.note ? { note: num.note } : {}) };
    return { type: 'text', options: {}, confidence: confidenceOf(s, 0.6), misfits: 0, note: `${num.note}, which this version lacks: kept as text, every digit` };
  }

  for (const type of ['date', 'datetime', 'email', 'url'] as const) {
    if (allFit(s, parses(type, {}), type)) return { type, options: {}, confidence: confidenceOf(s, 0.95), misfits: 0 };
  }
  if (allFit(s, parses('json', {}), 'json')) {
    return { type: 'json', options: {}, confidence: confidenceOf(s, 0.9), misfits: 0 };
  }

  const longest = values.reduce((m, v) => Math.max(m, v.length), s.overflowLongest);
  const multiline = s.overflowMultiline || values.some((v) => v.includes('\n') || v.includes('\r'));
  // Few values that repeat: each seen three times on average, at most MAX_INFERRED_OPTIONS.
  if (!multiline && s.overflow === 0 && s.counts.size <= MAX_INFERRED_OPTIONS && s.nonEmpty >= 3 * s.counts.size && s.counts.size >= 1 && longest <= 100) {
    const sel = selectOptionsFor(s, MAX_INFERRED_OPTIONS);
    if (sel.fits) {
      const repeat = s.nonEmpty / s.counts.size;
      return { type: 'single_select', options: sel.options, confidence: confidenceOf(s, repeat >= 10 ? 0.9 : 0.7), misfits: 0 };
    }
  }
  if (multiline || longest > LONG_TEXT_CHARS) return { type: 'long_text', options: {}, confidence: confidenceOf(s, 0.9), misfits: 0 };
  return { type: 'text', options: {}, confidence: confidenceOf(s, 0.9), misfits: 0 };
}

/** Every import type with the options it would get and the values that would not fit (the preview's picker). */
export function choicesFor(s: ColumnSample): Array<{ type: ImportType; options: Record<string, unknown>; misfits: number }> {
  return IMPORT_TYPES.map((type) => {
    const f = fitOf(s, type);
    return { type, options: f.options, misfits: f.misfits };
  });
}
