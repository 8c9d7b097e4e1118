// While an online type change is in flight, its shadow column is written with every row
// write (the sync trigger), so the row history records it too: the history and the row
// trash never show it (the field's value is under the field's own column), during the
// change and after the swap; and reconcile lists it as in flight, not as drift.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';
import { createTable, QUIET } from '../introspect/lib.js';

describe('an online change in flight: its shadow column stays out of row history and drift', function () {
  this.timeout(90_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { ...QUIET, JOB_POLL_MS: '50', LOCK_TIMEOUT_MS: '60000' });
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('a row written, deleted and listed while the shadow column exists: history, trash and reconcile show the field only', async () => {
    const t = await createTable(app, 'Ledger', [{ name: 'Amount', type: 'number' }, { name: 'Memo', type: 'text' }]);
    const amount = t.fields[0]!.id;
    await sql.exec(`INSERT INTO data.ledger (amount, memo) SELECT g, 'm' FROM generate_series(1, 5000) g`);
    const holder = await Sql.connect(db.url);
    try {
      const res = await app.request('PATCH', `/tables/${t.id}/fields/${amount}`, { json: { type: 'text', online: 1 } });
      expect(res.status, res.text).to.equal(202);
      // the last row held: the backfill waits at its last batch, the shadow column and trigger in place
      for (let i = 0; ; i++) {
        if ((await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE step IN ('add_shadow', 'backfill') AND status = 'running'`)).length) break;
        if (i > 2000) throw new Error('the shadow column never came');
        await new Promise((r) => setTimeout(r, 5));
      }
      await holder.exec('BEGIN');
      await holder.exec(`SELECT 1 FROM data.ledger WHERE id = 5000 FOR UPDATE`);
      expect((await sql.rows(`SELECT 1 FROM pg_attribute WHERE attrelid = 'data.ledger'::regclass AND attname = $1`, [`_tw_new_f${amount}`])).length).to.equal(1);

      const write = await app.request('PATCH', `/tables/${t.id}/rows/1`, { json: { amount: 77, memo: 'changed' } });
      expect(write.status, write.text).to.equal(200);
      expect((await app.request('DELETE', `/tables/${t.id}/rows/2`)).status).to.be.within(200, 204);
      const raw = await sql.one(`SELECT new_values FROM tablewright.row_history WHERE table_id = $1 AND row_id = 1 ORDER BY id DESC LIMIT 1`, [t.id]);
      expect(Object.keys(raw.new_values), 'the trigger records the shadow column').to.include(`_tw_new_f${amount}`);

      const shown = async () => {
        const h = (await app.request('GET', `/tables/${t.id}/rows/1/history`)).body.entries[0];
        const trash = (await app.request('GET', `/tables/${t.id}/rows/trash`)).body.rows.find((r: any) => r.id === 2);
        return { history: Object.keys(h.changes).sort(), trash: Object.keys(trash.values).filter((k) => k.startsWith('_tw')) };
      };
      expect(await shown()).to.deep.equal({ history: ['amount', 'memo'], trash: [] });
      const report = (await app.request('GET', '/reconcile')).body;
      expect(report.items).to.deep.equal([]);
      expect(report.in_flight).to.have.length(1);
      await holder.exec('ROLLBACK');
      const job = await waitForJob(app, res.body.id, 60_000);
      expect(job.status, JSON.stringify(job.error)).to.equal('done');
      expect(await shown(), 'after the swap too').to.deep.equal({ history: ['amount', 'memo'], trash: [] });
      // the row comes back from the trash whole, with its value converted
      expect((await app.request('POST', `/tables/${t.id}/rows/2/restore`)).status).to.equal(200);
      expect(await sql.one(`SELECT amount FROM data.ledger WHERE id = 2`)).to.deep.equal({ amount: '2' });
    } finally {
      await holder.exec('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
  });
});
