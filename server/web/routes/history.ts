// The History page: the audit log as a timeline, filterable by table, one keyset page at
// a time. The table page's History tab shows the same partial for its table.
import type { AppContext } from '../../context.js';
import { fmt } from '../../console/format.js';
import { detailsSummary, historyQuery, listHistory, operationLabel, type HistoryEntry, type HistoryQuery } from '../../console/history.js';
import type { TableMeta } from '../../schema/metadata.js';
import { answerKind, reply } from '../negotiate.js';
import { route } from '../route.js';

interface TableChoice {
  id: number;
  name: string;
  trashed: boolean;
}

/**
 * What views/partials/history.ejs needs. `table` set: the table page's tab (links stay on
 * the table page, no table picker); unset: the History page with its picker.
 */
export async function historyLocals(ctx: AppContext, q: HistoryQuery, opts: { table?: TableMeta } = {}) {
  const [page, choices] = await Promise.all([
    listHistory(ctx.pool, q),
    opts.table
      ? Promise.resolve([] as TableChoice[])
      : ctx.pool
          .query<TableChoice>(/* sql */ `SELECT id, name, trashed_at IS NOT NULL AS trashed FROM tablewright.tables ORDER BY lower(name), id`)
          .then((r) => r.rows),
  ]);
  const inTab = opts.table !== undefined;
  const href = (before: number | null) => {
    const params = new URLSearchParams();
    if (!inTab && q.tableId !== null) params.set('table', String(q.tableId));
    if (before !== null) params.set('before', String(before));
    if (q.limit !== 50) params.set('limit', String(q.limit));
    const s = params.toString();
    return inTab ? `/tables/${opts.table!.id}?tab=history${s ? `&${s}` : ''}` : `/history${s ? `?${s}` : ''}`;
  };
  const selected = q.tableId === null ? null : choices.find((c) => c.id === q.tableId) ?? null;
  return {
    entries: page.entries.map((e: HistoryEntry) => {
      const summary = detailsSummary(e);
      // "created the table Products" says it already: no summary that only repeats a name.
      return { ...e, label: operationLabel(e.operation), summary: summary === e.table_name || summary === e.field_name ? '' : summary };
    }),
    next: page.next,
    query: q,
    inTab,
    table: opts.table ?? null,
    choices,
    selected,
    firstHref: href(null),
    nextHref: page.next === null ? null : href(page.next),
    isFirstPage: q.before === null,
  };
}

export const historyRoutes = [
  route('get', '/history', 'viewer', 'the audit log, newest first: table?, before? (keyset: the previous answer\'s next), limit? (1..200, default 50)', async (ctx, req, res) => {
    const q = historyQuery(req.query as Record<string, unknown>);
    if (answerKind(req) === 'json') {
      res.vary('Accept').vary('HX-Request').json(await listHistory(ctx.pool, q));
      return;
    }
    const history = await historyLocals(ctx, q);
    await reply(req, res, {
      json: null,
      page: 'history',
      fragment: 'history',
      locals: { title: history.selected ? `History of ${history.selected.name}` : 'History', section: 'history', history, fmt },
    });
  }),
];
