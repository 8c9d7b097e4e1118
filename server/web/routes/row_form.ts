// The row's pages that work without JavaScript: the confirm page before a delete (the
// grid's Delete and the row page's link lead here; with htmx the grid asks with
// hx-confirm instead). The row form itself posts to PATCH /tables/:id/rows/:rid (rows.ts).
import { getRow, writeTarget } from '../../model/rows.js';
import { idParam } from '../../schema/input.js';
import { cellView } from '../grid_view.js';
import { reply } from '../negotiate.js';
import { route } from '../route.js';
import { gridState, stateQuery } from './grid_page.js';
import { useModel } from './rows.js';

export const rowFormRoutes = [
  route('get', '/tables/:id/rows/:rid/delete', 'editor', 'the confirm page before deleting a row (the grid query string is kept for the way back)', async (ctx, req, res) => {
    const id = idParam(req.params.rid, 'rid');
    const locals = await useModel(ctx, req, async (model) => {
      writeTarget(model);
      const row = await getRow(ctx.pool, model, id);
      const query = stateQuery(gridState(req.query as Record<string, unknown>));
      return {
        title: `Delete row ${id}?`,
        section: 'tables',
        table: model.table,
        rowId: id,
        cells: model.fields.slice(0, 8).map((f) => ({ name: f.meta.name, view: cellView(f, row[f.column]) })),
        action: `/tables/${model.tableId}/grid/rows/${id}${query ? `?${query}` : ''}`,
        cancel: req.query.from === 'row' ? `/tables/${model.tableId}/rows/${id}` : `/tables/${model.tableId}${query ? `?${query}` : ''}`,
      };
    });
    await reply(req, res, { json: { row: id }, page: 'row_delete', locals });
  }),
];
