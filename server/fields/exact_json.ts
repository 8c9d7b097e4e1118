// JSON in and out without losing a digit.
//
// JavaScript reads every JSON number as a double: 9007199254740993 becomes ...992, 1e400
// becomes Infinity (and then null), and 1.50 becomes 1.5. Request bodies are therefore read
// by parseExactJson, which keeps any number token a double would change as a RawJson (its
// text, exactly as sent); and responses are written by stringifyExact, which writes a
// RawJson's text as it is. Values go to PostgreSQL as text, and come back as text
// (numbers, jsonb), so a value is never a double on its way through.
//
// Speed: the common body has no such number. A first pass over the text (linear, no
// regular expression) looks for one while it checks the nesting depth; without one the
// body is read by the native JSON.parse, and only otherwise by lossless-json.
import crypto from 'node:crypto';
import { parse as parseLossless } from 'lossless-json';
import { survivesDouble } from './decimal.js';

/** Deeper nesting is refused before anything recursive reads it (a stack overflow, a 500). */
export const MAX_JSON_DEPTH = 500;

/** A JSON value kept as its exact text: a number token, or a whole JSON document (jsonb). */
export class RawJson {
  constructor(readonly text: string) {}

  /** Under stringifyExact the text goes out as it is; elsewhere (a log line) a number reads as its text. */
  toJSON(): unknown {
    if (pending) {
      pending.push(this.text);
      return `${MARK}${pending.length - 1}`;
    }
    return isNumberText(this.text) ? this.text : JSON.parse(this.text);
  }

  toString(): string {
    return this.text;
  }
}

const isNumberText = (t: string) => t.length > 0 && (t[0] === '-' || (t[0]! >= '0' && t[0]! <= '9'));

export class JsonSyntaxError extends Error {}

// ---------------------------------------------------------------- reading

const QUOTE = 34;
const BACKSLASH = 92;

function numberChar(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 46 || c === 43 || c === 45 || c === 101 || c === 69;
}

/**
 * One pass over JSON text: throws JsonSyntaxError past MAX_JSON_DEPTH, and says whether
 * some number token would not survive a double. Malformed text passes through: the
 * parser that follows refuses it.
 */
export function scanJson(text: string): { exact: boolean } {
  let depth = 0;
  let exact = true;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      if (i < 0) return { exact };
    } else if (c === 123 || c === 91) {
      if (++depth > MAX_JSON_DEPTH) throw new JsonSyntaxError(`it is nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (c === 125 || c === 93) {
      depth--;
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      let j = i + 1;
      while (j < n && numberChar(text.charCodeAt(j))) j++;
      if (exact && !plainDecimal(text, i, j) && !survivesDouble(text.slice(i, j))) exact = false;
      i = j - 1;
    }
  }
  return { exact };
}

/**
 * A quick yes for most number tokens, without allocating: at most 15 significant digits,
 * no exponent, no leading zero, no trailing zero after a point, and not below 1e-6
 * (which JavaScript writes with an exponent). JavaScript writes such a number back as
 * it came. Anything else is asked of survivesDouble.
 */
function plainDecimal(text: string, from: number, to: number): boolean {
  let i = text.charCodeAt(from) === 45 ? from + 1 : from;
  if (i >= to) return false;
  const zero = text.charCodeAt(i) === 48;
  if (zero && i + 1 < to && text.charCodeAt(i + 1) !== 46) return false;
  let digits = 0;
  let leadingFractionZeros = 0;
  let point = -1;
  for (; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (point >= 0) return false;
      point = i;
    } else if (c >= 48 && c <= 57) {
      if (zero && point >= 0 && digits === 1 && c === 48) leadingFractionZeros++;
      else digits++;
    } else {
      return false;
    }
  }
  if (point >= 0 && (point === to - 1 || text.charCodeAt(to - 1) === 48)) return false;
  if (zero && point >= 0 && leadingFractionZeros >= 6) return false;
  if (zero && point < 0 && text.charCodeAt(from) === 45) return false; // -0
  return digits <= (zero ? 16 : 15);
}

/** The index of the quote that closes the string opened at `open`, or -1. */
function stringEnd(text: string, open: number): number {
  let j = open;
  for (;;) {
    j = text.indexOf('"', j + 1);
    if (j < 0) return -1;
    let k = j - 1;
    while (text.charCodeAt(k) === BACKSLASH) k--;
    if ((j - 1 - k) % 2 === 0) return j;
  }
}

const keepNumber = (token: string): unknown => (survivesDouble(token) ? Number(token) : new RawJson(token));

/** JSON text -> a value; numbers a double would change are RawJson. Throws JsonSyntaxError. */
export function parseExactJson(text: string): unknown {
  const { exact } = scanJson(text);
  try {
    return exact ? JSON.parse(text) : parseLossless(text, null, keepNumber);
  } catch (err) {
    throw new JsonSyntaxError((err as Error).message);
  }
}

/**
 * Why PostgreSQL would refuse this JSON text as jsonb, or undefined: a \u0000 escape, or
 * a \uD800-\uDFFF escape that is not half of a pair. (Checked here so that the refusal
 * names the field, as a 422.)
 */
export function jsonbProblem(text: string): string | undefined {
  for (let i = text.indexOf('\\'); i >= 0; i = text.indexOf('\\', i + 2)) {
    if (text[i + 1] !== 'u') continue;
    const code = parseInt(text.slice(i + 2, i + 6), 16);
    if (code === 0) return 'may not contain NUL characters (\\u0000)';
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text[i + 6] === '\\' && text[i + 7] === 'u' ? parseInt(text.slice(i + 8, i + 12), 16) : NaN;
      if (!(next >= 0xdc00 && next <= 0xdfff)) return 'has half of a UTF-16 surrogate pair (\\ud800-\\udbff alone)';
      i += 6;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      return 'has half of a UTF-16 surrogate pair (\\udc00-\\udfff alone)';
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- writing

// While stringifyExact runs, RawJson.toJSON answers a placeholder string that names its
// text by position, and the placeholders (quoted) are then replaced by the texts. The
// mark carries a random nonce per process, so no client string can pass for one.
const MARK = `\u0060tw-raw-${crypto.randomBytes(8).toString('hex')}-`;
let pending: string[] | null = null;

/** JSON.stringify, with every RawJson written as its exact text. */
export function stringifyExact(value: unknown): string {
  const outer = pending;
  const raws: string[] = [];
  pending = raws;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } finally {
    pending = outer;
  }
  if (text === undefined) return 'null';
  if (raws.length === 0) return text;
  // Placeholders appear in the order toJSON was called: splice each text in, left to right.
  const parts: string[] = [];
  let at = 0;
  for (let k = 0; k < raws.length; k++) {
    const placeholder = `"${MARK}${k}"`;
    const start = text.indexOf(placeholder, at);
    if (start < 0) throw new Error('stringifyExact: a placeholder went missing');
    parts.push(text.slice(at, start), raws[k]!);
    at = start + placeholder.length;
  }
  parts.push(text.slice(at));
  return parts.join('');
}
