// link: a row of another user table. The column is a bigint foreign key to that table's
// id (ON DELETE SET NULL) with an index; the schema editor adds both.
import { z } from 'zod';
import { asText, isEmpty } from './common.js';
import { RawJson } from './exact_json.js';
import { numberToJson } from './number.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

const options = z.object({ table_id: z.number().int().min(1) }).strict();
type Opts = z.infer<typeof options>;

export const linkType: FieldTypeDef<Opts> = {
  name: 'link',
  label: 'Link to table',
  options,
  sqlType: () => 'bigint',
  parse(input) {
    if (isEmpty(input)) return null;
    const raw = typeof input === 'object' && input !== null && 'id' in input ? (input as { id: unknown }).id : input;
    const text = typeof raw === 'number' ? String(raw) : asText(raw).trim();
    if (text.length > 18 || !/^[1-9]\d{0,17}$/.test(text)) throw new FieldValueError('must be the id of a row in the linked table');
    // As text: PostgreSQL reads it as the bigint it is (a JS number stops being exact at 2^53).
    return text;
  },
  // The model replaces the id with {id, label} from the linked table.
  toJson: (v) => (v == null ? null : typeof v === 'object' && !(v instanceof RawJson) ? v : { id: numberToJson(v), label: null }),
  display: (v) => {
    if (v == null) return '';
    if (typeof v === 'object') {
      const o = v as { id: number; label: string | null };
      return o.label ?? `#${o.id}`;
    }
    return `#${v}`;
  },
  filterOps: ['eq', 'neq', 'in', 'empty', 'not_empty'],
  searchable: false,
  toText: (e) => `(${e})::text`,
  fromText: (t) => `CASE WHEN btrim(${t}) ~ '^[0-9]{1,18}$' THEN btrim(${t})::bigint END`,
};
