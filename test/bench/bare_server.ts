// The floor for `npm run bench -- http`: a bare node:http server with a pg pool, no
// framework, no auth, no validation, no logging, sending the same SQL as Tablewright.
// BARE_SQL (JSON) carries {insert, columns, list}; it prints "listening <port>".
import http from 'node:http';
import pg from 'pg';

const { insert, columns, list } = JSON.parse(process.env.BARE_SQL!) as { insert: string; columns: string[]; list: string };
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.PG_POOL_MAX ?? 10) });
pg.types.setTypeParser(pg.types.builtins.INT8, Number);
pg.types.setTypeParser(pg.types.builtins.DATE, (v: string) => v);

const send = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url!, 'http://x');
    if (req.method === 'POST' && url.pathname === '/rows') {
      let text = '';
      for await (const chunk of req) text += chunk;
      const row = JSON.parse(text) as Record<string, unknown>;
      const { rows } = await pool.query(insert, columns.map((c) => row[c]));
      return send(res, 201, rows[0]);
    }
    if (req.method === 'GET' && url.pathname === '/rows') {
      const { rows } = await pool.query(list, [`%${url.searchParams.get('contains') ?? ''}%`]);
      return send(res, 200, { rows: rows.slice(0, 100), next: rows.length > 100 ? 'more' : null });
    }
    send(res, 404, { error: 'no route' });
  } catch (err) {
    send(res, 500, { error: String(err) });
  }
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
process.on('SIGTERM', () => server.close(() => void pool.end()));
