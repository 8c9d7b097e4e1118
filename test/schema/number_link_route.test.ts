// A number converts to a link without going through text (server/fields/convert.ts): the
// direct route gives every value the route through text gives (the number's text, then the
// link's '^[0-9]{1,18}$'), for each way a number field is stored (bigint, numeric(p, s),
// numeric), edge values included. And the link's loss predicate, which no longer tests
// "converted IS NULL" apart, counts the same values lost as it did.
import { expect } from 'chai';
import { conversionSql, lossPredicate } from '../../server/fields/convert.js';
import { fieldType } from '../../server/fields/registry.js';
import type { SqlEnv } from '../../server/fields/types.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('number -> link: the direct route', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let sql: Sql;
  before(async () => {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await db?.drop();
  });

  const env: SqlEnv = { linkTarget: () => 'pg_temp.target' };
  const viaText = (options: object, col: string) => fieldType('link').fromText(fieldType('number').toText(col, options), {}, env);
  const VALUES = ['0', '1', '7', '-0', '-5', '5.0', '5.00', '12.5', '999999999999999999', '1000000000000000000', '9223372036854775807', '-9223372036854775808', "'NaN'", "'Infinity'", "'-Infinity'", 'NULL'];

  for (const options of [{ decimals: 0 }, { decimals: 2 }, { decimals: 0, any_precision: true }]) {
    it(`gives the same link as the route through text: ${JSON.stringify(options)}`, async () => {
      const type = fieldType('number').sqlType(options as never);
      await sql.exec(`DROP TABLE IF EXISTS pg_temp.n`);
      await sql.exec(`CREATE TEMP TABLE n (i int, v ${type})`);
      // a value the type cannot hold (NaN in a bigint, too large for numeric(30,2)) is left out
      for (const [i, v] of VALUES.entries()) await sql.exec(`INSERT INTO pg_temp.n VALUES (${i}, ${v}::${type})`).catch(() => undefined);
      const direct = conversionSql({ type: 'number', options }, { type: 'link', options: { table_id: 1 } }, 'v', env);
      expect(direct, 'the direct route is taken').not.to.contain('::text');
      const rows = await sql.rows(`SELECT i, v::text AS v, (${direct})::text AS direct, (${viaText(options, 'v')})::text AS via_text FROM pg_temp.n ORDER BY i`);
      expect(rows.length, 'values inserted').to.be.greaterThan(8);
      for (const r of rows) expect(r.direct, `value ${r.v}`).to.equal(r.via_text);
      // a number with 2 decimals is written 5.00: no link by either route (its values are reported lost)
      const linked = rows.filter((r) => r.direct !== null).length;
      if (options.decimals === 2) expect(linked).to.equal(0);
      else expect(linked, 'some values link').to.be.greaterThan(1);
    });
  }

  it('the loss predicate counts the values with no row, and the ones that do not convert, as before', async () => {
    await sql.exec(`DROP TABLE IF EXISTS pg_temp.target; CREATE TEMP TABLE target (id bigint PRIMARY KEY); INSERT INTO pg_temp.target VALUES (1), (5)`);
    await sql.exec(`DROP TABLE IF EXISTS pg_temp.n; CREATE TEMP TABLE n (v numeric); INSERT INTO pg_temp.n VALUES (1), (5), (6), (-1), (5.5), (NULL), ('NaN')`);
    const from = { type: 'number' as const, options: { decimals: 0, any_precision: true } };
    const to = { type: 'link' as const, options: { table_id: 1 } };
    const converted = conversionSql(from, to, 'v', env);
    const nonEmpty = `v IS NOT NULL AND btrim(coalesce((v)::text, '')) <> ''`;
    const before = `(${nonEmpty}) AND ((${converted}) IS NULL OR NOT EXISTS (SELECT 1 FROM pg_temp.target AS l WHERE l.id = (${converted})))`;
    const lost = async (pred: string) => (await sql.rows(`SELECT n.v::text AS v FROM pg_temp.n WHERE ${pred} ORDER BY 1`)).map((r) => r.v);
    expect(await lost(lossPredicate(from, to, 'n.v', env))).to.deep.equal(await lost(before));
    expect(await lost(before)).to.deep.equal(['-1', '5.5', '6', 'NaN']);
  });
});
