// link: a row of another user table. The column is a bigint foreign key to that table's
// id (ON DELETE SET NULL) with an index; the schema editor adds both.
//
// With options.multiple (many-to-many) the field has no column: its pairs live in a
// junction table (server/schema/m2m.ts) that the schema editor names and keeps in the
// options, with the reverse field on the other table. Its value is a list of {id,label}.
import { z } from 'zod';
import { asText, isEmpty } from './common.js';
import { RawJson } from './exact_json.js';
import { numberToJson } from './number.js';
import { FieldValueError, type FieldTypeDef } from './types.js';
import { parseLinkList } from './link_list.js';

const ident = z.string().regex(/^[a-z_][a-z0-9_$]*$/).max(63);
const options = z
  .object({
    table_id: z.number().int().min(1),
    multiple: z.boolean().optional(),
    /** many-to-many, on creation only: the display name of the reverse field */
    reverse_name: z.string().min(1).max(255).optional(),
    // many-to-many, set by the schema editor (never taken from a request):
    junction: ident.optional(),
    self_column: ident.optional(),
    other_column: ident.optional(),
    reverse_field_id: z.number().int().min(1).optional(),
  })
  .strict();
type Opts = z.infer<typeof options>;

export const linkType: FieldTypeDef<Opts> = {
  name: 'link',
  label: 'Link to table',
  options,
  sqlType: () => 'bigint',
  parse(input, opts) {
    if (opts?.multiple) return parseLinkList(input);
    if (isEmpty(input)) return null;
    const raw = typeof input === 'object' && input !== null && 'id' in input ? (input as { id: unknown }).id : input;
    const text = typeof raw === 'number' ? String(raw) : asText(raw).trim();
    // "#12" as the grid shows a row without a label, and as a many-to-many link takes it
    const m = /^#?([1-9]\d{0,17})$/.exec(text);
    if (!m) throw new FieldValueError('must be the id of a row in the linked table');
    // As text: PostgreSQL reads it as the bigint it is (a JS number stops being exact at 2^53).
    return m[1]!;
  },
  // The model replaces the id with {id, label} from the linked table.
  toJson: (v, opts) =>
    opts?.multiple ? (Array.isArray(v) ? v : []) : (v == null ? null : typeof v === 'object' && !(v instanceof RawJson) ? v : { id: numberToJson(v), label: null }),
  display: (v) => {
    if (v == null) return '';
    if (Array.isArray(v)) return (v as Array<{ id: number; label: string | null }>).map((o) => o.label ?? `#${o.id}`).join(', ');
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
