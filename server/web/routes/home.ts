import { reply } from '../negotiate.js';
import { route } from '../route.js';

export const homeRoutes = [
  route('get', '/', 'viewer', 'the console home page', async (ctx, req, res) => {
    const { rows } = await ctx.pool.query<{ id: number; name: string; table_name: string; version: number }>(
      /* sql */ `SELECT id, name, table_name, version FROM tablewright.tables WHERE trashed_at IS NULL ORDER BY lower(name)`,
    );
    await reply(req, res, { json: { tables: rows }, page: 'home', locals: { title: 'Tables', tables: rows } });
  }),
];
