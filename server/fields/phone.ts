// phone: a phone number as written ('+44 20 7946 0958', '(555) 010-9999 x12'), in text:
// digits with the usual punctuation, 3 to 20 digits, an optional extension. Stored as
// typed (trimmed): no country is guessed, so nothing is reformatted or lost.
import { z } from 'zod';
import { asText, isEmpty } from './common.js';
import { RawJson } from './exact_json.js';
import { textType } from './text.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

const PHONE_RE = /^\+?[0-9 ().\-/]{3,40}(?: *(?:x|ext\.?) *[0-9]{1,6})?$/i;
const PHONE_SQL_RE = `'^\\+?[0-9 ().\\-/]{3,40}( *(x|ext\\.?) *[0-9]{1,6})?$'`;

function digitsOf(main: string): number {
  return main.replace(/(?:x|ext\.?) *[0-9]+$/i, '').replace(/\D/g, '').length;
}

export const phoneType: FieldTypeDef<Record<string, never>> = {
  ...(textType as unknown as FieldTypeDef<Record<string, never>>),
  name: 'phone',
  label: 'Phone',
  options: z.object({}).strict(),
  parse(input) {
    if (isEmpty(input)) return null;
    const text = (input instanceof RawJson || typeof input === 'number' ? String(input instanceof RawJson ? input.text : input) : asText(input, 100)).trim();
    const digits = digitsOf(text);
    if (!PHONE_RE.test(text) || digits < 3 || digits > 20) throw new FieldValueError(`"${text.slice(0, 40)}" is not a phone number (3 to 20 digits, + ( ) - . / and spaces, an optional "x123" extension)`);
    return text;
  },
  filterOps: ['eq', 'neq', 'contains', 'empty', 'not_empty', 'in'],
  searchable: true,
  toText: (e) => e,
  fromText: (t) =>
    `CASE WHEN length(${t}) <= 100 THEN CASE WHEN btrim(${t}) ~* ${PHONE_SQL_RE} THEN CASE WHEN length(regexp_replace(regexp_replace(btrim(${t}), '(x|ext\\.?) *[0-9]+$', '', 'i'), '[^0-9]', '', 'g')) BETWEEN 3 AND 20 THEN btrim(${t}) END END END`,
};
