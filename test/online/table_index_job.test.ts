// Indexes and UNIQUE constraints over several fields past the job threshold: a resumable
// job (CREATE INDEX CONCURRENTLY outside a transaction, its progress from
// pg_stat_progress_create_index, then the brief attach), online=0 for one blocking
// transaction, a member's purge taking the index's row with it, the console's Drop
// without JavaScript; and an instance SIGKILLed mid-build (a real `tablewright serve`
// child process): the invalid index it leaves is dropped and built again by the instance
// that takes the job over. Index builds run with the planner pushed to a parallel build
// (min_parallel_table_scan_size = 0, max_parallel_maintenance_workers = 2).
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';
import { act, createTable, expectClean, QUIET, report } from '../introspect/lib.js';
import { adminTokenFor, eventually, startDaemon, stopDaemons, type Daemon } from '../faults/lib.js';

const PARALLEL = `DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET min_parallel_table_scan_size = 0', current_database());
  EXECUTE format('ALTER DATABASE %I SET max_parallel_maintenance_workers = 2', current_database());
  EXECUTE format('ALTER DATABASE %I SET parallel_setup_cost = 0', current_database());
END $$`;

const indexesOf = (sql: Sql, table: string) =>
  sql.rows(
    `SELECT c.relname AS name, i.indisunique AS uniq, i.indisvalid AS valid, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass AND NOT i.indisprimary ORDER BY 1`,
    [`data.${table}`],
  );

describe('indexes over several fields as online jobs', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  before(async () => {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
    await sql.exec(PARALLEL);
    app = await startApp(db.url, { ...QUIET, JOB_POLL_MS: '50', JOB_THRESHOLD_ROWS: '1000' });
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('past the job threshold a UNIQUE over two fields is a job: built concurrently, attached in a brief step; audited step by step; reconcile clean', async () => {
    const t = await createTable(app, 'Visits', [{ name: 'Person', type: 'text' }, { name: 'Day', type: 'number' }, { name: 'Note', type: 'text' }]);
    const [person, day] = [t.fields[0]!.id, t.fields[1]!.id];
    await sql.exec(`INSERT INTO data.visits (person, day) SELECT 'p' || (g % 1000), g / 1000 FROM generate_series(0, 49999) g`);
    await sql.exec('ANALYZE data.visits');
    const dry = await app.request('POST', `/tables/${t.id}/constraints`, { json: { fields: [person, day], dry_run: 1 } });
    expect(dry.body.plan.online).to.equal(true);
    const res = await app.request('POST', `/tables/${t.id}/constraints`, { json: { fields: [person, day] } });
    expect(res.status, res.text).to.equal(202);
    expect(res.headers.get('location')).to.equal(`/jobs/${res.body.id}`);
    const job = await waitForJob(app, res.body.id, 60_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.result.index).to.include({ name: 'uq_visits_person_day', is_unique: true });
    expect(await sql.rows(`SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'data.visits'::regclass AND contype = 'u'`)).to.deep.equal([
      { conname: 'uq_visits_person_day', def: 'UNIQUE (person, day)' },
    ]);
    expect(await indexesOf(sql, 'visits')).to.deep.equal([{ name: 'uq_visits_person_day', uniq: true, valid: true, def: 'CREATE UNIQUE INDEX uq_visits_person_day ON data.visits USING btree (person, day)' }]);
    const audit = await sql.rows(`SELECT operation, ddl FROM tablewright.audit WHERE table_id = $1 AND operation LIKE 'online_table_index:%' ORDER BY id`, [t.id]);
    expect(audit.map((a) => a.operation)).to.deep.equal(['online_table_index:build_index', 'online_table_index:attach']);
    expect(audit[0].ddl).to.match(/^CREATE UNIQUE INDEX CONCURRENTLY "uq_visits_person_day" ON "data"."visits" \("person", "day"\)/);
    expect(audit[1].ddl).to.match(/ADD CONSTRAINT "uq_visits_person_day" UNIQUE USING INDEX/);
    const listed = (await app.request('GET', `/tables/${t.id}/constraints`)).body.constraints;
    expect(listed.map((c: any) => [c.name, c.fields.map((f: any) => f.id)])).to.deep.equal([['uq_visits_person_day', [person, day]]]);
    expect(await sql.rows(`SELECT status FROM tablewright.online_changes WHERE table_id = $1`, [t.id])).to.deep.equal([{ status: 'done' }]);
    await expectClean(app);

    // a duplicate pair is refused by the database now
    let err: any;
    await sql.exec(`INSERT INTO data.visits (person, day) VALUES ('p1', 0)`).catch((e) => (err = e));
    expect(err?.code).to.equal('23505');
  });

  it('a unique job over fields that repeat is refused before anything is queued (422 with the report)', async () => {
    const t = await createTable(app, 'Pairs', [{ name: 'A', type: 'text' }, { name: 'B', type: 'text' }]);
    await sql.exec(`INSERT INTO data.pairs (a, b) SELECT 'a' || (g % 10), 'b' || (g % 20) FROM generate_series(1, 5000) g`);
    await sql.exec('ANALYZE data.pairs');
    const before = await sql.snapshot();
    const res = await app.request('POST', `/tables/${t.id}/constraints`, { json: { fields: t.fields.map((f) => f.id) } });
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error).to.include({ code: 'has_duplicates', field: 'fields' });
    expect(await sql.snapshot()).to.deep.equal(before);
    expect(await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE table_id = $1`, [t.id])).to.deep.equal([]);
  });

  it('online=0 builds in one transaction of plain DDL; purging a member drops the index and its row together; Drop works as a plain form POST', async () => {
    const t = await createTable(app, 'Plain', [{ name: 'X', type: 'text' }, { name: 'Y', type: 'number' }, { name: 'Z', type: 'text' }]);
    const [x, y, z] = t.fields.map((f) => f.id);
    await sql.exec(`INSERT INTO data.plain (x, y, z) SELECT 'x' || g, g, 'z' || (g % 3) FROM generate_series(1, 3000) g`);
    await sql.exec('ANALYZE data.plain');
    const made = await app.request('POST', `/tables/${t.id}/indexes`, { json: { fields: [x, y], online: 0 } });
    expect(made.status, made.text).to.equal(201);
    const audit = await sql.one(`SELECT operation, ddl FROM tablewright.audit WHERE table_id = $1 ORDER BY id DESC LIMIT 1`, [t.id]);
    expect(audit.operation).to.equal('add_index');
    expect(audit.ddl).to.match(/^CREATE INDEX "ix_plain_x_y" ON "data"."plain" \("x", "y"\)/);
    expect(await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE table_id = $1`, [t.id]), 'no online change: one transaction').to.deep.equal([]);
    const other = await app.request('POST', `/tables/${t.id}/indexes`, { json: { fields: [z, y], online: 0 } });
    expect(other.status, other.text).to.equal(201);

    // purge y: both indexes went with the column in PostgreSQL, and their rows with the field
    expect((await app.request('DELETE', `/tables/${t.id}/fields/${y}`)).status).to.equal(200);
    const col = (await sql.one(`SELECT coalesce(trash_name, column_name) AS c FROM tablewright.fields WHERE id = $1`, [y])).c;
    const purged = await app.request('POST', `/trash/fields/${y}/purge`, { json: { confirm: `data.plain.${col}` } });
    expect(purged.status, purged.text).to.be.within(200, 299);
    expect(await indexesOf(sql, 'plain')).to.deep.equal([]);
    expect(await sql.rows(`SELECT name FROM tablewright.table_indexes WHERE table_id = $1`, [t.id])).to.deep.equal([]);
    const details = (await sql.one(`SELECT details FROM tablewright.audit WHERE table_id = $1 ORDER BY id DESC LIMIT 1`, [t.id])).details;
    expect(details.indexes_dropped).to.deep.equal(['ix_plain_x_y', 'ix_plain_z_y']);
    await expectClean(app);

    // the console's Drop: a form POST with _method=DELETE, no JavaScript
    const again = await app.request('POST', `/tables/${t.id}/indexes`, { json: { fields: [x, z], online: 0 } });
    expect(again.status, again.text).to.equal(201);
    const page = await app.request('GET', `/tables/${t.id}?tab=fields`, { headers: { Accept: 'text/html' } });
    expect(page.text).to.match(new RegExp(`<form class="inline" method="post" action="/tables/${t.id}/indexes/${again.body.id}"[^>]*>[\\s\\S]*?name="_method" value="DELETE"`));
    const dropped = await app.request('POST', `/tables/${t.id}/indexes/${again.body.id}`, { form: { _method: 'DELETE' }, headers: { Accept: 'text/html' } });
    expect(dropped.status, dropped.text).to.equal(303);
    expect(dropped.headers.get('location')).to.equal(`/tables/${t.id}?tab=fields`);
    expect(await indexesOf(sql, 'plain')).to.deep.equal([]);
    await expectClean(app);
  });
});

describe('adopting indexes over several columns made in psql', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  before(async () => {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
    app = await startApp(db.url, { ...QUIET });
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('reconcile lists each as untracked_index (not as a member "indexed"); adopt records it with its fields in order; a partial one can only be ignored; an adopted one drops like ours', async () => {
    const t = await createTable(app, 'Handmade', [{ name: 'A', type: 'text' }, { name: 'B', type: 'text' }, { name: 'C', type: 'number' }]);
    const [a, b, c] = t.fields.map((f) => f.id);
    await sql.exec(`INSERT INTO data.handmade (a, b, c) SELECT 'a' || g, 'b' || g, g FROM generate_series(1, 200) g`);
    await sql.exec(`CREATE UNIQUE INDEX hm_ab ON data.handmade (a, b)`);
    await sql.exec(`ALTER TABLE data.handmade ADD CONSTRAINT hm_bc UNIQUE (b, c)`);
    await sql.exec(`CREATE INDEX hm_ca ON data.handmade (c, a)`);
    await sql.exec(`CREATE INDEX hm_partial ON data.handmade (a, b) WHERE c > 0`);
    const r = await report(app);
    expect(r.items.map((i: any) => [i.kind, i.actual?.name, i.actual?.field_ids, i.actions.map((x: any) => x.name)]).sort()).to.deep.equal([
      ['untracked_index', 'hm_ab', [a, b], ['adopt', 'ignore']],
      ['untracked_index', 'hm_bc', [b, c], ['adopt', 'ignore']],
      ['untracked_index', 'hm_ca', [c, a], ['adopt', 'ignore']],
      ['untracked_index', 'hm_partial', null, ['ignore']],
    ]);
    for (const name of ['hm_ab', 'hm_bc', 'hm_ca']) {
      const out = await act(app, `untracked_index:t${t.id}:${name}`, 'adopt');
      expect(out.result.adopted).to.include({ name });
    }
    await act(app, `untracked_index:t${t.id}:hm_partial`, 'adopt', {}, 400);
    const listed = (await app.request('GET', `/tables/${t.id}/indexes`)).body.indexes;
    expect(listed.map((i: any) => [i.name, i.unique, i.fields.map((f: any) => f.id), i.created_by])).to.deep.equal([
      ['hm_ab', true, [a, b], 'token:test admin (app) (#1)'],
      ['hm_bc', true, [b, c], 'token:test admin (app) (#1)'],
      ['hm_ca', false, [c, a], 'token:test admin (app) (#1)'],
    ]);
    const audit = await sql.rows(`SELECT operation, details->>'index' AS name FROM tablewright.audit WHERE table_id = $1 AND operation = 'adopt_table_index' ORDER BY id`, [t.id]);
    expect(audit.map((x) => x.name)).to.deep.equal(['hm_ab', 'hm_bc', 'hm_ca']);
    await act(app, `untracked_index:t${t.id}:hm_partial`, 'ignore');
    await expectClean(app);
    // an adopted UNIQUE constraint drops like one of ours
    const bc = listed.find((i: any) => i.name === 'hm_bc');
    expect((await app.request('DELETE', `/tables/${t.id}/constraints/${bc.id}`)).status).to.equal(200);
    expect(await sql.rows(`SELECT 1 FROM pg_constraint WHERE conname = 'hm_bc'`)).to.deep.equal([]);
    expect(await sql.rows(`SELECT 1 FROM pg_class WHERE relname = 'hm_bc'`)).to.deep.equal([]);
    await expectClean(app);
  });
});

describe('SIGKILL mid-build of an index over several fields', function () {
  this.timeout(300_000);
  const ROWS = 200_000;
  // long lock attempts: the build waits for the held transaction until the kill
  const ENV = { JOB_STALE_MS: '1500', JOB_POLL_MS: '100', JOB_THRESHOLD_ROWS: '1000', DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off', LOCK_ATTEMPT_MS: '60000', LOCK_TIMEOUT_MS: '120000' };
  let db: TestDatabase;
  let sql: Sql;
  let token: string;
  before(async () => {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
    await sql.exec(PARALLEL);
    token = await adminTokenFor(db.url);
  });
  after(async () => {
    await stopDaemons();
    await sql?.end();
    await db?.drop();
  });

  it('the killed build leaves an INVALID index; the instance taking the job over drops it, builds again, attaches; nothing of ours left', async () => {
    const a: Daemon = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    const made = await a.call('POST', '/tables', { json: { name: 'Big', fields: [{ name: 'Code', type: 'text', column: 'code' }, { name: 'Amount', type: 'number', column: 'amount' }] } });
    expect(made.status, made.text).to.equal(201);
    const table = made.body;
    await sql.exec(`INSERT INTO data.big (code, amount) SELECT 'c' || g, g FROM generate_series(1, ${ROWS}) g`);
    await sql.exec('ANALYZE data.big');
    // An open transaction that wrote to the table: a CONCURRENTLY build waits for it
    // ("waiting for writers before build"), so the kill lands mid-build, after the invalid
    // index is in the catalog.
    const holder = await Sql.connect(db.url);
    let jobId: number;
    try {
      await holder.exec('BEGIN');
      await holder.exec(`UPDATE data.big SET amount = amount WHERE id = 1`);
      const res = await a.call('POST', `/tables/${table.id}/constraints`, { json: { fields: table.fields.map((f: any) => f.id) } });
      expect(res.status, res.text).to.equal(202);
      jobId = res.body.id;
      await eventually('the build waiting mid-way', async () => (await sql.rows(`SELECT 1 FROM pg_stat_progress_create_index WHERE relid = 'data.big'::regclass AND phase ~ '^waiting'`)).length > 0, 60_000, 50);
      // its progress reaches the job's page
      let seen = '';
      const phase = await eventually(`progress on the job (seen: ${seen})`, async () => (seen = (await a.call('GET', `/jobs/${jobId}`)).body.phase ?? '').match(/building the index: waiting/), 20_000, 100).catch((e) => {
        throw new Error(`${(e as Error).message}; last phase: ${seen}`);
      });
      expect(phase[0]).to.match(/building the index: waiting/);
      a.cli.child.kill('SIGKILL');
      expect((await a.cli.exited).signal).to.equal('SIGKILL');
      // A backend waiting on a lock notices its client gone only when it next talks to it:
      // it is ended here, as the server ends the sessions of a host that went away.
      await sql.exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ~ 'CREATE UNIQUE INDEX CONCURRENTLY' AND pid <> pg_backend_pid()`);
      await eventually('the build ended with its session', async () => (await sql.rows(`SELECT 1 FROM pg_stat_activity WHERE query ~ 'CREATE UNIQUE INDEX CONCURRENTLY' AND pid <> pg_backend_pid()`)).length === 0, 30_000, 100);
    } finally {
      await holder.exec('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    expect(await indexesOf(sql, 'big'), 'the killed build left its index, invalid').to.deep.equal([{ name: 'uq_big_code_amount', uniq: true, valid: false, def: 'CREATE UNIQUE INDEX uq_big_code_amount ON data.big USING btree (code, amount)' }]);

    const b = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    const job = await eventually(
      'the job ended',
      async () => {
        const r = await b.call('GET', `/jobs/${jobId}`);
        return r.body.status === 'done' || r.body.status === 'failed' ? r.body : undefined;
      },
      180_000,
      200,
    );
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.attempts, 'run twice: killed, then resumed').to.equal(2);
    expect(await indexesOf(sql, 'big')).to.deep.equal([{ name: 'uq_big_code_amount', uniq: true, valid: true, def: 'CREATE UNIQUE INDEX uq_big_code_amount ON data.big USING btree (code, amount)' }]);
    const steps = await sql.rows(`SELECT operation FROM tablewright.audit WHERE table_id = $1 AND operation LIKE 'online_table_index:%' ORDER BY id`, [table.id]);
    expect(steps.map((s) => s.operation)).to.deep.equal(['online_table_index:drop_invalid_index', 'online_table_index:build_index', 'online_table_index:attach']);
    expect(await sql.rows(`SELECT name, is_unique FROM tablewright.table_indexes WHERE table_id = $1`, [table.id])).to.deep.equal([{ name: 'uq_big_code_amount', is_unique: true }]);
    expect(await sql.rows(`SELECT status FROM tablewright.online_changes WHERE status = 'running'`)).to.deep.equal([]);
    const report = (await b.call('GET', '/reconcile')).body;
    expect(report.items, JSON.stringify(report.items)).to.deep.equal([]);
    expect(report.in_flight).to.deep.equal([]);
    await b.stop();
  });
});
