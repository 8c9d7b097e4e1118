// Issue 19: what a many-to-many field, two lookups and a rollup cost a page of rows. Two
// order tables hold the same rows; one also has a many-to-many link to a products table
// (BENCH_LINKS_ROWS rows, default 1,000,000) through a junction of as many pairs, two
// lookups and a rollup over it. A page of 100 rows (GET /rows, first page, and page 50)
// of each, over HTTP, alternating, the median of each. Bulk data goes in by SQL with
// session_replication_role = replica (no triggers, no foreign key checks), then ANALYZE.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startApp } from '../helpers/app.js';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function benchLinks(url: string): Promise<void> {
  const linked = Number(process.env.BENCH_LINKS_ROWS ?? 1_000_000);
  const orders = Math.max(1000, Math.round(linked / 10));
  const reps = Number(process.env.BENCH_LINKS_REPS ?? 25);
  const app = await startApp(url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'bench');
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  try {
    const post = async (path: string, json: unknown) => {
      const res = await app.request('POST', path, { json });
      if (res.status !== 201) throw new Error(res.text);
      return res.body;
    };
    const products = (await post('/tables', { name: 'Products', table_name: 'products', fields: [{ name: 'Name', type: 'text' }, { name: 'Price', type: 'number', options: { decimals: 2 } }] })).id;
    const plain = (await post('/tables', { name: 'Plain orders', table_name: 'plain_orders', fields: [{ name: 'Title', type: 'text' }, { name: 'Qty', type: 'number' }] })).id;
    const withLinks = (await post('/tables', { name: 'Orders', table_name: 'orders', fields: [{ name: 'Title', type: 'text' }, { name: 'Qty', type: 'number' }] })).id;
    const items = await post(`/tables/${withLinks}/fields`, { name: 'Items', type: 'link', options: { table_id: products, multiple: true } });
    const pf = (await app.request('GET', `/tables/${products}`)).body.fields as Array<{ id: number; name: string }>;
    const [name, price] = [pf.find((f) => f.name === 'Name')!.id, pf.find((f) => f.name === 'Price')!.id];
    const itemsId = (items.field ?? items).id;
    await post(`/tables/${withLinks}/fields`, { name: 'Item names', type: 'lookup', options: { link_field_id: itemsId, field_id: name } });
    await post(`/tables/${withLinks}/fields`, { name: 'Item prices', type: 'lookup', options: { link_field_id: itemsId, field_id: price } });
    await post(`/tables/${withLinks}/fields`, { name: 'Total', type: 'rollup', options: { link_field_id: itemsId, field_id: price, fn: 'sum' } });

    let t0 = performance.now();
    await sql.query(`SET session_replication_role = replica`);
    await sql.query(`INSERT INTO data.products (name, price) SELECT 'product ' || g, (g % 10000) / 100.0 FROM generate_series(1, ${linked}) g`);
    for (const t of ['plain_orders', 'orders']) await sql.query(`INSERT INTO data.${t} (title, qty) SELECT 'order ' || g, g % 50 FROM generate_series(1, ${orders}) g`);
    // ten distinct products per order, spread over the whole products table: `linked` pairs
    await sql.query(
      `INSERT INTO data.orders_products (orders_id, products_id) SELECT o, 1 + ((o::int8 * 7919 + k * ${Math.floor(linked / 10)}) % ${linked}) FROM generate_series(1, ${orders}) o, generate_series(0, 9) k ON CONFLICT DO NOTHING`,
    );
    await sql.query(`SET session_replication_role = origin`);
    await sql.query(`ANALYZE data.products, data.plain_orders, data.orders, data.orders_products`);
    const pairs = (await sql.query<{ n: string }>(`SELECT count(*) AS n FROM data.orders_products`)).rows[0]!.n;
    const fillMs = performance.now() - t0;

    const cases = [
      { label: 'first page (size=100, count=0)', query: '?size=100&count=0' },
      { label: 'page 50 (size=100, offset 4,900, with count)', query: '?size=100&page=50' },
      { label: 'sorted by title desc (size=100, count=0)', query: '?size=100&sort=-title&count=0' },
    ];
    const lines = [
      '',
      `Links: a page of 100 rows with a many-to-many field, 2 lookups and 1 rollup vs the same rows without them (products ${linked.toLocaleString('en')} rows, junction ${Number(pairs).toLocaleString('en')} pairs, orders ${orders.toLocaleString('en')} rows; filled in ${(fillMs / 1000).toFixed(1)} s; median of ${reps}, alternating; load ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`,
      `${'page'.padEnd(48)}  ${'plain, ms'.padStart(10)}  ${'with links, ms'.padStart(15)}  ${'ratio'.padStart(6)}`,
    ];
    for (const c of cases) {
      const times = { plain: [] as number[], links: [] as number[] };
      for (const id of [plain, withLinks]) await app.request('GET', `/tables/${id}/rows${c.query}`); // warm the models and caches
      for (let i = 0; i < reps; i++) {
        for (const [mode, id] of (i % 2 ? [['links', withLinks], ['plain', plain]] : [['plain', plain], ['links', withLinks]]) as Array<['plain' | 'links', number]>) {
          t0 = performance.now();
          const res = await app.request('GET', `/tables/${id}/rows${c.query}`);
          if (res.status !== 200) throw new Error(res.text);
          times[mode].push(performance.now() - t0);
        }
      }
      const [p, l] = [median(times.plain), median(times.links)];
      lines.push(`${c.label.padEnd(48)}  ${p.toFixed(1).padStart(10)}  ${l.toFixed(1).padStart(15)}  ${(l / p).toFixed(2).padStart(5)}x`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await sql.end();
    await app.stop();
  }
}
