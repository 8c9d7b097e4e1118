// Writes during an online type change. Without confirm_loss nothing may be lost: the sync
// trigger refuses a write whose value would not convert (a 422 naming the field, the row
// as it was), and a value written before the trigger existed (after the loss report) is
// found by the copy, which refuses the change, rolled back with every value where it was.
// With confirm_loss such writes are taken: empty in the new field, kept in the old column.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';
import { createTable, expectClean, QUIET } from '../introspect/lib.js';

describe('online type change: writes of values that would not convert', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ db, app, sql } = s), { ...QUIET, JOB_POLL_MS: '50' });

  const ROWS = 20_000;
  /** The online change started slowly (small fixed ranges), and the moment its shadow column exists. */
  async function start(table: string, t: { id: number }, fid: number, body: Record<string, unknown>): Promise<number> {
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', online: 1, batch_pages: 1, ...body } });
    expect(res.status, res.text).to.equal(202);
    for (let i = 0; i < 400; i++) {
      const shadow = await sql.rows(`SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND attname ~ '^_tw_new_' AND NOT attisdropped`, [`data.${table}`]);
      if (shadow.length) return res.body.id as number;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the shadow column never came');
  }
  const running = async (jobId: number) => ['queued', 'running'].includes((await app.request('GET', `/jobs/${jobId}`)).body.status);

  it('without confirm_loss: a write that would not convert is a 422 naming the field (API and SQL alike), the row unchanged; one that converts goes in; nothing is lost', async () => {
    const t = await createTable(app, 'Meter', [{ name: 'Reading', type: 'text' }]);
    await sql.exec(`INSERT INTO data.meter (reading) SELECT g::text FROM generate_series(1, ${ROWS}) g`);
    const jobId = await start('meter', t, t.fields[0]!.id, {});
    const refused = await app.request('PATCH', `/tables/${t.id}/rows/5`, { json: { reading: 'n/a' } });
    const taken = await app.request('PATCH', `/tables/${t.id}/rows/6`, { json: { reading: '42' } });
    const byDba = await sql.exec(`UPDATE data.meter SET reading = 'broken' WHERE id = 7`).then(
      () => undefined,
      (e: { code?: string }) => e.code,
    );
    expect(await running(jobId), 'the writes ran while the change was in flight').to.equal(true);
    expect(refused.status, refused.text).to.equal(422);
    expect(refused.body.error.code).to.equal('would_not_convert');
    expect(refused.body.error.field).to.equal('reading');
    expect(refused.body.error.message).to.match(/^Reading: the field is being changed to Number/);
    expect(taken.status, taken.text).to.equal(200);
    expect(byDba, "a DBA's write is refused by PostgreSQL").to.equal('TW001');

    const job = await waitForJob(app, jobId, 60_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.result.changes.type_change.lost).to.equal(0);
    expect(await sql.rows(`SELECT id::int, reading::text FROM data.meter WHERE id IN (5, 6, 7) ORDER BY id`)).to.deep.equal([
      { id: 5, reading: '5' },
      { id: 6, reading: '42' },
      { id: 7, reading: '7' },
    ]);
    expect((await sql.one(`SELECT count(reading)::int AS n FROM data.meter`)).n, 'no value emptied').to.equal(ROWS);
    await expectClean(app);
  });

  it('without confirm_loss: a value written after the report but before the trigger (emulated: a write with triggers off, ahead of the copy) is found by the copy, which refuses the change; rolled back, every value where it was', async () => {
    const t = await createTable(app, 'Gauge', [{ name: 'Level', type: 'text' }, { name: 'Note', type: 'text' }]);
    // Room on every page: the write below stays on its page (a HOT update). The write it
    // stands for came before the sync trigger, so before the copy read the table's size:
    // on a page the copy goes through. (A write with triggers off while the copy runs,
    // moved to a page past that size, is a write the change cannot see: out of its reach,
    // as any write that bypasses triggers is.)
    await sql.exec(`ALTER TABLE data.gauge SET (fillfactor = 90)`);
    await sql.exec(`INSERT INTO data.gauge (level) SELECT g::text FROM generate_series(1, ${ROWS}) g`);
    const jobId = await start('gauge', t, t.fields[0]!.id, {});
    // the copy goes by page: the last row, on the last page, is copied last, after this write
    const dba = await Sql.connect(db.url);
    try {
      await dba.exec(`SET session_replication_role = replica`);
      const page = `SELECT (ctid::text::point)[0]::int AS page FROM data.gauge WHERE id = ${ROWS}`;
      const before = await dba.one(page);
      await dba.exec(`UPDATE data.gauge SET level = 'offline' WHERE id = ${ROWS}`);
      expect(await dba.one(page), 'on its page').to.deep.equal(before);
    } finally {
      await dba.end();
    }
    // an edit of another field of that row is no write of the field: taken
    const other = await app.request('PATCH', `/tables/${t.id}/rows/${ROWS}`, { json: { note: 'checked' } });
    expect(await running(jobId)).to.equal(true);
    expect(other.status, other.text).to.equal(200);
    // noted: wherever the edit put the row, the swap looks it up (the next test)
    expect(await sql.rows(`SELECT field_id::int, row_id FROM tablewright.online_lost_rows`)).to.deep.equal([{ field_id: t.fields[0]!.id, row_id: String(ROWS) }]);
    const job = await waitForJob(app, jobId, 60_000);
    expect(job.status).to.equal('failed');
    expect(job.error.code).to.equal('lossy_conversion');
    expect(job.error.details.examples).to.deep.equal([{ id: ROWS, value: 'offline' }]);
    const field = (await app.request('GET', `/tables/${t.id}/fields/${t.fields[0]!.id}`)).body;
    expect(field.type, 'the field as it was').to.equal('text');
    expect(await sql.one(`SELECT count(*)::int AS n, count(*) FILTER (WHERE level = id::text)::int AS same FROM data.gauge`)).to.deep.equal({ n: ROWS, same: ROWS - 1 });
    expect(
      await sql.rows(`SELECT attname FROM pg_attribute WHERE attrelid = 'data.gauge'::regclass AND attname ~ '^_tw_new_' AND NOT attisdropped UNION ALL SELECT tgname FROM pg_trigger WHERE tgrelid = 'data.gauge'::regclass AND tgname ~ '^tw_sync'`),
      'nothing of the change left',
    ).to.deep.equal([]);
    await expectClean(app);
  });

  it('without confirm_loss: such a value on a row the copy can no longer see (moved by an edit of another field behind the copy: the trigger noted its id) is found at the swap, which refuses the change; rolled back', async () => {
    const t = await createTable(app, 'Valve', [{ name: 'Level', type: 'text' }, { name: 'Note', type: 'text' }]);
    const fid = t.fields[0]!.id;
    await sql.exec(`INSERT INTO data.valve (level) SELECT g::text FROM generate_series(1, ${ROWS}) g`);
    const jobId = await start('valve', t, fid, {});
    // The row's state after such an edit, made directly: the old value that would not
    // convert, the new column empty, the id noted (as the sync trigger does; the test
    // above checks it does), on a page the copy has passed.
    for (let i = 0; i < 2000; i++) {
      const at = await sql.one(`SELECT coalesce(backfill_page, 0)::int AS p FROM tablewright.online_changes WHERE job_id = $1`, [jobId]);
      if ((at.p as number) > 2) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const shadow = (await sql.one(`SELECT attname FROM pg_attribute WHERE attrelid = 'data.valve'::regclass AND attname ~ '^_tw_new_' AND NOT attisdropped`)).attname as string;
    const dba = await Sql.connect(db.url);
    try {
      await dba.exec(`SET session_replication_role = replica`);
      expect(await dba.one(`SELECT ${shadow}::text AS copied FROM data.valve WHERE id = 2`), 'copied already').to.deep.equal({ copied: '2' });
      await dba.exec(`UPDATE data.valve SET level = 'offline', ${shadow} = NULL WHERE id = 2`);
      await dba.exec(`SELECT tablewright.note_lost_row($1, '2')`, [fid]);
    } finally {
      await dba.end();
    }
    expect(await running(jobId)).to.equal(true);
    const job = await waitForJob(app, jobId, 60_000);
    expect(job.status).to.equal('failed');
    expect(job.error.code).to.equal('lossy_conversion');
    expect(job.error.details).to.deep.include({ found_at: 'swap', examples: [{ id: 2, value: 'offline' }] });
    expect((await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body.type, 'the field as it was').to.equal('text');
    expect(await sql.rows(`SELECT * FROM tablewright.online_lost_rows`), 'the noted rows go with the change').to.deep.equal([]);
    await expectClean(app);
  });

  for (const how of ['DISABLE', 'ENABLE REPLICA'] as const) {
    it(`a sync trigger a DBA set to ${how} during the change (it does not fire for ordinary sessions: writes meanwhile left the new column behind) refuses the swap: 409 sync_trigger_disabled, rolled back`, async () => {
      const name = how === 'DISABLE' ? 'Pump' : 'Sluice';
      const rel = `data.${name.toLowerCase()}`;
      const t = await createTable(app, name, [{ name: 'Rate', type: 'text' }]);
      const fid = t.fields[0]!.id;
      await sql.exec(`INSERT INTO ${rel} (rate) SELECT g::text FROM generate_series(1, ${ROWS}) g`);
      const jobId = await start(name.toLowerCase(), t, fid, { confirm_loss: 1 });
      await sql.exec(`ALTER TABLE ${rel} ${how} TRIGGER tw_sync_f${fid}_upd`);
      // a write the new column never hears of
      await sql.exec(`UPDATE ${rel} SET rate = '7777' WHERE id = 1`);
      const job = await waitForJob(app, jobId, 60_000);
      expect(job.status).to.equal('failed');
      expect(job.error.code, JSON.stringify(job.error)).to.equal('sync_trigger_disabled');
      expect((await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body.type, 'the field as it was').to.equal('text');
      expect(await sql.one(`SELECT rate FROM ${rel} WHERE id = 1`)).to.deep.equal({ rate: '7777' });
      await expectClean(app);
    });
  }

  it('with confirm_loss: such a write is taken; after the change it is empty and kept in the old column, and counted with the rest (the count is made after the copy, of what it emptied)', async () => {
    const t = await createTable(app, 'Probe', [{ name: 'Value', type: 'text' }]);
    await sql.exec(`INSERT INTO data.probe (value) SELECT CASE WHEN g = 1 THEN 'none' ELSE g::text END FROM generate_series(1, ${ROWS}) g`);
    const jobId = await start('probe', t, t.fields[0]!.id, { confirm_loss: 1 });
    const taken = await app.request('PATCH', `/tables/${t.id}/rows/5`, { json: { value: 'n/a' } });
    expect(await running(jobId)).to.equal(true);
    expect(taken.status, taken.text).to.equal(200);
    const job = await waitForJob(app, jobId, 60_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.result.changes.type_change.lost, 'the value there before the change and the one written during it').to.equal(2);
    expect(job.result.changes.type_change.rows).to.equal(ROWS);
    const kept = (await sql.one(`SELECT trash_name FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change'`, [t.id])).trash_name as string;
    expect(await sql.rows(`SELECT id::int, value::text, ${kept} AS old FROM data.probe WHERE id IN (1, 5, 6) ORDER BY id`)).to.deep.equal([
      { id: 1, value: null, old: 'none' },
      { id: 5, value: null, old: 'n/a' },
      { id: 6, value: '6', old: '6' },
    ]);
    await expectClean(app);
  });

  it('with confirm_loss: a value emptied after the copy, while the steps after it run (here the index build, held), is counted too: the count is made right before the swap', async () => {
    const t = await createTable(app, 'Tank', [{ name: 'Value', type: 'text', indexed: true }]);
    await sql.exec(`INSERT INTO data.tank (value) SELECT CASE WHEN g = 1 THEN 'none' ELSE g::text END FROM generate_series(1, 20000) g`);
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { type: 'number', online: 1, confirm_loss: 1 } });
    expect(res.status, res.text).to.equal(202);
    // A snapshot held: the index build CONCURRENTLY waits for it, after the copy is done.
    const holder = await Sql.connect(db.url);
    try {
      await holder.exec(`BEGIN ISOLATION LEVEL REPEATABLE READ`);
      await holder.exec(`SELECT 1 FROM tablewright.tables LIMIT 1`);
      for (let i = 0; ; i++) {
        const step = (await sql.one(`SELECT step FROM tablewright.online_changes WHERE job_id = $1`, [res.body.id])).step;
        const building = await sql.rows(`SELECT 1 FROM pg_stat_activity WHERE query ~ 'CREATE INDEX CONCURRENTLY' AND state = 'active' AND pid <> pg_backend_pid()`);
        if (step === 'backfilled' && building.length) break;
        expect(i, 'the index build reached').to.be.lessThan(3000);
        await new Promise((r) => setTimeout(r, 10));
      }
      const w = await app.request('PATCH', `/tables/${t.id}/rows/5`, { json: { value: 'n/a' } });
      expect(w.status, w.text).to.equal(200);
    } finally {
      await holder.exec('COMMIT').catch(() => undefined);
      await holder.end();
    }
    const job = await waitForJob(app, res.body.id, 60_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    const kept = (await sql.one(`SELECT trash_name FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change'`, [t.id])).trash_name as string;
    expect(await sql.rows(`SELECT id::int, ${kept} AS old FROM data.tank WHERE value IS NULL ORDER BY id`)).to.deep.equal([
      { id: 1, old: 'none' },
      { id: 5, old: 'n/a' },
    ]);
    expect(job.result.changes.type_change, 'both counted').to.deep.include({ lost: 2, rows: 20000 });
    await expectClean(app);
  });

  it('with confirm_loss, a required field whose values would not all convert is refused before anything is made (the loss report still runs for it)', async () => {
    const t = await createTable(app, 'Scale', [{ name: 'Reading', type: 'text' }]);
    const fid = t.fields[0]!.id;
    await sql.exec(`INSERT INTO data.scale (reading) SELECT CASE WHEN g = 7 THEN 'nope' ELSE g::text END FROM generate_series(1, 1000) g`);
    const req = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { not_null: true } });
    expect(req.status, req.text).to.equal(200);
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', online: 1, confirm_loss: 1 } });
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(app, res.body.id);
    expect(job.status).to.equal('failed');
    expect(job.error.code).to.equal('lossy_conversion');
    expect(job.error.message).to.include('required');
    expect(job.error.details).to.deep.include({ lost: 1, examples: [{ id: 7, value: 'nope' }] });
    expect(await sql.rows(`SELECT operation FROM tablewright.audit WHERE field_id = $1 AND operation LIKE 'online_%'`, [fid]), 'no step made').to.deep.equal([]);
    expect((await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body.type).to.equal('text');
    await expectClean(app);
  });

  it("without confirm_loss: a default that would not convert refuses the change before anything is done (inserts leaving the field to it would all be refused); with confirm_loss it goes, the default with it", async () => {
    const t = await createTable(app, 'Dial', [{ name: 'Setting', type: 'text', default: 'n/a' }]);
    await sql.exec(`INSERT INTO data.dial (setting) SELECT g::text FROM generate_series(1, 1000) g`);
    const fid = t.fields[0]!.id;
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', online: 1 } });
    expect(res.status, res.text).to.equal(202);
    const refused = await waitForJob(app, res.body.id);
    expect(refused.status).to.equal('failed');
    expect(refused.error.code).to.equal('lossy_conversion');
    expect(refused.error.field).to.equal('default');
    expect(refused.error.details.default_lost).to.equal(true);
    expect(await sql.rows(`SELECT attname FROM pg_attribute WHERE attrelid = 'data.dial'::regclass AND attname ~ '^_tw_new_' AND NOT attisdropped`)).to.deep.equal([]);
    const again = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', online: 1, confirm_loss: 1 } });
    const job = await waitForJob(app, again.body.id);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.result.changes.default_dropped, 'said, as the one-transaction answer says it').to.equal('n/a');
    const field = (await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body;
    expect([field.type, field.default]).to.deep.equal(['number', null]);
    await expectClean(app);
  });

});
