// The table page's tabs (Rows | Fields | SQL | History) and the SQL tab's own URL.
// Every tab is a link (/tables/:id, /tables/:id?tab=fields|sql|history) that works
// without JavaScript; with htmx a tab link asks for the same URL and swaps only the
// tabbed view (views/partials/tabs.ejs), and the address bar follows.
import type { Request } from 'express';
import type { AppContext } from '../../context.js';
import { tableDdl } from '../../console/ddl.js';
import { fmt } from '../../console/format.js';
import { historyQuery, listHistory } from '../../console/history.js';
import { tableStats } from '../../console/stats.js';
import { badRequest } from '../../errors.js';
import { idParam } from '../../schema/input.js';
import { getTable, type TableMeta } from '../../schema/metadata.js';
import { answerKind, reply } from '../negotiate.js';
import { route } from '../route.js';
import { gridForPage } from './grid_page.js';
import { historyLocals } from './history.js';
import { tableLocals } from './tables.js';

export const TABLE_TABS = ['rows', 'fields', 'sql', 'history'] as const;
export type TableTab = (typeof TABLE_TABS)[number];

/** ?tab=...: undefined when absent; 400 naming `tab` when it is not one of the tabs. */
export function tableTab(value: unknown): TableTab | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string' && (TABLE_TABS as readonly string[]).includes(value)) return value as TableTab;
  throw badRequest(`tab must be one of ${TABLE_TABS.join(', ')}`, 'tab');
}

/** A tab's URL: the rows are the table page itself. */
export const tabHref = (tableId: number, tab: TableTab, extra = ''): string =>
  tab === 'rows' ? `/tables/${tableId}${extra ? `?${extra}` : ''}` : `/tables/${tableId}?tab=${tab}${extra ? `&${extra}` : ''}`;

/**
 * What the tabbed view needs beyond tableLocals: the active tab's content (the grid, the
 * DDL, a page of history) and the figures in the page's header.
 */
export async function tableViewLocals(ctx: AppContext, req: Request, table: TableMeta, tab: TableTab): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { tab, tabHref, fmt, section: 'tables' };
  const jobs: Array<Promise<void>> = [];
  if (!table.trashed_at) {
    jobs.push(tableStats(ctx.pool, ctx.config.dataSchema, [table]).then((m) => void (out.stats = m.get(table.id) ?? null)));
  }
  if (tab === 'rows') jobs.push(gridForPage(ctx, req, table.trashed_at !== null).then((g) => void (out.grid = g)));
  if (tab === 'sql') jobs.push(tableDdl(ctx.pool, ctx.config, table).then((d) => void (out.ddl = d)));
  if (tab === 'history') {
    const q = historyQuery({ ...(req.query as Record<string, unknown>), table: String(table.id) });
    jobs.push(historyLocals(ctx, q, { table }).then((h) => void (out.history = h)));
  }
  await Promise.all(jobs);
  return out;
}

export const consoleRoutes = [
  route('get', '/tables/:id/sql', 'viewer', "the table's DDL as PostgreSQL has it (JSON {ddl}; text/plain for curl or format=sql; a browser is sent to the SQL tab)", async (ctx, req, res) => {
    const id = idParam(req.params.id);
    const table = await getTable(ctx.pool, id);
    const kind = answerKind(req);
    const accept = req.get('Accept') ?? '';
    const asFile = req.query.format === 'sql';
    if (kind === 'page' && accept.includes('text/html') && !asFile) {
      res.redirect(303, tabHref(id, 'sql'));
      return;
    }
    const ddl = await tableDdl(ctx.pool, ctx.config, table);
    if (kind === 'page' || asFile) {
      // curl and psql-minded scripts: the DDL as a file (`curl ... > customers.sql`).
      if (asFile) res.attachment(`${ddl.name}.sql`);
      res.vary('Accept').type('text/plain; charset=utf-8').send(ddl.qualified ? ddl.ddl : `-- PostgreSQL has no table ${ddl.schema}.${ddl.name}\n`);
      return;
    }
    await reply(req, res, {
      json: { table_id: id, name: table.name, schema: ddl.schema, table_name: ddl.name, found: ddl.qualified !== null, ddl: ddl.ddl },
      fragment: 'sql_tab',
      locals: { ...(await tableLocals(ctx, id)), ddl, fmt, tab: 'sql' },
    });
  }),
];
