// npm run bench -- grid: the console grid of a 1,000,000-row, 50-field table (generated
// with generate_series). Each figure is one HTTP request over loopback to a real instance,
// median and p99 of 20 after 3 unmeasured, as three numbers: the server's time (from the
// request's arrival to the answer's last byte written, read by a listener on the
// instance's own http.Server: the client's reading of the answer is not in it), the whole
// round trip as the client sees it, and the CPU the process spent (instance and client:
// on a machine shared with other work it moves far less than the times do). The instance
// runs with NODE_ENV=production, as deployed: templates compiled once.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startApp } from '../helpers/app.js';
import { printTable, summarise, type Figure } from './lib.js';

const ROWS = Number(process.env.BENCH_GRID_ROWS ?? 1_000_000);
const FIELDS = 50;

export async function benchGrid(url: string): Promise<void> {
  const app = await startApp(url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off', MAX_FIELDS: '200', NODE_ENV: 'production' }, 'bench-grid');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // 50 fields: text, number (2 decimals), boolean and date in turn.
    const kinds = ['text', 'number', 'boolean', 'date'] as const;
    const fields = Array.from({ length: FIELDS }, (_, i) => {
      const type = kinds[i % kinds.length]!;
      // F02 is indexed, as an admin indexes a field the grid is sorted and filtered by.
      return { name: `F${String(i + 1).padStart(2, '0')}`, type, ...(type === 'number' ? { options: { decimals: 2 } } : {}), ...(i === 1 ? { indexed: true } : {}) };
    });
    const made = await app.request('POST', '/tables', { json: { name: 'Big', fields } });
    if (made.status !== 201) throw new Error(`create table: ${made.text}`);
    const tableId = made.body.id as number;
    const exprs = fields.map((f, i) =>
      f.type === 'text' ? `'value ' || (g * ${i + 7}) % 100003` : f.type === 'number' ? `CASE WHEN g % 11 = 0 THEN NULL ELSE ((g * ${i + 3}) % 100000) / 100.0 END` : f.type === 'boolean' ? `g % ${i + 2} = 0` : `date '2020-01-01' + (g % 2000)`,
    );
    const t0 = performance.now();
    // The bulk load skips the row history triggers (session_replication_role): a benchmark
    // fixture, not row changes anyone needs to undo.
    await client.query(`SET session_replication_role = replica`);
    await client.query(`INSERT INTO data.big (${fields.map((_, i) => `f${String(i + 1).padStart(2, '0')}`).join(', ')}) SELECT ${exprs.join(', ')} FROM generate_series(1, ${ROWS}) g`);
    await client.query(`RESET session_replication_role`);
    await client.query(`VACUUM ANALYZE data.big`);
    process.stdout.write(`\nGrid bench: ${ROWS.toLocaleString('en')} rows x ${FIELDS} fields loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

    const view = await app.request('POST', `/tables/${tableId}/views`, { json: { name: 'Half', hidden: fields.slice(25).map((_, i) => `f${String(i + 26).padStart(2, '0')}`), sort: '-id', size: 100 } });
    const hx = { headers: { Accept: 'text/html', 'HX-Request': 'true' } };
    const cases: Array<[string, string, typeof hx | undefined]> = [
      ['grid page 1 (100 rows, 50 fields)', `/tables/${tableId}/grid`, hx],
      ['grid page 2,000 (OFFSET 199,900)', `/tables/${tableId}/grid?page=2000`, hx],
      ['grid sorted by f02, filtered f02 > 900 (indexed)', `/tables/${tableId}/grid?sort=f02&fc=f02&fo=gt&fv=900`, hx],
      ['grid sorted -id, filtered f03 = true (no index)', `/tables/${tableId}/grid?sort=-id&fc=f03&fo=eq&fv=true`, hx],
      ['grid through a saved view (25 fields, sort -id)', `/tables/${tableId}/grid?view=${view.body.id}`, hx],
      ['whole table page (page 1)', `/tables/${tableId}`, { headers: { Accept: 'text/html', 'HX-Request': 'false' } } as unknown as typeof hx],
      ['API rows, 100, count=0', `/tables/${tableId}/rows?size=100&count=0`, undefined],
    ];
    // The server's own time for each request: arrival to the last byte handed to the socket.
    let serverMs = 0;
    app.server.prependListener('request', (_req: unknown, res: import('node:http').ServerResponse) => {
      const t = performance.now();
      res.on('finish', () => void (serverMs = performance.now() - t));
    });
    const figures: Figure[] = [];
    for (const [name, path, opts] of cases) {
      let bytes = 0;
      const run = async () => {
        const res = await app.request('GET', path, opts ?? {});
        if (res.status !== 200) throw new Error(`${name}: ${res.status} ${res.text.slice(0, 200)}`);
        bytes = res.text.length;
      };
      for (let i = 0; i < 3; i++) await run();
      const times: number[] = [];
      const server: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < 20; i++) {
        const s = performance.now();
        const c = process.cpuUsage();
        await run();
        const used = process.cpuUsage(c);
        times.push(performance.now() - s);
        server.push(serverMs);
        cpu.push((used.user + used.system) / 1000);
      }
      figures.push(summarise(name, 'server', server, { answer: `${Math.round(bytes / 1024)} kB` }));
      figures.push(summarise('  round trip', 'request', times));
      figures.push(summarise('  CPU of the process', 'CPU ms', cpu));
    }
    printTable(`Console grid of a ${ROWS.toLocaleString('en')}-row, ${FIELDS}-field table (goal: a page under 300 ms server time); load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`, figures);
  } finally {
    await client.end();
    await app.stop();
  }
}
