// GET /events: server-sent events for the console (schema changes, row writes), from any
// instance. ?table=<id> narrows to one table.
import { AppError } from '../../errors.js';
import { getTable } from '../../schema/metadata.js';
import { idParam } from '../../schema/input.js';
import { route } from '../route.js';

export const eventRoutes = [
  route('get', '/events', 'viewer', 'server-sent events: schema changes and row writes (table=<id> for one table)', async (ctx, req, res) => {
    if (!ctx.live) throw new AppError(503, 'not_ready', 'live updates are not available yet');
    let tableId: number | undefined;
    if (req.query.table !== undefined) {
      tableId = idParam(req.query.table, 'table');
      await getTable(ctx.pool, tableId);
    }
    if (!ctx.live.open(res, tableId)) {
      res.set('Retry-After', '10');
      throw new AppError(503, 'too_many_streams', 'this instance has too many live connections; try again later');
    }
  }),
];
