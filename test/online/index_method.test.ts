// An indexed field changed online to a multiple select gets the index a multiple select
// has (GIN, for its containment filters), as the one-transaction change makes it; it was a
// btree, which no filter of the field could use (and reconcile did not notice).
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import { waitForJob } from '../helpers/jobs.js';
import type { Sql } from '../helpers/sql.js';
import { createTable, expectClean, QUIET } from '../introspect/lib.js';

describe("online type change: the field's own index by the new type's method", function () {
  this.timeout(120_000);
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ app, sql } = s), { ...QUIET, JOB_POLL_MS: '50' });

  it('text (indexed) -> multiple select: online and in one transaction alike, a GIN index the filter uses', async () => {
    const t = await createTable(app, 'Tagged', [
      { name: 'Online', type: 'text', column: 'online', indexed: true },
      { name: 'Blocking', type: 'text', column: 'blocking', indexed: true },
    ]);
    await sql.exec(`INSERT INTO data.tagged (online, blocking) SELECT v, v FROM unnest(ARRAY['a', 'a,b', 'b', NULL]) v, generate_series(1, 50)`);
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { type: 'multiple_select', online: 1 } });
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(app, res.body.id, 60_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    const sync = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[1]!.id}`, { json: { type: 'multiple_select', online: 0 } });
    expect(sync.status, sync.text).to.equal(200);
    const method = async (col: string) =>
      (
        await sql.one(
          `SELECT am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE i.indrelid = 'data.tagged'::regclass AND a.attname = $1`,
          [col],
        )
      ).amname;
    expect([await method('online'), await method('blocking')]).to.deep.equal(['gin', 'gin']);
    await sql.exec('SET enable_seqscan = off');
    const plan = (await sql.rows(`EXPLAIN SELECT id FROM data.tagged WHERE online @> ARRAY[1]::int[]`)).map((r) => r['QUERY PLAN']).join('\n');
    await sql.exec('RESET enable_seqscan');
    expect(plan, 'a containment filter uses the index').to.match(/Bitmap Index Scan on ix_f/);
    await expectClean(app);
  });
});
