// The field types, by name. Adding a type: a module implementing FieldTypeDef, listed here.
import { AppError } from '../errors.js';
import { RawJson } from './exact_json.js';
import { booleanType } from './boolean.js';
import { currencyType } from './currency.js';
import { durationType } from './duration.js';
import { percentType } from './percent.js';
import { phoneType } from './phone.js';
import { ratingType } from './rating.js';
import { dateType, datetimeType } from './date.js';
import { emailType, urlType } from './email_url.js';
import { jsonType } from './json.js';
import { linkType } from './link.js';
import { lookupType, rollupType } from './computed.js';
import { formulaType } from './formula.js';
import { multipleSelectType } from './multiple_select.js';
import { numberType } from './number.js';
import { singleSelectType } from './single_select.js';
import { autonumberType, createdAtType, createdByType, updatedAtType, updatedByType } from './system.js';
import { longTextType, textType } from './text.js';
import { FIELD_TYPES, type FieldTypeDef, type FieldTypeName } from './types.js';

const registry: Record<FieldTypeName, FieldTypeDef> = {
  text: textType,
  long_text: longTextType,
  number: numberType,
  boolean: booleanType,
  date: dateType,
  datetime: datetimeType,
  email: emailType,
  url: urlType,
  single_select: singleSelectType,
  json: jsonType,
  link: linkType,
  autonumber: autonumberType,
  created_at: createdAtType,
  updated_at: updatedAtType,
  created_by: createdByType,
  updated_by: updatedByType,
  rating: ratingType,
  percent: percentType,
  currency: currencyType,
  duration: durationType,
  phone: phoneType,
  lookup: lookupType,
  rollup: rollupType,
  multiple_select: multipleSelectType,
  formula: formulaType,
};

export function isFieldType(name: unknown): name is FieldTypeName {
  return typeof name === 'string' && (FIELD_TYPES as readonly string[]).includes(name);
}

export function fieldType(name: string, field = 'type'): FieldTypeDef {
  if (!isFieldType(name)) {
    throw new AppError(400, 'invalid_type', `"${String(name).slice(0, 40)}" is not a field type; use one of: ${FIELD_TYPES.join(', ')}`, field);
  }
  return registry[name];
}

export function allFieldTypes(): FieldTypeDef[] {
  return FIELD_TYPES.map((n) => registry[n]);
}

/**
 * The whole number a JSON number token stands for, when a double holds it exactly
 * (`2.0`, `-0`, `1e1`: kept as RawJson by the body reader, as their text differs from a
 * double's); undefined for a fraction or a number past 2^53 (never rounded into an id).
 */
export function exactWholeNumber(text: string): number | undefined {
  const m = /^(-?)(\d{1,400})(?:\.(\d{1,400}))?(?:[eE]([+-]?\d{1,3}))?$/.exec(text);
  if (!m) return undefined;
  let digits = m[2]! + (m[3] ?? '');
  let exp = Number(m[4] ?? 0) - (m[3]?.length ?? 0);
  while (exp < 0 && digits.length > 1 && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    exp++;
  }
  if (exp < 0 && /^0+$/.test(digits)) exp = 0;
  if (exp < 0 || digits.replace(/^0+/, '').length + exp > 16) return undefined;
  const v = BigInt(digits) * 10n ** BigInt(exp);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return m[1] && v !== 0n ? -Number(v) : Number(v);
}

/** Options with each exactly whole RawJson number made a number (options take no fractions). */
function wholeNumbers(raw: unknown): unknown {
  if (raw instanceof RawJson) return exactWholeNumber(raw.text) ?? raw;
  if (Array.isArray(raw)) return raw.map(wholeNumbers);
  if (raw !== null && typeof raw === 'object') return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, wholeNumbers(v)]));
  return raw;
}

/** Validates a type's options; a 400 naming `options` (and the bad key) when they do not fit. */
export function parseOptions(type: FieldTypeDef, raw: unknown): any {
  const result = type.options.safeParse(wholeNumbers(raw ?? {}));
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? `options.${issue.path.join('.')}` : 'options';
    // a number a double cannot hold exactly (a fraction, or past 2^53) reaches the schema as RawJson
    const message = issue.message.includes('received RawJson') ? 'expected a whole number this option takes' : issue.message;
    throw new AppError(400, 'invalid_options', `${type.label} options: ${message}`, where);
  }
  return result.data;
}
