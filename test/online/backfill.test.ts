// The online type change's copy (issue 13), where its speed comes from, each part shown by
// what PostgreSQL did: the sync triggers leave the backfill's own updates alone (the
// function is not called for them) and convert every other write, also one that races the
// copy; and the copy in waves updates most rows in place (HOT), so the table does not
// double as it would if every row's new version went to another page.
import { expect } from 'chai';
import { qualified } from '../../server/db/ident.js';
import { syncTriggerDdl, syncTriggerName } from '../../server/schema/online/trigger.js';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';
import { createTable, QUIET } from '../introspect/lib.js';

describe('online type change: the sync triggers and the copy in waves', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ db, app, sql } = s), { ...QUIET, JOB_POLL_MS: '50' });

  async function patchOnline(t: { id: number }, fid: number, body: Record<string, unknown>) {
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { ...body, online: 1 } });
    expect(res.status, res.text).to.equal(202);
    return res.body.id as number;
  }

  it("an insert and an update of the field convert into the shadow; an update that sets the shadow (the backfill's) never calls the function", async () => {
    await sql.exec(`CREATE TABLE data.synced (id bigint PRIMARY KEY, a bigint, other int, _tw_new_f990001 text)`);
    for (const ddl of syncTriggerDdl('data', 'data.synced', 990001, '_tw_new_f990001', `(NEW.a)::text`)) await sql.exec(ddl);
    const fn = String(qualified('data', syncTriggerName(990001)));
    // calls of the function in this transaction (track_functions counts plpgsql calls)
    const calls = async () => Number((await sql.one(`SELECT coalesce((SELECT calls FROM pg_stat_xact_user_functions WHERE funcid = $1::regproc), 0) AS n`, [fn])).n);
    await sql.exec('BEGIN');
    try {
      await sql.exec(`SET LOCAL track_functions = 'pl'`);
      await sql.exec(`INSERT INTO data.synced (id, a) SELECT g, g * 10 FROM generate_series(1, 50) g`);
      expect(await calls(), 'each insert converts').to.equal(50);
      await sql.exec(`UPDATE data.synced SET _tw_new_f990001 = 'copied ' || id WHERE id <= 40`);
      expect(await calls(), 'the backfill-style updates did not call it').to.equal(50);
      await sql.exec(`UPDATE data.synced SET a = a + 1 WHERE id <= 5`);
      await sql.exec(`UPDATE data.synced SET other = 1 WHERE id BETWEEN 41 AND 45`);
      expect(await calls(), 'an update that leaves the shadow alone converts').to.equal(60);
    } finally {
      await sql.exec('COMMIT');
    }
    const rows = await sql.rows(`SELECT id::int, _tw_new_f990001 AS s FROM data.synced WHERE id IN (1, 6, 41, 50) ORDER BY id`);
    expect(rows).to.deep.equal([
      { id: 1, s: '11' },
      { id: 6, s: 'copied 6' },
      { id: 41, s: '410' },
      { id: 50, s: '500' },
    ]);
  });

  it('writes racing the copy (updates of the field, inserts) are converted: every row ends with its last value converted', async () => {
    const t = await createTable(app, 'Racing', [{ name: 'Amount', type: 'number' }, { name: 'Note', type: 'text' }]);
    const amount = t.fields[0]!.id;
    await sql.exec(`INSERT INTO data.racing (amount, note) SELECT g, 'n' FROM generate_series(1, 100000) g`);
    // small fixed ranges: the copy takes many statements, the writes land before, in and after them
    const jobId = await patchOnline(t, amount, { type: 'text', batch_pages: 1 });
    const writer = await Sql.connect(db.url);
    let writes = 0;
    try {
      for (;;) {
        const job = (await app.request('GET', `/jobs/${jobId}`)).body;
        if (job.status !== 'queued' && job.status !== 'running') break;
        const id = 1 + Math.floor(Math.random() * 100000);
        // a write to the field's column (the old one, until the swap renames it)
        await writer.exec(`UPDATE data.racing SET amount = amount + 1000000 WHERE id = $1 AND pg_typeof(amount) = 'bigint'::regtype`, [id]).catch(() => undefined);
        await writer.exec(`UPDATE data.racing SET note = 'w' WHERE id = $1`, [id + 1]);
        await writer.exec(`INSERT INTO data.racing (amount, note) SELECT 7000000 + $1::int, 'inserted' WHERE EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'data.racing'::regclass AND attname ~ '^_tw_new_')`, [writes]);
        writes++;
      }
    } finally {
      await writer.end();
    }
    const job = await waitForJob(app, jobId);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(writes, `writes ran while the change was in flight: ${writes}`).to.be.greaterThan(10);
    const kept = (await sql.one(`SELECT trash_name FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change'`, [t.id])).trash_name as string;
    const check = await sql.one(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE amount IS DISTINCT FROM ${kept}::text)::int AS wrong,
              count(*) FILTER (WHERE ${kept} > 1000000)::int AS updated, count(*) FILTER (WHERE note = 'inserted')::int AS inserted FROM data.racing`,
    );
    expect(check.wrong, JSON.stringify(check)).to.equal(0);
    expect(check.updated + check.inserted, 'some writes changed the field while it was copied').to.be.greaterThan(0);
  });

});

// In a database of its own: a transaction that holds a snapshot (an autovacuum ANALYZE of
// another test's freshly written table, in CI once) keeps the old versions alive, and then
// the waves cannot reuse their room: slower, never wrong, but not what this test measures.
describe('online type change: the copy in waves, in a database where nothing else runs', function () {
  this.timeout(120_000);
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ app, sql } = s), { ...QUIET, JOB_POLL_MS: '50' });

  it('the copy updates most rows in place (HOT): the table grows by a fraction, not to twice its size', async () => {
    const t = await createTable(app, 'Packed', [{ name: 'Amount', type: 'number' }, { name: 'Code', type: 'text' }]);
    const amount = t.fields[0]!.id;
    // no autovacuum on any table here (its ANALYZE holds a snapshot): only the copy decides
    // where the new versions go
    const tables = await sql.rows(`SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                    WHERE c.relkind = 'r' AND n.nspname IN ('tablewright', 'data', 'data_trash')`);
    for (const { name } of tables) await sql.exec(`ALTER TABLE ${name as string} SET (autovacuum_enabled = false)`);
    const patchOnline = async (fid: number, body: Record<string, unknown>) => {
      const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { ...body, online: 1 } });
      expect(res.status, res.text).to.equal(202);
      return res.body.id as number;
    };
    await sql.exec(`INSERT INTO data.packed (amount, code) SELECT g, 'c' || g FROM generate_series(1, 40000) g`);
    await sql.exec(`CREATE INDEX packed_code ON data.packed (code)`);
    const before = Number((await sql.one(`SELECT pg_relation_size('data.packed') AS n`)).n);
    const job = await waitForJob(app, await patchOnline(amount, { type: 'text' }), 60_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    const after = Number((await sql.one(`SELECT pg_relation_size('data.packed') AS n`)).n);
    // every row moved to another page would be more than 2x (the new versions are wider);
    // 2 rows of 16 move (the first wave), and some more (each row grows by its new value):
    // 1.29x here (1.3-1.4x when 2 of 8 moved)
    expect(after / before, `${before} -> ${after} bytes`).to.be.lessThan(1.45);
    expect(await sql.one(`SELECT count(*)::int AS n, count(*) FILTER (WHERE amount = id::text)::int AS right FROM data.packed`)).to.deep.equal({ n: 40000, right: 40000 });
  });
});
