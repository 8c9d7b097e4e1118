// The sync trigger's function body is SQL text holding literals an admin wrote (a select
// option's label): it is dollar-quoted with a tag that occurs nowhere in it, so a label
// holding the usual tag cannot end the body early and run the rest as SQL.
import { expect } from 'chai';
import { dollarQuoted } from '../../server/schema/online/trigger.js';
import { useApp, type TestApp } from '../helpers/app.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';
import { createTable, expectClean, QUIET } from '../introspect/lib.js';

describe('online changes: the sync trigger body and the labels in it', function () {
  this.timeout(60_000);
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ app, sql } = s), { ...QUIET, JOB_POLL_MS: '50' });

  it('picks a tag the body does not contain', () => {
    expect(dollarQuoted(' x ')).to.equal('$tw$ x $tw$');
    expect(dollarQuoted(`'a$tw$b'`)).to.equal(`$tw1$'a$tw$b'$tw1$`);
    expect(dollarQuoted(`'$tw$' || '$tw1$'`)).to.equal(`$tw2$'$tw$' || '$tw1$'$tw2$`);
  });

  it('a single select whose labels hold $tw$ (and SQL after it) converts to text online: every value as its label, nothing else run', async () => {
    const labels = ['plain', 'a$tw$b', `$tw$; CREATE TABLE data.injected (x int); SELECT $tw$`, `it's $tw1$ "quoted"`];
    const t = await createTable(app, 'Tagged', [{ name: 'Kind', type: 'single_select', options: { choices: labels.map((label) => ({ label })) } }]);
    const kind = (await app.request('GET', `/tables/${t.id}/fields/${t.fields[0]!.id}`)).body;
    const ids = (kind.options.choices as Array<{ id: number; label: string }>).map((c) => c.id);
    expect(ids).to.have.length(4);
    await sql.exec(`INSERT INTO data.tagged (kind) SELECT ($1::int[])[1 + g % 4] FROM generate_series(1, 400) g`, [ids]);
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${kind.id}`, { json: { type: 'text', online: 1 } });
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(app, res.body.id);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    const rows = await sql.rows(`SELECT kind, count(*)::int AS n FROM data.tagged GROUP BY 1 ORDER BY 1`);
    expect(rows).to.deep.equal([...labels].sort().map((kind) => ({ kind, n: 100 })));
    expect((await sql.one(`SELECT to_regclass('data.injected') IS NULL AS none`)).none, 'nothing after the tag ran').to.equal(true);
    await expectClean(app);
  });
});
