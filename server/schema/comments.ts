// COMMENT ON every managed table and column says what it is, for a person (`\d+` in psql)
// and for a restore: the display name, the ids, and for a column its field type and
// options (select labels and ids, decimals, link target) and, while trashed, its original
// name. So the metadata can be rebuilt from the catalog alone: a schema-only restore of
// DATA_SCHEMA is adopted back with its types and labels, and after any restore a table is
// recognised by its comment, never by an oid.
//
//   Customers (tablewright table 3)
//   Customers (tablewright table 3) {"trashed":true,"table_name":"customers"}
//   Status (tablewright field 12 of table 3) {"type":"single_select","options":{"choices":[...]}}
//
// The tag in parentheses is what identifies; the JSON after it is a hint that adoption
// checks against the column's real type before it uses it.

export interface TableCommentMeta {
  trashed?: boolean;
  /** the physical name in DATA_SCHEMA while the table is parked in the trash */
  table_name?: string;
}

export interface ColumnCommentMeta {
  type?: string;
  options?: unknown;
  trashed?: boolean;
  /** the column's own name while it is parked under a trash name */
  column?: string;
}

export function tableComment(t: { id: number; name: string }, meta: TableCommentMeta = {}): string {
  const json = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : '';
  return `${t.name} (tablewright table ${t.id})${json}`;
}

export function columnComment(f: { id: number; name: string; type?: string; options?: unknown }, t: { id: number }, meta: Omit<ColumnCommentMeta, 'type' | 'options'> = {}): string {
  const body: ColumnCommentMeta = { ...(f.type ? { type: f.type, options: f.options ?? {} } : {}), ...meta };
  const json = Object.keys(body).length ? ` ${JSON.stringify(body)}` : '';
  return `${f.name} (tablewright field ${f.id} of table ${t.id})${json}`;
}

// The last tag wins: a display name may itself contain parentheses.
const TABLE_RE = /^([\s\S]*) \(tablewright table (\d+)\)(?: (\{[\s\S]*\}))?$/;
const FIELD_RE = /^([\s\S]*) \(tablewright field (\d+) of table (\d+)\)(?: (\{[\s\S]*\}))?$/;

function parseJson<T>(text: string | undefined): T | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as T) : undefined;
  } catch {
    return undefined;
  }
}

export interface ParsedTableComment {
  name: string;
  tableId: number;
  meta: TableCommentMeta;
}

export interface ParsedColumnComment {
  name: string;
  fieldId: number;
  tableId: number;
  meta: ColumnCommentMeta;
}

export function parseTableComment(comment: string | null | undefined): ParsedTableComment | undefined {
  const m = comment ? TABLE_RE.exec(comment) : null;
  if (!m) return undefined;
  return { name: m[1]!, tableId: Number(m[2]), meta: parseJson<TableCommentMeta>(m[3]) ?? {} };
}

export function parseColumnComment(comment: string | null | undefined): ParsedColumnComment | undefined {
  const m = comment ? FIELD_RE.exec(comment) : null;
  if (!m) return undefined;
  return { name: m[1]!, fieldId: Number(m[2]), tableId: Number(m[3]), meta: parseJson<ColumnCommentMeta>(m[4]) ?? {} };
}
