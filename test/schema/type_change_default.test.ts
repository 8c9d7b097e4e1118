// A type change whose field has a default that would not convert: the one-transaction path
// dropped the default without asking (the online path refused it). Both now refuse it unless
// confirmed, and the dry run says so.
// Proves: the dry run reports default_lost; without confirm_loss the change is a 422 naming
// "default" and nothing changes (type, default, column); with it the type changes and the
// default goes (default_dropped in the answer); a default that converts is kept, unasked,
// by the route the values take (an option renamed or added, true -> 1, a UTC midnight -> its
// date, a multiple select's labels as text), on both paths; a PATCH that sets another
// default with the type loses nothing.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { Sql } from '../helpers/sql.js';
import { createTable, QUIET } from '../introspect/lib.js';

describe('type change: a default that would not convert is never dropped unasked', function () {
  this.timeout(60_000);
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ app, sql } = s), QUIET);

  const columnDefault = async (table: string, column: string) =>
    (await sql.one(`SELECT pg_get_expr(d.adbin, d.adrelid) AS d FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = $1::regclass AND a.attname = $2`, [`data.${table}`, column])).d as string | null;

  it('text "n/a" -> number: the dry run says so, the change is refused without confirm_loss (nothing changes), and goes with it, the default dropped', async () => {
    const t = await createTable(app, 'Gauges', [{ name: 'Reading', type: 'text', column: 'reading', default: 'n/a' }]);
    const fid = t.fields[0]!.id;
    await sql.exec(`INSERT INTO data.gauges (reading) SELECT g::text FROM generate_series(1, 50) g`);

    const dry = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', dry_run: 1 } });
    expect(dry.status, dry.text).to.equal(200);
    const report = dry.body.report ?? dry.body;
    expect([report.lost, report.default_lost], 'every value converts; the default does not').to.deep.equal([0, true]);

    const refused = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', online: 0 } });
    expect(refused.status, refused.text).to.equal(422);
    expect([refused.body.error.code, refused.body.error.field, refused.body.error.details.default_lost]).to.deep.equal(['lossy_conversion', 'default', true]);
    expect(refused.body.error.message).to.contain('"n/a"');
    const still = (await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body;
    expect([still.type, still.default]).to.deep.equal(['text', 'n/a']);
    expect(await columnDefault('gauges', 'reading')).to.equal(`'n/a'::text`);

    const done = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', online: 0, confirm_loss: 1 } });
    expect(done.status, done.text).to.equal(200);
    expect(done.body.changes.default_dropped).to.equal('n/a');
    const now = (await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body;
    expect([now.type, now.default]).to.deep.equal(['number', null]);
    expect(await columnDefault('gauges', 'reading')).to.equal(null);
  });

  it('a default that converts (text "42" -> number) is kept, and nothing asks for confirm_loss', async () => {
    const t = await createTable(app, 'Counters', [{ name: 'Start', type: 'text', column: 'start', default: '42' }]);
    const fid = t.fields[0]!.id;
    const dry = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', dry_run: 1 } });
    expect((dry.body.report ?? dry.body).default_lost).to.equal(undefined);
    const done = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', online: 0 } });
    expect(done.status, done.text).to.equal(200);
    expect((await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body.default).to.equal(42);
  });

  it('defaults that convert by the values\' route are kept without confirm_loss: an option renamed or added (by id), true -> 1 (online too), a UTC midnight -> its date, labels -> text', async () => {
    const t = await createTable(app, 'Kinds', [
      { name: 'One', type: 'single_select', column: 'one', options: { choices: [{ label: 'a' }, { label: 'b' }] }, default: 'a' },
      { name: 'Many', type: 'multiple_select', column: 'many', options: { choices: [{ label: 'a' }, { label: 'b' }] }, default: ['a', 'b'] },
      { name: 'Flag', type: 'boolean', column: 'flag', default: true },
      { name: 'Flag2', type: 'boolean', column: 'flag2', default: false },
      { name: 'At', type: 'datetime', column: 'at', default: '2024-01-02T00:00:00Z' },
      { name: 'Tags', type: 'multiple_select', column: 'tags', options: { choices: [{ label: 'red' }, { label: 'blue' }] }, default: ['blue', 'red'] },
    ]);
    const [one, many, flag, flag2, at, tags] = t.fields.map((f) => f.id) as [number, number, number, number, number, number];
    const get = async (fid: number) => (await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body;
    const patch = async (fid: number, json: Record<string, unknown>) => {
      const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json });
      expect(res.status, `${fid}: ${res.text}`).to.be.oneOf([200, 202]);
      return res;
    };
    const oneField = await get(one);
    const [a, b] = oneField.options.choices as Array<{ id: number; label: string }>;
    // the default's option renamed: the same option (by id)
    const renamed = await patch(one, { options: { choices: [{ id: a!.id, label: 'alpha' }, { id: b!.id, label: 'b' }] } });
    expect(renamed.body.changes?.default_dropped).to.equal(undefined);
    expect((await get(one)).default).to.deep.include({ id: a!.id, label: 'alpha' });
    // an option added to a multiple select: its default stays
    const manyField = await get(many);
    await patch(many, { options: { choices: [...manyField.options.choices, { label: 'c' }] } });
    expect(((await get(many)).default as Array<{ label: string }>).map((c) => c.label)).to.deep.equal(['a', 'b']);
    // true -> 1 in one transaction, false -> 0 online
    await patch(flag, { type: 'number', online: 0 });
    expect((await get(flag)).default).to.equal(1);
    const job = await patch(flag2, { type: 'number', online: 1 });
    expect(job.status).to.equal(202);
    const { waitForJob } = await import('../helpers/jobs.js');
    const done = await waitForJob(app, job.body.id);
    expect(done.status, JSON.stringify(done.error)).to.equal('done');
    expect((await get(flag2)).default).to.equal(0);
    // a UTC midnight is a date exactly
    await patch(at, { type: 'date', online: 0 });
    expect((await get(at)).default).to.equal('2024-01-02');
    // a multiple select's labels as text, as its values become
    await patch(tags, { type: 'text', online: 0 });
    expect((await get(tags)).default).to.equal('red, blue');
    await sql.exec(`INSERT INTO data.kinds DEFAULT VALUES`);
    expect((await sql.one(`SELECT tags FROM data.kinds`)).tags, 'the column default too').to.equal('red, blue');
  });

  it('a PATCH that changes the type and sets another default loses nothing: no confirm_loss asked, the new default set', async () => {
    const t = await createTable(app, 'Dials', [{ name: 'Level', type: 'text', column: 'level', default: 'n/a' }]);
    const fid = t.fields[0]!.id;
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', default: 0 } });
    expect(res.status, res.text).to.equal(200);
    expect((await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body.default).to.equal(0);
    expect(await columnDefault('dials', 'level')).to.equal(`'0'::bigint`);
  });

  it('to a formula (which has no default) on an empty table: the default is a loss too, refused without confirm_loss, dropped with it', async () => {
    const t = await createTable(app, 'Labels', [
      { name: 'Code', type: 'text', column: 'code', default: 'n/a' },
      { name: 'Qty', type: 'number', column: 'qty' },
    ]);
    const fid = t.fields[0]!.id;
    const to = { type: 'formula', options: { expression: "'part ' & {Qty}" } };
    const dry = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { ...to, dry_run: 1 } });
    expect(dry.status, dry.text).to.equal(200);
    const report = dry.body.report ?? dry.body;
    expect([report.lost, report.default_lost], 'no values; the default').to.deep.equal([0, true]);
    const refused = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: to });
    expect(refused.status, refused.text).to.equal(422);
    expect([refused.body.error.code, refused.body.error.field]).to.deep.equal(['lossy_conversion', 'default']);
    expect((await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body.type, 'nothing changed').to.equal('text');
    const done = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { ...to, confirm_loss: 1 } });
    expect(done.status, done.text).to.equal(200);
    const now = (await app.request('GET', `/tables/${t.id}/fields/${fid}`)).body;
    expect([now.type, now.default]).to.deep.equal(['formula', null]);
  });

  it("the console's form sends the default box as it was: the old default is no new one (text 'n/a' -> number asks confirm_loss for it, not a number default; a select's label -> text keeps it)", async () => {
    const t = await createTable(app, 'Forms', [
      { name: 'Level', type: 'text', column: 'level', default: 'n/a' },
      { name: 'Pick', type: 'single_select', column: 'pick', options: { choices: [{ label: 'a' }, { label: 'b' }] }, default: 'b' },
    ]);
    const [level, pick] = t.fields.map((f) => f.id) as [number, number];
    const refused = await app.request('PATCH', `/tables/${t.id}/fields/${level}`, { form: { type: 'number', default: 'n/a' } });
    expect(refused.status, refused.text).to.equal(422);
    expect([refused.body.error.code, refused.body.error.field]).to.deep.equal(['lossy_conversion', 'default']);
    const done = await app.request('PATCH', `/tables/${t.id}/fields/${level}`, { form: { type: 'number', default: 'n/a', confirm_loss: '1' } });
    expect(done.status, done.text).to.equal(200);
    expect((await app.request('GET', `/tables/${t.id}/fields/${level}`)).body.default).to.equal(null);
    const text = await app.request('PATCH', `/tables/${t.id}/fields/${pick}`, { form: { type: 'text', default: 'b' } });
    expect(text.status, text.text).to.equal(200);
    expect((await app.request('GET', `/tables/${t.id}/fields/${pick}`)).body.default).to.equal('b');
  });

  it('a number with a default -> link (which takes no default): the default is a loss, refused without confirm_loss, dropped with it', async () => {
    const target = await createTable(app, 'Owners', [{ name: 'Name', type: 'text' }]);
    const t = await createTable(app, 'Pets', [{ name: 'Owner', type: 'number', column: 'owner', default: 1 }]);
    const fid = t.fields[0]!.id;
    const to = { type: 'link', options: { table_id: target.id } };
    const refused = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: to });
    expect(refused.status, refused.text).to.equal(422);
    expect([refused.body.error.code, refused.body.error.field]).to.deep.equal(['lossy_conversion', 'default']);
    const done = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { ...to, confirm_loss: 1 } });
    expect(done.status, done.text).to.equal(200);
    expect(done.body.changes.default_dropped).to.equal(1);
    expect(await columnDefault('pets', 'owner')).to.equal(null);
  });
});
