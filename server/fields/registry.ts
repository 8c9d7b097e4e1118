// The field types, by name. Adding a type: a module implementing FieldTypeDef, listed here.
import { AppError } from '../errors.js';
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

/** Validates a type's options; a 400 naming `options` (and the bad key) when they do not fit. */
export function parseOptions(type: FieldTypeDef, raw: unknown): any {
  const result = type.options.safeParse(raw ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? `options.${issue.path.join('.')}` : 'options';
    throw new AppError(400, 'invalid_options', `${type.label} options: ${issue.message}`, where);
  }
  return result.data;
}
