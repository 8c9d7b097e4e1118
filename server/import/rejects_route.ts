// GET /imports/rejects/:id.csv: the rejected lines of an import (rejects.ts), from any
// instance, until they expire. The id is 128 random bits, told only to the importer; the
// route also wants an editor (who may import), and the table, when it still exists, readable.
import { notFound } from '../errors.js';
import { route } from '../web/route.js';
import { openRejects } from './rejects.js';

export const rejectsRoutes = [
  route('get', '/imports/rejects/:file', 'editor', 'the rejected lines of an import as CSV (the file\'s cells, then reject_line, reject_column, reject_reason); kept 24 h', async (ctx, req, res) => {
    const m = /^([0-9a-f]{32})\.csv$/.exec(String(req.params.file));
    const found = m ? await openRejects(ctx.pool, m[1]!) : null;
    if (!found) throw notFound('rejects file (expired, or never made)');
    res.status(200);
    res.type('text/csv; charset=utf-8');
    res.attachment(`rejects-${m![1]!.slice(0, 8)}.csv`);
    for await (const chunk of found.chunks) {
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  }),
];
