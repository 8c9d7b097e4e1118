import { z } from 'zod';
import { asText } from './common.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

const options = z.object({ max_length: z.number().int().min(1).max(1_000_000).optional() }).strict();
type Opts = z.infer<typeof options>;

// Only '' (a blank form input, an empty CSV cell) and null mean "no value": text of
// spaces is stored as sent, like any other text.
function parse(input: unknown, opts: Opts): string | null {
  if (input === undefined || input === null || input === '') return null;
  const text = asText(input);
  if (opts.max_length !== undefined && text.length > opts.max_length) throw new FieldValueError(`is longer than ${opts.max_length} characters`);
  return text;
}

export const textType: FieldTypeDef<Opts> = {
  name: 'text',
  label: 'Text',
  options,
  sqlType: () => 'text',
  parse,
  toJson: (v) => v ?? null,
  display: (v) => (v == null ? '' : String(v)),
  filterOps: ['eq', 'neq', 'contains', 'empty', 'not_empty', 'in'],
  searchable: true,
  toText: (e) => e,
  // Empty text converts to an empty field (NULL), as it reads in the grid.
  fromText: (t) => `NULLIF(${t}, '')`,
};

export const longTextType: FieldTypeDef<Opts> = {
  ...textType,
  name: 'long_text',
  label: 'Long text',
  display: (v) => {
    const s = v == null ? '' : String(v);
    return s.length > 120 ? `${s.slice(0, 119)}…` : s;
  },
};
