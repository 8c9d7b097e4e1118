// A table's rows as choices for a link picker: {id, label}, where the label is what a
// link to this table shows (compile.ts: the first text, long text or email field, in
// display order). Built on listRows, so the matching is the listing's own: an ILIKE with
// the text bound as $n, and id equality. Nothing here writes SQL.
import type pg from 'pg';
import { badRequest } from '../errors.js';
import { isLabelType, type Model, type ModelField } from './compile.js';
import { listRows, type ListRequest, type Row } from './rows.js';

export const DEFAULT_CHOICES = 20;
export const MAX_CHOICES = 50;
/** How long q may be (the listing's search takes as much). */
export const MAX_CHOICE_QUERY = 200;

export interface Choice {
  id: number;
  /** the label field's value; `#id` when the table has none, or the row leaves it empty */
  label: string;
}

export interface ChoicesRequest {
  /** text the label contains (case-insensitive), or a row id when all digits */
  q?: unknown;
  /** 1..MAX_CHOICES, default DEFAULT_CHOICES */
  size?: unknown;
}

/** The field whose value names a row of this table, when it has one. */
export function labelField(model: Model): ModelField | undefined {
  return model.fields.find((f) => isLabelType(f.meta.type));
}

/** A size out of range is refused (400, field `size`), as the listing does; never clamped. */
export function parseChoicesSize(raw: unknown): number {
  if (raw === undefined || raw === '') return DEFAULT_CHOICES;
  const n = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_CHOICES) throw badRequest(`size is a whole number from 1 to ${MAX_CHOICES}`, 'size');
  return n;
}

export function parseChoicesQuery(raw: unknown): string {
  if (raw === undefined) return '';
  if (typeof raw !== 'string') throw badRequest('q is one piece of text', 'q');
  if (raw.length > MAX_CHOICE_QUERY) throw badRequest(`q is at most ${MAX_CHOICE_QUERY} characters`, 'q');
  if (raw.includes('\0')) throw badRequest('q may not contain NUL bytes', 'q');
  return raw.trim();
}

/**
 * Up to `size` rows, by id. With q: the row whose id is q (when q is all digits) first,
 * then the rows whose label contains q. Without q: the first rows.
 */
export async function listChoices(pool: pg.Pool, model: Model, req: ChoicesRequest): Promise<Choice[]> {
  const q = parseChoicesQuery(req.q);
  const size = parseChoicesSize(req.size);
  const label = labelField(model);
  const list = async (extra: ListRequest): Promise<Row[]> => (await listRows(pool, model, { sort: 'id', size: String(size), count: '0', ...extra })).rows;

  let rows: Row[];
  if (!q) {
    rows = await list({});
  } else {
    // ids past 18 digits are no bigint: such a q can only be part of a label.
    const byId = /^\d{1,18}$/.test(q) ? await list({ size: '1', filter: { id: { eq: q } } }) : [];
    const byLabel = label ? await list({ filter: { [label.column]: { contains: q } } }) : [];
    const seen = new Set(byId.map((r) => r.id));
    rows = [...byId, ...byLabel.filter((r) => !seen.has(r.id))].slice(0, size);
  }
  return rows.map((r) => {
    const id = Number(r.id);
    const text = label ? r[label.column] : null;
    return { id, label: typeof text === 'string' && text !== '' ? text : `#${id}` };
  });
}
