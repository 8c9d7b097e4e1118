import { z } from 'zod';
import { wholeNumberInput } from './common.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

const TRUE = ['true', 't', 'yes', 'y', '1', 'on', 'checked'];
const FALSE = ['false', 'f', 'no', 'n', '0', 'off', 'unchecked'];
const sqlList = (words: string[]) => words.map((w) => `'${w}'`).join(', ');

export const booleanType: FieldTypeDef<Record<string, never>> = {
  name: 'boolean',
  label: 'Checkbox',
  options: z.object({}).strict(),
  sqlType: () => 'boolean',
  parse(raw) {
    const input = wholeNumberInput(raw);
    if (input === undefined || input === null || input === '') return null;
    if (typeof input === 'boolean') return input;
    if (typeof input === 'number' && (input === 0 || input === 1)) return input === 1;
    if (typeof input === 'string') {
      const w = input.trim().toLowerCase();
      if (TRUE.includes(w)) return true;
      if (FALSE.includes(w)) return false;
    }
    throw new FieldValueError('must be true or false');
  },
  toJson: (v) => (v == null ? null : Boolean(v)),
  display: (v) => (v == null ? '' : v ? 'yes' : 'no'),
  filterOps: ['eq', 'neq', 'empty', 'not_empty'],
  searchable: false,
  toText: (e) => `CASE WHEN ${e} THEN 'true' WHEN NOT ${e} THEN 'false' END`,
  fromText: (t) =>
    `CASE WHEN lower(btrim(${t})) IN (${sqlList(TRUE)}) THEN true WHEN lower(btrim(${t})) IN (${sqlList(FALSE)}) THEN false END`,
};
