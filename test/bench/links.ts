// Issue 19: what two lookups and a rollup cost a page of rows. Three order tables hold the
// same rows: one plain; one with a many-to-many link to a products table (BENCH_LINKS_ROWS
// rows, default 1,000,000) through a junction of as many pairs; one with the same link and
// pairs plus two lookups and a rollup over it. A page of 100 rows (GET /rows: first page,
// page 50, sorted) of each, over HTTP, in turn, the median of each; the ratio that the aim
// speaks of is the lookups' page over the link's alone (the same page without them). Bulk data goes in by SQL with
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
    // the same rows and pairs with the many-to-many field alone: the page "without them" (the lookups and the rollup)
    const linkOnly = (await post('/tables', { name: 'Linked orders', table_name: 'linked_orders', fields: [{ name: 'Title', type: 'text' }, { name: 'Qty', type: 'number' }] })).id;
    await post(`/tables/${linkOnly}/fields`, { name: 'Items', type: 'link', options: { table_id: products, multiple: true } });
    const pf = (await app.request('GET', `/tables/${products}`)).body.fields as Array<{ id: number; name: string }>;
    const [name, price] = [pf.find((f) => f.name === 'Name')!.id, pf.find((f) => f.name === 'Price')!.id];
    const itemsId = (items.field ?? items).id;
    await post(`/tables/${withLinks}/fields`, { name: 'Item names', type: 'lookup', options: { link_field_id: itemsId, field_id: name } });
    await post(`/tables/${withLinks}/fields`, { name: 'Item prices', type: 'lookup', options: { link_field_id: itemsId, field_id: price } });
    await post(`/tables/${withLinks}/fields`, { name: 'Total', type: 'rollup', options: { link_field_id: itemsId, field_id: price, fn: 'sum' } });

    let t0 = performance.now();
    await sql.query(`SET session_replication_role = replica`);
    await sql.query(`INSERT INTO data.products (name, price) SELECT 'product ' || g, (g % 10000) / 100.0 FROM generate_series(1, ${linked}) g`);
    for (const t of ['plain_orders', 'orders', 'linked_orders']) await sql.query(`INSERT INTO data.${t} (title, qty) SELECT 'order ' || g, g % 50 FROM generate_series(1, ${orders}) g`);
    // ten distinct products per order, spread over the whole products table: `linked` pairs
    await sql.query(
      `INSERT INTO data.orders_products (orders_id, products_id) SELECT o, 1 + ((o::int8 * 7919 + k * ${Math.floor(linked / 10)}) % ${linked}) FROM generate_series(1, ${orders}) o, generate_series(0, 9) k ON CONFLICT DO NOTHING`,
    );
    const junction = (await sql.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'data' AND table_name LIKE 'linked\\_orders%products%'`)).rows[0]!.table_name;
    await sql.query(`INSERT INTO data.${junction} (linked_orders_id, products_id) SELECT orders_id, products_id FROM data.orders_products`);
    await sql.query(`SET session_replication_role = origin`);
    await sql.query(`ANALYZE data.products, data.plain_orders, data.orders, data.orders_products, data.linked_orders, data.${junction}`);
    const pairs = (await sql.query<{ n: string }>(`SELECT count(*) AS n FROM data.orders_products`)).rows[0]!.n;
    const fillMs = performance.now() - t0;

    const cases = [
      { label: 'first page (size=100, count=0)', query: '?size=100&count=0' },
      { label: 'page 50 (size=100, offset 4,900, with count)', query: '?size=100&page=50' },
      { label: 'sorted by title desc (size=100, count=0)', query: '?size=100&sort=-title&count=0' },
    ];
    const lines = [
      '',
      `Links: a page of 100 rows with a many-to-many field, 2 lookups and 1 rollup, vs the same rows with the many-to-many field alone (the page without them) and with no link (products ${linked.toLocaleString('en')} rows, junction ${Number(pairs).toLocaleString('en')} pairs, orders ${orders.toLocaleString('en')} rows; filled in ${(fillMs / 1000).toFixed(1)} s; median of ${reps}, alternating; load ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`,
      `${'page'.padEnd(48)}  ${'plain, ms'.padStart(10)}  ${'m2m only, ms'.padStart(13)}  ${'m2m + 2 lookups + rollup, ms'.padStart(29)}  ${'vs m2m only'.padStart(11)}  ${'vs plain'.padStart(8)}`,
    ];
    for (const c of cases) {
      const times = { plain: [] as number[], links: [] as number[], m2m: [] as number[] };
      for (const id of [plain, withLinks, linkOnly]) await app.request('GET', `/tables/${id}/rows${c.query}`); // warm the models and caches
      const order: Array<['plain' | 'links' | 'm2m', number]> = [['plain', plain], ['m2m', linkOnly], ['links', withLinks]];
      for (let i = 0; i < reps; i++) {
        for (const [mode, id] of i % 2 ? [...order].reverse() : order) {
          t0 = performance.now();
          const res = await app.request('GET', `/tables/${id}/rows${c.query}`);
          if (res.status !== 200) throw new Error(res.text);
          times[mode].push(performance.now() - t0);
        }
      }
      const [p, m, l] = [median(times.plain), median(times.m2m), median(times.links)];
      lines.push(`${c.label.padEnd(48)}  ${p.toFixed(1).padStart(10)}  ${m.toFixed(1).padStart(13)}  ${l.toFixed(1).padStart(29)}  ${(l / m).toFixed(2).padStart(10)}x  ${(l / p).toFixed(2).padStart(7)}x`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await sql.end();
    await app.stop();
  }
}
