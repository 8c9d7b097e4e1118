import path from 'node:path';
import ejs from 'ejs';
import { fmt } from '../console/format.js';
import { viewsDir } from '../paths.js';
import { cellHtml } from './grid_cells.js';

let cache = false;
/** Template caching is on in production; in development a changed view shows at once. */
export function setViewCache(on: boolean): void {
  cache = on;
}

/**
 * Renders views/<name>.ejs. With layout, the result becomes `body` in views/layout.ejs.
 * EJS escapes every <%= %> output; <%- %> is only for HTML we rendered ourselves. Every
 * view has `fmt` (server/console/format.ts) for dates, counts and actors, and `cellHtml`
 * (server/web/grid_cells.ts) for a grid cell.
 */
export async function renderView(name: string, locals: Record<string, unknown>, opts: { layout?: boolean } = {}): Promise<string> {
  const options = { cache, async: false, root: viewsDir, views: [viewsDir] };
  const all = { fmt, cellHtml, ...locals };
  const body = await ejs.renderFile(path.join(viewsDir, `${name}.ejs`), all, options);
  if (!opts.layout) return body;
  return ejs.renderFile(path.join(viewsDir, 'layout.ejs'), { ...all, body }, options);
}
