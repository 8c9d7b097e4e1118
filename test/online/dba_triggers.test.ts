// A table with triggers of a DBA's own: an online type change updates every row to copy
// it, so a trigger on UPDATE fired for every row (an updated_at stamp on all of them, an
// audit row for each), and a BEFORE trigger that changes a value as a row is written ran
// after the sync trigger had converted it, leaving the new column with the value before (a
// hostile review: a trigger filling an empty reading with '0' left the new field empty,
// the job done with nothing lost). The online path refuses such a table with 409
// online_not_possible (at the request, at the start of a queued job, and at the swap for one
// made meanwhile); online=0 (ALTER COLUMN TYPE, which fires no trigger) converts it.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import { waitForJob } from '../helpers/jobs.js';
import type { Sql } from '../helpers/sql.js';
import { createTable, expectClean, QUIET } from '../introspect/lib.js';

describe("online type change on a table with a DBA's triggers", function () {
  this.timeout(120_000);
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ app, sql } = s), { ...QUIET, JOB_POLL_MS: '50', JOB_THRESHOLD_ROWS: '1000' });

  const ROWS = 20_000;
  async function meters(name: string) {
    const t = await createTable(app, name, [
      { name: 'Reading', type: 'text', column: 'reading' },
      { name: 'Stamp', type: 'number', column: 'stamp' },
    ]);
    await sql.exec(`INSERT INTO data.${t.table_name} (reading, stamp) SELECT g::text, 0 FROM generate_series(1, ${ROWS}) g`);
    await sql.exec(`CREATE OR REPLACE FUNCTION public.dba_fill() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.reading IS NULL THEN NEW.reading := '0'; END IF; NEW.stamp := NEW.stamp + 1; RETURN NEW; END $$`);
    await sql.exec(`CREATE OR REPLACE FUNCTION public.dba_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`);
    return t;
  }

  for (const [what, ddl] of [
    ['a BEFORE INSERT OR UPDATE row trigger', (rel: string) => `CREATE TRIGGER zz_fill BEFORE INSERT OR UPDATE ON ${rel} FOR EACH ROW EXECUTE FUNCTION public.dba_fill()`],
    ['an AFTER UPDATE statement trigger', (rel: string) => `CREATE TRIGGER audit_upd AFTER UPDATE ON ${rel} FOR EACH STATEMENT EXECUTE FUNCTION public.dba_log()`],
  ] as const) {
    it(`${what}: online is a 409 naming it, nothing changed; online=0 converts, the trigger fired for no row`, async () => {
      const t = await meters(`Meters ${what.split(' ')[1]}`);
      const rel = `data.${t.table_name}`;
      await sql.exec(ddl(rel));
      const res = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { type: 'number', online: 1 } });
      expect(res.status, res.text).to.equal(409);
      expect(res.body.error.code).to.equal('online_not_possible');
      expect(res.body.error.field).to.equal('type');
      expect(res.body.error.message).to.match(/online=0/);
      expect(await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE table_id = $1`, [t.id]), 'no change begun').to.deep.equal([]);
      const sync = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { type: 'number', online: 0 } });
      expect(sync.status, sync.text).to.equal(200);
      expect(await sql.one(`SELECT count(*) FILTER (WHERE reading = id)::int AS converted, count(*) FILTER (WHERE stamp <> 0)::int AS stamped FROM ${rel}`)).to.deep.equal({ converted: ROWS, stamped: 0 });
    });
  }

  it('online not asked for on a table past the job threshold: the plan and the change take one transaction (in a job), saying why; online=1 in a dry run is the 409', async () => {
    const t = await meters('Meters default');
    const rel = `data.${t.table_name}`;
    await sql.exec(`ANALYZE ${rel}`);
    await sql.exec(`CREATE TRIGGER zz_fill BEFORE INSERT OR UPDATE ON ${rel} FOR EACH ROW EXECUTE FUNCTION public.dba_fill()`);
    const fid = t.fields[0]!.id;
    const plan = await app.request('PATCH', `/tables/${t.id}/fields/${fid}?dry_run=1&plan_only=1`, { json: { type: 'number' } });
    expect(plan.status, plan.text).to.equal(200);
    expect(plan.body.plan.online).to.equal(false);
    expect(plan.body.plan.reason).to.match(/past JOB_THRESHOLD_ROWS.*cannot run online \(trigger zz_fill\)/);
    const asked = await app.request('PATCH', `/tables/${t.id}/fields/${fid}?dry_run=1&plan_only=1`, { json: { type: 'number', online: 1 } });
    expect([asked.status, asked.body.error?.code]).to.deep.equal([409, 'online_not_possible']);
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number' } });
    expect(res.status, res.text).to.equal(202);
    expect(res.body.kind, 'the one-transaction change, as a job').to.not.equal('online_change');
    const job = await waitForJob(app, res.body.id, 60_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(await sql.one(`SELECT count(*) FILTER (WHERE reading = id)::int AS converted, count(*) FILTER (WHERE stamp <> 0)::int AS stamped FROM ${rel}`)).to.deep.equal({ converted: ROWS, stamped: 0 });
  });

  it('a disabled trigger, or one on INSERT after the row is written, is no obstacle: the change goes online', async () => {
    const t = await meters('Meters quiet');
    const rel = `data.${t.table_name}`;
    await sql.exec(`CREATE TRIGGER zz_fill BEFORE INSERT OR UPDATE ON ${rel} FOR EACH ROW EXECUTE FUNCTION public.dba_fill()`);
    await sql.exec(`ALTER TABLE ${rel} DISABLE TRIGGER zz_fill`);
    await sql.exec(`CREATE TRIGGER ins_log AFTER INSERT ON ${rel} FOR EACH ROW EXECUTE FUNCTION public.dba_log()`);
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { type: 'number', online: 1 } });
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(app, res.body.id, 60_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect((await sql.one(`SELECT count(*) FILTER (WHERE reading = id)::int AS n FROM ${rel}`)).n).to.equal(ROWS);
  });

  it('a trigger made while the change runs: refused at the swap and rolled back, every value as it was', async () => {
    const t = await meters('Meters late');
    const rel = `data.${t.table_name}`;
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { type: 'number', online: 1, batch_pages: 1 } });
    expect(res.status, res.text).to.equal(202);
    for (let i = 0; i < 1000 && !(await sql.rows(`SELECT 1 FROM pg_trigger WHERE tgname = $1`, [`tw_sync_f${t.fields[0]!.id}_upd`])).length; i++) await new Promise((r) => setTimeout(r, 5));
    await sql.exec(`CREATE TRIGGER zz_fill BEFORE INSERT OR UPDATE ON ${rel} FOR EACH ROW EXECUTE FUNCTION public.dba_fill()`);
    const job = await waitForJob(app, res.body.id, 60_000);
    expect(job.status).to.equal('failed');
    expect(job.error.code, JSON.stringify(job.error)).to.equal('online_not_possible');
    expect((await app.request('GET', `/tables/${t.id}/fields/${t.fields[0]!.id}`)).body.type).to.equal('text');
    expect(await sql.one(`SELECT count(*) FILTER (WHERE reading = id::text)::int AS n, count(*) FILTER (WHERE stamp <> 0)::int AS stamped FROM ${rel}`), 'the values as they were (the stamps are the copy firing the trigger before the swap saw it)').to.include({ n: ROWS });
    expect(await sql.rows(`SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attname ~ '^_tw_new_' AND NOT attisdropped`, [rel]), 'the shadow gone').to.deep.equal([]);
    await sql.exec(`DROP TRIGGER zz_fill ON ${rel}`);
    await expectClean(app);
  });

  // Each a DBA's object that the swap would have left on the old column (or that fires per
  // row): refused online, named; before, each emptied the field, broke the table or held no more.
  const OBSTACLES: Array<[string, (rel: string, t: string) => string[], RegExp]> = [
    ['a trigger named as ours (its function tells)', (rel) => [`CREATE TRIGGER tablewright_stamp BEFORE UPDATE ON ${rel} FOR EACH ROW EXECUTE FUNCTION public.dba_fill()`], /^trigger tablewright_stamp$/],
    ['a rule on UPDATE', (rel, t) => [`CREATE TABLE public.audit_${t} (id bigint)`, `CREATE RULE log_upd AS ON UPDATE TO ${rel} DO ALSO INSERT INTO public.audit_${t} VALUES (NEW.id)`], /^rule log_upd$/],
    ['a CHECK on the column', (rel) => [`ALTER TABLE ${rel} ADD CONSTRAINT reading_set CHECK (reading IS NOT NULL)`], /^constraint reading_set$/],
    ['an index over it and another field', (rel) => [`CREATE UNIQUE INDEX reading_stamp ON ${rel} (reading, stamp)`], /^index reading_stamp$/],
    ['a generated column reading it', (rel) => [`ALTER TABLE ${rel} ADD COLUMN shout text GENERATED ALWAYS AS (reading || '!') STORED`], /^generated column shout$/],
    ['a view of it', (rel, t) => [`CREATE VIEW public.v_${t} AS SELECT id, reading FROM ${rel}`], /^view (public\.)?v_/],
    ['a default a DBA set', (rel) => [`ALTER TABLE ${rel} ALTER COLUMN reading SET DEFAULT 'n/a'`], /^a default set outside the console \('n\/a'::text\)$/],
  ];
  for (const [what, ddl, named] of OBSTACLES) {
    it(`${what}: online=1 is a 409 naming it, nothing begun; without online the change does not go online`, async () => {
      const t = await meters(`Obstacle ${what.split(' ').slice(1, 3).join(' ')}`);
      const rel = `data.${t.table_name}`;
      for (const q of ddl(rel, t.table_name)) await sql.exec(q);
      const fid = t.fields[0]!.id;
      const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', online: 1 } });
      expect([res.status, res.body.error?.code], res.text).to.deep.equal([409, 'online_not_possible']);
      expect(res.body.error.details.obstacles.some((o: string) => named.test(o)), JSON.stringify(res.body.error.details.obstacles)).to.equal(true);
      expect(await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE table_id = $1`, [t.id]), 'no change begun').to.deep.equal([]);
      const plan = await app.request('PATCH', `/tables/${t.id}/fields/${fid}?dry_run=1&plan_only=1`, { json: { type: 'number' } });
      expect(plan.body.plan?.online, plan.text).to.equal(false);
      // the one-transaction path converts, or refuses with a 4xx: never a 500
      const sync = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', online: 0 } });
      expect(sync.status, sync.text).to.be.below(500);
    });
  }

  it('a partitioned table (adopted): online=1 is a 409; before, the copy read the parent\'s pages (none) and every value was lost', async () => {
    await sql.exec(`CREATE TABLE data.parted (id bigint GENERATED BY DEFAULT AS IDENTITY, reading text, PRIMARY KEY (id)) PARTITION BY RANGE (id)`);
    await sql.exec(`CREATE TABLE public.parted_a PARTITION OF data.parted FOR VALUES FROM (1) TO (2000)`);
    await sql.exec(`CREATE TABLE public.parted_b PARTITION OF data.parted FOR VALUES FROM (2000) TO (MAXVALUE)`);
    await sql.exec(`INSERT INTO data.parted (reading) SELECT g::text FROM generate_series(1, 3000) g`);
    const items = (await app.request('GET', '/reconcile')).body.items;
    const adopted = await app.request('POST', '/reconcile/actions', { json: { item: items.find((i: { id: string }) => i.id === 'untracked_table:data:parted').id, action: 'adopt' } });
    expect(adopted.status, adopted.text).to.equal(200);
    const id = adopted.body.result.id;
    const fid = (await sql.one(`SELECT id FROM tablewright.fields WHERE table_id = $1 AND column_name = 'reading'`, [id])).id;
    const res = await app.request('PATCH', `/tables/${id}/fields/${fid}`, { json: { type: 'number', online: 1 } });
    expect([res.status, res.body.error?.code], res.text).to.deep.equal([409, 'online_not_possible']);
    expect(res.body.error.details.obstacles).to.include('a partitioned table');
    const sync = await app.request('PATCH', `/tables/${id}/fields/${fid}`, { json: { type: 'number', online: 0 } });
    expect(sync.status, sync.text).to.equal(200);
    expect((await sql.one(`SELECT count(*) FILTER (WHERE reading = id)::int AS n FROM data.parted`)).n).to.equal(3000);
  });
});
