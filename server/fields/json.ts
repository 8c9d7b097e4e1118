import { z } from 'zod';
import { isEmpty } from './common.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

export const jsonType: FieldTypeDef<Record<string, never>> = {
  name: 'json',
  label: 'JSON',
  options: z.object({}).strict(),
  sqlType: () => 'jsonb',
  // A string is JSON text (from a form, or "\"hello\"" for a JSON string); other JSON
  // values are stored as they are.
  parse(input) {
    if (isEmpty(input)) return null;
    if (typeof input === 'string') {
      if (input.includes('\0') || input.includes('\\u0000')) throw new FieldValueError('may not contain NUL characters');
      try {
        return JSON.stringify(JSON.parse(input));
      } catch {
        throw new FieldValueError('is not valid JSON');
      }
    }
    const text = JSON.stringify(input);
    if (text.includes('\\u0000')) throw new FieldValueError('may not contain NUL characters');
    if (text.length > 1_000_000) throw new FieldValueError('is larger than 1 MB');
    return text;
  },
  toJson: (v) => (v === undefined ? null : v),
  display: (v) => {
    if (v == null) return '';
    const s = JSON.stringify(v);
    return s.length > 80 ? `${s.slice(0, 79)}…` : s;
  },
  filterOps: ['contains', 'empty', 'not_empty'],
  searchable: false,
  toText: (e) => `CASE WHEN jsonb_typeof(${e}) = 'string' THEN ${e} #>> '{}' ELSE (${e})::text END`,
  // Text that is JSON becomes that value; any other text becomes a JSON string: lossless.
  fromText: (t) => `coalesce(tablewright.try_jsonb(NULLIF(${t}, '')), to_jsonb(NULLIF(${t}, '')))`,
};
