// dry_run=1 on a conversion to a formula and from one: the loss report and the plan, as
// any other conversion answers them, and nothing changed (the catalog, the rows and the
// metadata compared before and after). Stored and read-time (today()) formulas both.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { waitForJob } from '../helpers/jobs.js';

describe('formula conversions: dry_run=1', function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tid: number;
  const F: Record<string, any> = {};

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    const res = await app.request('POST', '/tables', {
      json: { name: 'Parts', table_name: 'parts', fields: [{ name: 'Name', type: 'text', column: 'name' }, { name: 'Code', type: 'text', column: 'code' }, { name: 'Qty', type: 'number', column: 'qty' }, { name: 'Due', type: 'date', column: 'due' }] },
    });
    expect(res.status, res.text).to.equal(201);
    tid = res.body.id;
    for (const f of res.body.fields) F[f.name as string] = f;
    const rows = await app.request('POST', `/tables/${tid}/rows`, { json: [{ name: 'bolt', code: 'B1', qty: 3, due: '2030-01-01' }, { name: 'nut', code: 'N2', qty: 12 }, { qty: 1 }] });
    expect(rows.status, rows.text).to.equal(201);
    for (const [name, expression] of [['Label', "upper({Name}) & '-' & {Qty}"], ['Double', '{Qty} * 2'], ['Left', 'date_diff(today(), {Due})']]) {
      const f = await app.request('POST', `/tables/${tid}/fields`, { json: { name, type: 'formula', options: { expression } } });
      expect(f.status, f.text).to.equal(201);
      F[name!] = f.body.field ?? f.body;
    }
    expect(F.Left.options.stored).to.equal(false);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const dry = async (field: string, json: Record<string, unknown>, status = 200) => {
    const before = await sql.snapshot();
    const meta = await sql.rows(`SELECT id, type, options, attnum FROM tablewright.fields WHERE table_id = $1 ORDER BY id`, [tid]);
    const res = await app.request('PATCH', `/tables/${tid}/fields/${F[field].id}`, { json: { ...json, dry_run: 1 } });
    expect(res.status, res.text).to.equal(status);
    expect(await sql.snapshot(), 'a dry run changes no table').to.deep.equal(before);
    expect(await sql.rows(`SELECT id, type, options, attnum FROM tablewright.fields WHERE table_id = $1 ORDER BY id`, [tid]), 'nor any metadata').to.deep.equal(meta);
    return res.body;
  };
  const statements = (body: any) => (body.plan.steps as Array<{ sql: string }>).map((s) => s.sql).join('\n');

  it('to a formula: every non-empty value is reported lost, with examples, and the plan drops the column for a generated one', async () => {
    const body = await dry('Code', { type: 'formula', options: { expression: "'part ' & {Qty}" } });
    expect(body).to.deep.include({ dry_run: true, field_id: F.Code.id, rows: 3, non_empty: 2, lost: 2 });
    expect(body.from.type).to.equal('text');
    expect(body.to.type).to.equal('formula');
    expect(body.to.options).to.include({ expression: "'part ' & {Qty}", stored: true, result: 'text' });
    expect(body.examples.map((e: any) => e.value)).to.deep.equal(['B1', 'N2']);
    expect(statements(body)).to.match(/DROP COLUMN "code"/).and.match(/ADD COLUMN "code" text GENERATED ALWAYS AS \(.+\) STORED/);
    expect(body.plan.steps.some((s: any) => s.class === 'rewrite')).to.equal(true);
    // the console's field form asks the same and shows the report with its plan
    const page = await app.request('PATCH', `/tables/${tid}/fields/${F.Code.id}`, {
      form: { type: 'formula', options_json: JSON.stringify({ expression: "'part ' & {Qty}" }), dry_run: '1' },
      headers: { Accept: 'text/html', 'HX-Request': 'true' },
    });
    expect(page.status, page.text).to.equal(200);
    expect(page.text).to.include('from text to formula').and.include('2 values would be replaced').and.include('GENERATED ALWAYS AS');
  });

  it('to a formula using today(): the plan drops the column and adds none', async () => {
    const body = await dry('Code', { type: 'formula', options: { expression: 'date_diff(today(), {Due})' } });
    expect(body).to.deep.include({ rows: 3, non_empty: 2, lost: 2 });
    expect(body.to.options.stored).to.equal(false);
    const run = statements(body).split('\n').filter((l) => !l.startsWith('--')).join('\n');
    expect(run).to.match(/DROP COLUMN "code"/).and.not.match(/ADD COLUMN/);
  });

  it('the same refusals as the real conversion: a bad expression (422 naming options.expression), a formula over itself, a field a formula uses (409)', async () => {
    const bad = await dry('Code', { type: 'formula', options: { expression: '{Nope} + 1' } }, 422);
    expect(bad.error.field).to.equal('options.expression');
    const self = await dry('Code', { type: 'formula', options: { expression: 'upper({Code})' } }, 422);
    expect(self.error.field).to.equal('options.expression');
    // Label uses Name: the dry run says what the conversion would say
    const used = await dry('Name', { type: 'formula', options: { expression: "'x'" } }, 409);
    expect(used.error).to.deep.include({ code: 'used_by_formula', field: 'type' });
    expect(used.error.message).to.match(/the formula "Label" uses it/);
    const real = await app.request('PATCH', `/tables/${tid}/fields/${F.Name.id}`, { json: { type: 'formula', options: { expression: "'x'" }, confirm_loss: 1 } });
    expect(real.status, real.text).to.equal(409);
    expect(real.body.error.code).to.equal('used_by_formula');
  });

  it('from a stored formula to a plain type: the values it holds now converted, losses counted; the plan drops the expression then converts', async () => {
    const same = await dry('Double', { type: 'number' });
    expect(same).to.deep.include({ dry_run: true, rows: 3, non_empty: 3, lost: 0 });
    expect(same.from.type).to.equal('formula');
    expect(statements(same)).to.match(/ALTER COLUMN "double" DROP EXPRESSION/);
    // 'BOLT-3' is no number: each label is lost but the nameless row's '-1'
    const lossy = await dry('Label', { type: 'number' });
    expect(lossy).to.deep.include({ rows: 3, non_empty: 3, lost: 2 });
    expect(lossy.examples.map((e: any) => e.value)).to.deep.equal(['BOLT-3', 'NUT-12']);
    expect(statements(lossy)).to.match(/DROP EXPRESSION\n.*ALTER COLUMN "label" TYPE bigint USING/);
    // a real conversion without confirm_loss is refused with the same count
    const real = await app.request('PATCH', `/tables/${tid}/fields/${F.Label.id}`, { json: { type: 'number' } });
    expect(real.status, real.text).to.equal(422);
    expect(real.body.error.details.lost).to.equal(2);
  });

  it('from a formula using today(): its values as computed now, and the plan adds and fills a column', async () => {
    const body = await dry('Left', { type: 'text' });
    expect(body).to.deep.include({ rows: 3, non_empty: 1, lost: 0 });
    expect(body.from.type).to.equal('formula');
    expect(statements(body)).to.match(/ADD COLUMN "left_"/).and.match(/UPDATE/);
  });

  it('from a formula using today() to a link: its values looked up in the target (in the data schema, not where the copy of its values is): a number of days is no row', async () => {
    // (the copy of its values is a temporary table; the link target was looked for next to it: 409 schema_drift)
    const body = await dry('Left', { type: 'link', options: { table_id: tid } });
    expect(body).to.deep.include({ rows: 3, non_empty: 1, lost: 1 });
  });

  it('past JOB_THRESHOLD_ROWS a formula conversion is planned and run as a job in one transaction, never on the online path (no shadow column stands in for a generated one)', async () => {
    const big = await startApp(db.url, { JOB_THRESHOLD_ROWS: '1' }, 'big');
    try {
      await sql.exec('ANALYZE data.parts');
      const res = await big.request('PATCH', `/tables/${tid}/fields/${F.Double.id}`, { json: { type: 'text', dry_run: 1 } });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.plan.online).to.equal(false);
      expect(res.body.plan.reason).to.match(/never online/).and.match(/a job/);
      const note = await big.request('POST', `/tables/${tid}/fields`, { json: { name: 'Note', type: 'text', column: 'note' } });
      expect(note.status, note.text).to.equal(201);
      await sql.exec(`UPDATE data.parts SET note = 'n'`);
      const to = await big.request('PATCH', `/tables/${tid}/fields/${(note.body.field ?? note.body).id}`, { json: { type: 'formula', options: { expression: "'p' & {Qty}" }, confirm_loss: 1 } });
      expect(to.status, to.text).to.equal(202);
      const job = await waitForJob(big, to.body.id, 60_000);
      expect(job.status, JSON.stringify(job)).to.equal('done');
      expect(await sql.one(`SELECT count(*)::int AS n FROM tablewright.online_changes WHERE table_id = $1`, [tid])).to.deep.equal({ n: 0 });
      expect((await sql.one(`SELECT attgenerated FROM pg_attribute WHERE attrelid = 'data.parts'::regclass AND attname = 'note'`)).attgenerated).to.equal('s');
      const from = await big.request('PATCH', `/tables/${tid}/fields/${F.Double.id}`, { json: { type: 'text' } });
      expect(from.status, from.text).to.equal(202);
      expect((await waitForJob(big, from.body.id, 60_000)).status).to.equal('done');
      expect((await sql.rows(`SELECT double FROM data.parts ORDER BY id`)).map((r) => r.double)).to.deep.equal(['6', '24', '2']);
    } finally {
      await big.stop();
    }
  });
});
