// The value written to a many-to-many link: a list of linked rows, by id or by label.
// Accepted: a JSON list of ids, digit strings, "#id", {id} objects or labels; or one text
// of comma-separated items (a form, a CSV cell). An item of digits (or "#digits") is an
// id; any other item is a label, resolved against the linked table when the row is written.
import { asText, isEmpty } from './common.js';
import { RawJson } from './exact_json.js';
import { FieldValueError } from './types.js';

/** At most this many linked rows in one write of one field. */
export const MAX_LINKS_PER_WRITE = 1000;

export interface LinkList {
  /** ids as digit strings (exact past 2^53), deduplicated, in the order given */
  ids: string[];
  /** labels to resolve, deduplicated */
  labels: string[];
}

const ID_RE = /^#?([1-9]\d{0,17})$/;

function item(raw: unknown, out: LinkList): void {
  if (raw === null || raw === undefined || raw === '') return;
  if (typeof raw === 'object' && !Array.isArray(raw) && !(raw instanceof RawJson) && 'id' in (raw as object)) raw = (raw as { id: unknown }).id;
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw) || raw < 1) throw new FieldValueError(`${raw} is not the id of a row`);
    raw = String(raw);
  }
  if (raw instanceof RawJson) raw = raw.text;
  if (typeof raw !== 'string') throw new FieldValueError('takes a list of row ids or labels');
  const text = asText(raw, 10_000).trim();
  if (text === '') return;
  const m = ID_RE.exec(text);
  if (m) {
    if (!out.ids.includes(m[1]!)) out.ids.push(m[1]!);
  } else if (/^#?\d+$/.test(text)) {
    throw new FieldValueError(`"${text.slice(0, 30)}" is not the id of a row`);
  } else if (!out.labels.includes(text)) {
    out.labels.push(text);
  }
}

export function parseLinkList(input: unknown): LinkList {
  const out: LinkList = { ids: [], labels: [] };
  if (isEmpty(input)) return out;
  const list = Array.isArray(input) ? input : typeof input === 'string' ? input.split(',') : [input];
  if (list.length > MAX_LINKS_PER_WRITE) throw new FieldValueError(`links at most ${MAX_LINKS_PER_WRITE} rows at once`);
  for (const raw of list) item(raw, out);
  return out;
}

export const isLinkList = (v: unknown): v is LinkList => typeof v === 'object' && v !== null && Array.isArray((v as LinkList).ids) && Array.isArray((v as LinkList).labels);
