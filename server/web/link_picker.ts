// A link field's picker in the console (the grid's cell editor, its add-row form, the row
// page): the linked table's rows offered by label, and what the user typed turned back
// into a row id. The API takes ids; people type labels ("Acme"), or pick an option of the
// datalist, whose text is "Acme (#3)". Both are read here, before the row is written.
import type { AppContext } from '../context.js';
import { AppError, unprocessable } from '../errors.js';
import { withModel } from '../model/cache.js';
import { labelField, listChoices, MAX_CHOICE_QUERY } from '../model/choices.js';
import type { ModelField } from '../model/compile.js';
import { listRows } from '../model/rows.js';
import { choiceOption, type LinkPicker } from './grid_view.js';
import { modelsOf } from './routes/rows.js';

/**
 * What a link field's editor offers: the linked table's first rows for its datalist
 * (GET /tables/:id/rows/choices refreshes them as the user types). None when the linked
 * table is gone (in the trash since this model was compiled): the id input alone.
 */
export async function linkPicker(ctx: AppContext, f: ModelField): Promise<LinkPicker | undefined> {
  if (!f.link) return undefined;
  const tableId = f.link.tableId;
  try {
    return await withModel(modelsOf(ctx), tableId, async (target) => ({
      tableId,
      tableName: target.table.name,
      options: (await listChoices(ctx.pool, target, {})).map(choiceOption),
    }));
  } catch (err) {
    if (err instanceof AppError && err.status === 404) return undefined;
    throw err;
  }
}

/** "Acme (#3)" (a datalist option's text) and "#3" name row 3. */
const ID_IN_TEXT = /^#([1-9]\d{0,17})$|\(#([1-9]\d{0,17})\)$/;

/**
 * The value to write for a single link field, from what was typed: an id as is; a
 * datalist option's text or "#id" as its id; otherwise a label of the linked table,
 * matched exactly, then ignoring case. No row or several with that label: 422 naming
 * `field` (the form's input), with the matches to choose from. Other fields' values pass.
 */
export async function linkValueFromLabel(ctx: AppContext, f: ModelField, value: unknown, field: string): Promise<unknown> {
  if (f.meta.type !== 'link' || f.options?.multiple || !f.link || typeof value !== 'string') return value;
  const text = value.trim();
  if (text === '' || /^\d+$/.test(text)) return value;
  const id = ID_IN_TEXT.exec(text);
  if (id) return id[1] ?? id[2]!;
  const linkedTable = f.link.tableId;
  const what = text.length > 60 ? `${text.slice(0, 59)}…` : text;
  // A text no label can hold (a NUL byte, which PostgreSQL's text refuses) names no row;
  // the lookup's own refusal would name its filter, not the input the user typed in.
  if (text.includes('\u0000')) throw unprocessable('invalid_value', `${f.meta.name}: no row is labelled "${what.replace(/\u0000/g, '\\0')}"; pick one from the list or give its #id`, field);
  const ids = await withModel(modelsOf(ctx), linkedTable, async (target) => {
    const label = labelField(target);
    if (!label) throw unprocessable('invalid_value', `${f.meta.name}: the rows of ${target.table.name} have no label to type; give a row id`, field);
    const exact = await listRows(ctx.pool, target, { filter: { [label.column]: { eq: text } }, sort: 'id', size: '2', count: '0' });
    if (exact.rows.length > 0) return { rows: exact.rows.map((r) => Number(r.id)), table: target.table.name };
    // Case aside: the rows whose label contains the text, kept when it is all of the label
    // (a search takes at most MAX_CHOICE_QUERY characters: a longer text was matched exactly or not at all).
    if (text.length > MAX_CHOICE_QUERY) return { rows: [], table: target.table.name };
    const near = await listChoices(ctx.pool, target, { q: text, size: '50' });
    return { rows: near.filter((c) => c.label.toLowerCase() === text.toLowerCase()).map((c) => c.id), table: target.table.name };
  });
  if (ids.rows.length === 1) return String(ids.rows[0]);
  if (ids.rows.length === 0) throw unprocessable('invalid_value', `${f.meta.name}: no row of ${ids.table} is labelled "${what}"; pick one from the list or give its #id`, field);
  throw unprocessable('invalid_value', `${f.meta.name}: several rows of ${ids.table} are labelled "${what}" (${ids.rows.map((i) => `#${i}`).join(', ')}…); give the #id of the one you mean`, field);
}
