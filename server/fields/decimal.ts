// Decimal numbers as text, never through a float: parsed in one pass over the characters
// (no regular expression, so no backtracking: a hostile megabyte costs a millisecond),
// and bounded in length before anything else looks at them.

/** Longer number texts are refused unread: no field holds more than 40 significant digits. */
export const MAX_NUMBER_TEXT = 1000;
/** Exponents of at most 3 digits (1e999): expanding one stays small. */
const MAX_EXPONENT_DIGITS = 3;

export interface Decimal {
  negative: boolean;
  /** digits before the point, without leading zeros ('' for zero) */
  whole: string;
  /** digits after the point, without trailing zeros */
  fraction: string;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * `[+-]digits[.digits][e[+-]ddd]` (or `.5`, `5.`), surrounding spaces allowed; null when
 * the text is anything else or longer than MAX_NUMBER_TEXT.
 */
export function parseDecimal(raw: string, maxText = MAX_NUMBER_TEXT): Decimal | null {
  if (raw.length > maxText + 64) return null;
  const text = raw.trim();
  if (text.length === 0 || text.length > maxText) return null;
  let i = 0;
  let negative = false;
  if (text[0] === '+' || text[0] === '-') {
    negative = text[0] === '-';
    i++;
  }
  const wholeStart = i;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  const wholeDigits = text.slice(wholeStart, i);
  let fracDigits = '';
  if (text[i] === '.') {
    const fracStart = ++i;
    while (i < text.length && isDigit(text.charCodeAt(i))) i++;
    fracDigits = text.slice(fracStart, i);
  }
  if (wholeDigits.length === 0 && fracDigits.length === 0) return null;
  let exponent = 0;
  if (text[i] === 'e' || text[i] === 'E') {
    i++;
    let sign = 1;
    if (text[i] === '+' || text[i] === '-') {
      sign = text[i] === '-' ? -1 : 1;
      i++;
    }
    const expStart = i;
    while (i < text.length && isDigit(text.charCodeAt(i))) i++;
    const digits = i - expStart;
    if (digits === 0 || digits > MAX_EXPONENT_DIGITS) return null;
    exponent = sign * Number(text.slice(expStart, i));
  }
  if (i !== text.length) return null;
  return shift(negative, wholeDigits, fracDigits, exponent);
}

/** Moves the point by `exponent` places and trims the zeros that carry no value. */
function shift(negative: boolean, whole: string, fraction: string, exponent: number): Decimal {
  let digits = whole + fraction;
  let point = whole.length + exponent;
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  } else if (point > digits.length) {
    digits += '0'.repeat(point - digits.length);
  }
  let start = 0;
  while (start < point && digits.charCodeAt(start) === 48) start++;
  let end = digits.length;
  while (end > point && digits.charCodeAt(end - 1) === 48) end--;
  const out = { whole: digits.slice(start, point), fraction: digits.slice(point, end) };
  return { negative: negative && (out.whole !== '' || out.fraction !== ''), ...out };
}

/** The shortest plain text of a decimal: '-12.5', '0', '0.001'. */
export function decimalText(d: Decimal): string {
  return `${d.negative ? '-' : ''}${d.whole || '0'}${d.fraction ? `.${d.fraction}` : ''}`;
}

/** True when `text` (a number as PostgreSQL or a client wrote it) reads back the same as a JS number. */
export function survivesDouble(text: string): boolean {
  const n = Number(text);
  return Number.isFinite(n) && String(n) === text;
}

/**
 * A JSON number token as RFC 8259 spells it. Checked by hand, like parseDecimal: the text
 * may be a megabyte long.
 */
export function isJsonNumber(text: string): boolean {
  let i = 0;
  const n = text.length;
  if (text[i] === '-') i++;
  if (text[i] === '0') i++;
  else if (i < n && text.charCodeAt(i) >= 49 && text.charCodeAt(i) <= 57) while (i < n && isDigit(text.charCodeAt(i))) i++;
  else return false;
  if (text[i] === '.') {
    const start = ++i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i === start) return false;
  }
  if (text[i] === 'e' || text[i] === 'E') {
    i++;
    if (text[i] === '+' || text[i] === '-') i++;
    const start = i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i === start) return false;
  }
  return i === n;
}
