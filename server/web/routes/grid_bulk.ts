// The grid's actions on the checked rows: delete them, or set one field to one value on
// all of them. One form (views/partials/grid_bulk.ejs) whose checkboxes sit in the grid's
// rows (form="grid-bulk"), so it works without JavaScript; a delete asks first (a confirm
// page, or with JavaScript the browser's confirm, which then sends confirm=1). Each action
// is one transaction: all the rows, or none.
import type { Request } from 'express';
import { withTransaction } from '../../db/tx.js';
import { AppError, badRequest } from '../../errors.js';
import { deleteRows, updateRows, writeTarget } from '../../model/rows.js';
import { idParam } from '../../schema/input.js';
import { writeContext } from '../../history/stamp.js';
import { reply } from '../negotiate.js';
import { route } from '../route.js';
import { answerGrid, gridLocals, gridState, stateQuery, undoOffer } from './grid_page.js';
import { tableLocals } from './tables.js';
import { rowsChanged, useModel } from './rows.js';
import { body } from './schema_deps.js';

const MAX_CHECKED = 1000;

/** The checked ids (the form repeats `ids`). */
function checkedIds(req: Request): number[] {
  const raw = body(req).ids;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw badRequest('check one or more rows first', 'ids');
  if (list.length > MAX_CHECKED) throw badRequest(`at most ${MAX_CHECKED} rows at a time`, 'ids');
  const ids = list.map((v) => (typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : NaN));
  if (!ids.every((n) => Number.isSafeInteger(n) && n > 0)) throw badRequest('ids are row ids (positive whole numbers)', 'ids');
  return [...new Set(ids)];
}

const last = (v: unknown): unknown => (Array.isArray(v) ? v[v.length - 1] : v);

export const gridBulkRoutes = [
  route('post', '/tables/:id/grid/bulk', 'editor', 'the checked rows (ids): action=delete (confirm=1, else the confirm page) or action=set with column and value; answers the grid for the query string', async (ctx, req, res) => {
    const b = body(req);
    const action = last(b.action);
    const ids = checkedIds(req);
    const tableId = idParam(req.params.id);
    if (action === 'delete') {
      if (last(b.confirm) !== '1') {
        const locals = await useModel(ctx, req, async (model) => {
          writeTarget(model);
          const query = stateQuery(gridState(req.query as Record<string, unknown>));
          return { title: `Delete ${ids.length} ${ids.length === 1 ? 'row' : 'rows'}?`, section: 'tables', table: model.table, ids, action: `/tables/${tableId}/grid/bulk${query ? `?${query}` : ''}`, cancel: `/tables/${tableId}${query ? `?${query}` : ''}` };
        });
        await reply(req, res, { json: { confirm: 'send confirm=1 to delete', ids }, page: 'rows_delete', fragment: 'rows_delete_confirm', locals });
        return;
      }
      await useModel(ctx, req, (model) => withTransaction(ctx.pool, (tx) => deleteRows(tx, model, { ids }, writeContext(req))));
      rowsChanged(ctx, req, 'delete', ids);
      const label = `${ids.length} ${ids.length === 1 ? 'row' : 'rows'} deleted (they are in the row trash).`;
      await answerGrid(ctx, req, res, { json: { deleted: ids.length, ids }, extra: { undo: undoOffer(req, ids, label) }, flash: ['rows_deleted', ids.length] });
      return;
    }
    if (action !== 'set') throw badRequest('action is delete or set', 'action');
    const column = last(b.column);
    const value = last(b.value) ?? '';
    if (typeof column !== 'string' || !column) throw badRequest('choose the field to set', 'column');
    try {
      const rows = await useModel(ctx, req, (model) => {
        const f = model.byColumn.get(column);
        if (!f) throw badRequest(`no field has the column "${column.slice(0, 60)}"`, 'column');
        return withTransaction(ctx.pool, (tx) => updateRows(tx, model, ids.map((id) => ({ id, [column]: value })), writeContext(req)));
      });
      rowsChanged(ctx, req, 'update', ids);
      const label = `${rows.length} ${rows.length === 1 ? 'row' : 'rows'} changed.`;
      await answerGrid(ctx, req, res, { json: { rows }, extra: { undo: undoOffer(req, ids, label) }, flash: ['rows_set', rows.length] });
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 422) throw err;
      // The value is refused (for the first row it is refused for all): the grid again, the
      // message beside the bulk form, the rows checked as they were.
      const first = (err.details as { errors?: Array<{ message: string }> } | undefined)?.errors?.[0]?.message ?? err.message;
      const extra = { bulkError: `Nothing was changed: ${first}`, bulkChecked: ids, bulkColumn: column, bulkValue: String(value) };
      // Without JavaScript too: the table page itself, not a redirect that would lose it.
      await reply(req, res, { status: 422, json: err.toJSON(), fragment: 'grid', page: 'table', locals: await tableLocals(ctx, tableId, { grid: await gridLocals(ctx, req, extra) }) });
    }
  }),
];
