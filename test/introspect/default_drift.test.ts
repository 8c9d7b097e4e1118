// Reconcile read two kinds of defaults as drift though nothing changed outside the console
// (a hostile review's finding): a multiple select's, which PostgreSQL prints as a cast of a
// cast ('{1,2}'::integer[])::tablewright.option_ids, and a datetime's written with "Z" or
// an offset, which reads back as +00. Proves: fields with such defaults, made and renamed
// through the API, are no drift; a DBA's change of either default still is.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { Sql } from '../helpers/sql.js';
import { createTable, QUIET } from './lib.js';

describe('reconcile: multiple select and datetime defaults are no drift', function () {
  this.timeout(60_000);
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ app, sql } = s), QUIET);

  const kinds = async (fid: number) => ((await app.request('GET', '/reconcile')).body.items as Array<{ kind: string; field?: { id: number } }>).filter((i) => i.field?.id === fid).map((i) => i.kind);

  it('a multiple select default and datetime defaults (Z, +05:00) made and renamed through the API: no drift; changed in psql: drift', async () => {
    const t = await createTable(app, 'Stamps', [
      { name: 'Tags', type: 'multiple_select', column: 'tags', options: { choices: [{ label: 'a' }, { label: 'b' }] }, default: ['a', 'b'] },
      { name: 'At', type: 'datetime', column: 'at', default: '2024-01-02T00:00:00Z' },
      { name: 'Local', type: 'datetime', column: 'local', default: '2024-01-02T00:00:00+05:00' },
    ]);
    const [tags, at, local] = t.fields.map((f) => f.id) as [number, number, number];
    for (const fid of [tags, at, local]) {
      const renamed = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { name: `Renamed ${fid}` } });
      expect(renamed.status, renamed.text).to.equal(200);
      expect(await kinds(fid), `field ${fid}`).to.deep.equal([]);
    }
    await sql.exec(`ALTER TABLE data.stamps ALTER COLUMN tags SET DEFAULT ('{2}'::integer[])::tablewright.option_ids, ALTER COLUMN at SET DEFAULT '2024-01-03 00:00:00+00'`);
    expect(await kinds(tags)).to.deep.equal(['constraint_changed']);
    expect(await kinds(at)).to.deep.equal(['constraint_changed']);
  });
});
