// Values come back exactly (issue 16), tested by property: generated rows of every field
// type, edge cases included (long and odd text, numbers at the edge of their precision,
// leap days, nested JSON, empty values), are deleted and restored, and changed and
// reverted, and every stored value is byte for byte what it was (compared as PostgreSQL
// prints the row). A seeded generator: a failure names its seed and reproduces.
import { expect } from 'chai';
import type { TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';
import { useAppAndSql } from './lib.js';
import { createTable } from '../introspect/lib.js';
import { mulberry32 } from '../helpers/rng.js';


const TEXTS = ['plain', 'émigré naïve façade', '日本語のテキスト', 'emoji 🦊🧪 and 👩‍👩‍👧', 'rtl שלום עולם', "quotes ' \" ` and \\ backslash", 'tab\tnew\nline\r\nreturn', ' leading and trailing ', '<b>html</b> & entities &amp;', '{"looks": "like json"}', '12345', 'null', '\u200b zero width', 'a'.repeat(5000)];
const NUMBERS = ['0', '-0.0000000001', '0.0000000001', '99999999999999999999.9999999999', '-99999999999999999999.9999999999', '12345678901234567890.1234567891', '1', '-1', '3.1415926535', '100'];
const DATES = ['2000-02-29', '1970-01-01', '9999-12-31', '1000-01-01', '2024-12-31'];
const DATETIMES = ['2024-02-29T23:59:59.999Z', '1970-01-01T00:00:00Z', '2038-01-19T03:14:07.5Z', '9999-12-31T23:59:59Z'];
const JSONS: unknown[] = [{ a: 1 }, [1, 'two', null, true], { nested: { deep: [{ x: 'y' }] } }, JSON.stringify('a JSON string'), 0.1, 42, true, null, { 'odd key ü': '\\u0001 ctrl' }];

describe('restore and revert keep values exactly (issue 16, generated rows)', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  useAppAndSql(async (s) => {
    ({ db, app, sql } = s);
  });

  async function setUp(seed: number) {
    const rnd = mulberry32(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const target = await createTable(app, `Targets ${seed}`, [{ name: 'Label', type: 'text' }]);
    const targets = (await app.request('POST', `/tables/${target.id}/rows`, { json: Array.from({ length: 5 }, (_, i) => ({ label: `t${i}` })) })).body.rows.map((r: { id: number }) => r.id);
    const t = await createTable(app, `Generated ${seed}`, [
      { name: 'Text', type: 'text' },
      { name: 'Long', type: 'long_text' },
      { name: 'Amount', type: 'number', options: { decimals: 10 } },
      { name: 'Count', type: 'number' },
      { name: 'Flag', type: 'boolean' },
      { name: 'Day', type: 'date' },
      { name: 'Moment', type: 'datetime' },
      { name: 'Doc', type: 'json' },
      { name: 'Site', type: 'url' },
      { name: 'Mail', type: 'email' },
      { name: 'Status', type: 'single_select', options: { choices: [{ label: 'Open' }, { label: 'Closed' }] } },
      { name: 'Target', type: 'link', options: { table_id: target.id } },
    ]);
    const maybe = <T>(v: T) => (rnd() < 0.15 ? null : v);
    const rows = Array.from({ length: 60 }, (_, i) => ({
      text: maybe(pick(TEXTS)),
      long: maybe(pick(TEXTS).repeat(1 + Math.floor(rnd() * 3))),
      amount: maybe(pick(NUMBERS)),
      count: maybe(String(Math.floor((rnd() - 0.5) * 2 ** 52))),
      flag: maybe(rnd() < 0.5),
      day: maybe(pick(DATES)),
      moment: maybe(pick(DATETIMES)),
      doc: maybe(pick(JSONS)),
      site: maybe(`https://example.com/${i}?q=${encodeURIComponent(pick(TEXTS).slice(0, 30))}`),
      mail: maybe(`person${i}@example.com`),
      status: maybe(pick(['Open', 'Closed'])),
      target: maybe(pick(targets)),
    }));
    const res = await app.request('POST', `/tables/${t.id}/rows`, { json: rows });
    expect(res.status, `seed ${seed}: ${res.text.slice(0, 300)}`).to.equal(201);
    return { t, ids: res.body.rows.map((r: { id: number }) => r.id) as number[], rnd, pick };
  }

  /** Every row as PostgreSQL prints it: the exact stored values. */
  const stored = async (table: string) =>
    Object.fromEntries((await sql.rows(`SELECT id, t::text AS row FROM data.${table} t ORDER BY id`)).map((r) => [r.id, r.row]));

  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: a bulk delete and restore, a delete in psql and its restore, and TRUNCATE and restore give back every value`, async () => {
      const { t, ids } = await setUp(seed);
      const before = await stored(t.table_name);
      expect((await app.request('DELETE', `/tables/${t.id}/rows`, { json: { ids: ids.slice(0, 40) } })).status).to.equal(200);
      await sql.exec(`DELETE FROM data.${t.table_name} WHERE id = ANY($1)`, [ids.slice(40, 50)]);
      const restored = await app.request('POST', `/tables/${t.id}/rows/restore`, { json: { ids: ids.slice(0, 50) } });
      expect(restored.status, restored.text.slice(0, 300)).to.equal(200);
      expect(await stored(t.table_name), `seed ${seed}`).to.deep.equal(before);
      await sql.exec(`TRUNCATE data.${t.table_name}`);
      expect((await app.request('POST', `/tables/${t.id}/rows/restore`, { json: { ids } })).status).to.equal(200);
      expect(await stored(t.table_name), `seed ${seed}, after TRUNCATE`).to.deep.equal(before);
    });

    it(`seed ${seed}: random changes over the API and psql, then a revert to before the first, give back every value`, async () => {
      const { t, ids, rnd, pick } = await setUp(100 + seed);
      // psql writes under odd session settings: the history keeps values independent of them.
      await sql.exec(`SET TimeZone = 'Asia/Kathmandu'`);
      await sql.exec(`SET DateStyle = 'SQL, DMY'`);
      const before = await stored(t.table_name);
      const chosen = ids.filter(() => rnd() < 0.3).slice(0, 12);
      for (const id of chosen) {
        for (let k = 0; k < 3; k++) {
          if (rnd() < 0.5) {
            const res = await app.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: { text: pick(TEXTS), amount: pick(NUMBERS), doc: pick(JSONS), flag: rnd() < 0.5, moment: pick(DATETIMES) } });
            expect(res.status, res.text.slice(0, 200)).to.equal(200);
          } else {
            await sql.exec(`UPDATE data.${t.table_name} SET long = $1, count = count + 1, day = $2::date WHERE id = $3`, [pick(TEXTS), pick(DATES), id]);
          }
        }
        const entries = (await app.request('GET', `/tables/${t.id}/rows/${id}/history`)).body.entries;
        const firstChange = entries.filter((e: { op: string }) => e.op === 'update').at(-1);
        const res = await app.request('POST', `/tables/${t.id}/rows/${id}/revert`, { json: { entry: firstChange.id } });
        expect(res.status, res.text.slice(0, 200)).to.equal(200);
      }
      expect(await stored(t.table_name), `seed ${100 + seed}`).to.deep.equal(before);
      await sql.exec('RESET TimeZone');
      await sql.exec('RESET DateStyle');
    });
  }
});
