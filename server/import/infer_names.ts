// Header cells -> field display names and column names for a new table. Every header gets
// a field: a blank one is "Column 3"; a repeated one (case-insensitive, as field names are
// compared) gets " 2", " 3"; control characters become spaces; the column name is the
// slug the schema editor would derive (server/schema/names.ts), unique in the table, never
// a reserved word or "id".
import { derivePhysicalName, MAX_DISPLAY_NAME } from '../schema/names.js';
import type { Queryable } from '../db/pool.js';

export interface ColumnName {
  /** the header cell as the file has it */
  header: string;
  name: string;
  column: string;
}

/** A display name from a header cell, without control characters, at most MAX_DISPLAY_NAME. */
function cleanName(raw: string, position: number): string {
  // eslint-disable-next-line no-control-regex
  const text = raw.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  const name = text || `Column ${position + 1}`;
  // At most MAX_DISPLAY_NAME UTF-16 units with room for " 99", never half a surrogate pair.
  let out = '';
  for (const ch of name) {
    if (out.length + ch.length > MAX_DISPLAY_NAME - 6) break;
    out += ch;
  }
  return out.trim();
}

export async function namesFor(db: Queryable, header: string[]): Promise<ColumnName[]> {
  const names = new Set<string>();
  const columns = new Set<string>();
  const out: ColumnName[] = [];
  for (const [i, raw] of header.entries()) {
    const base = cleanName(raw, i);
    let name = base;
    for (let n = 2; names.has(name.toLowerCase()); n++) name = `${base} ${n}`;
    names.add(name.toLowerCase());
    const column = await derivePhysicalName(db, name, `column_${i + 1}`, (c) => columns.has(c), 'column');
    columns.add(column);
    out.push({ header: raw, name, column });
  }
  return out;
}
