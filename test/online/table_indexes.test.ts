// Indexes and UNIQUE constraints over several fields, over HTTP: built online (CREATE
// INDEX CONCURRENTLY, then the constraint USING INDEX), duplicates reported first with
// examples and nothing made, names validated or made readably, dry_run's plan changes
// nothing, audited with their DDL, kept through a member's rename, trash and restore,
// a member's type change refused with the reason, dropped again; reconcile stays clean.
import { expect } from 'chai';
import fc from 'fast-check';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { createTable, expectClean, QUIET } from '../introspect/lib.js';

describe('indexes and UNIQUE constraints over several fields', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { ...QUIET });
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const indexesOf = (table: string) =>
    sql.rows(`SELECT c.relname AS name, i.indisunique AS uniq, i.indisvalid AS valid, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass AND NOT i.indisprimary ORDER BY 1`, [`data.${table}`]);

  it('a UNIQUE constraint over two fields: duplicates first (422, counted, examples), then built concurrently and attached; audited; dropped', async () => {
    const t = await createTable(app, 'Shifts', [{ name: 'Person', type: 'text' }, { name: 'Day', type: 'date' }, { name: 'Note', type: 'text' }]);
    const [person, day] = [t.fields[0]!.id, t.fields[1]!.id];
    await sql.exec(`INSERT INTO data.shifts (person, day) SELECT 'p' || (g % 50), date '2026-01-01' + (g / 50) FROM generate_series(0, 1999) g`);
    // two repeats, and rows with an empty member (those never clash)
    await sql.exec(`INSERT INTO data.shifts (person, day) VALUES ('p1', date '2026-01-01'), ('p1', date '2026-01-01'), ('p2', date '2026-01-02'), ('p9', NULL), ('p9', NULL)`);
    const before = await sql.snapshot();

    const dry = await app.request('POST', `/tables/${t.id}/constraints`, { json: { fields: [person, day], dry_run: 1 } });
    expect(dry.status, dry.text).to.equal(200);
    expect(dry.body.name).to.equal('uq_shifts_person_day');
    expect(dry.body.plan.steps.map((s: any) => [s.class, s.blocks])).to.deep.equal([['scan', 'nothing'], ['scan', 'nothing'], ['brief', 'reads and writes']]);
    expect(dry.body.plan.steps[1].sql).to.match(/^CREATE UNIQUE INDEX CONCURRENTLY "uq_shifts_person_day" ON "data"."shifts" \("person", "day"\)/);
    expect(dry.body.duplicates).to.include({ duplicate_values: 2, rows: 5 });

    const refused = await app.request('POST', `/tables/${t.id}/constraints`, { json: { fields: [person, day] } });
    expect(refused.status, refused.text).to.equal(422);
    expect(refused.body.error).to.include({ code: 'has_duplicates', field: 'fields' });
    expect(refused.body.error.message).to.match(/2 combinations repeat, in 5 rows \(e\.g\. \("p1", "2026-01-01"\) in rows/);
    expect(refused.body.error.details.examples[0]).to.deep.include({ values: ['p1', '2026-01-01'], rows: 3 });
    expect(refused.body.error.details.examples[0].row_ids).to.have.length(3);
    expect(await sql.snapshot(), 'a dry run and a refusal change nothing').to.deep.equal(before);

    await sql.exec(`DELETE FROM data.shifts WHERE id > 2000 AND person IN ('p1', 'p2')`);
    const made = await app.request('POST', `/tables/${t.id}/constraints`, { json: { fields: [person, day] } });
    expect(made.status, made.text).to.equal(201);
    expect(made.body).to.include({ name: 'uq_shifts_person_day', unique: true });
    expect(made.body.fields.map((f: any) => f.id)).to.deep.equal([person, day]);
    expect(await sql.rows(`SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'data.shifts'::regclass AND contype = 'u'`)).to.deep.equal([
      { conname: 'uq_shifts_person_day', def: 'UNIQUE (person, day)' },
    ]);
    const audit = await sql.one(`SELECT operation, ddl FROM tablewright.audit WHERE table_id = $1 ORDER BY id DESC LIMIT 1`, [t.id]);
    expect(audit.operation).to.equal('add_unique_constraint');
    expect(audit.ddl).to.match(/CREATE UNIQUE INDEX CONCURRENTLY[\s\S]*UNIQUE USING INDEX/);
    // it holds: a repeat is refused, a row with an empty member is not
    await sql.exec(`INSERT INTO data.shifts (person, day) VALUES ('p9', NULL)`);
    let err: any;
    await sql.exec(`INSERT INTO data.shifts (person, day) VALUES ('p1', date '2026-01-01')`).catch((e) => (err = e));
    expect(err?.code).to.equal('23505');
    const dup = await app.request('POST', `/tables/${t.id}/rows`, { json: { Person: 'p1', Day: '2026-01-01' } });
    expect(dup.status, dup.text).to.be.within(400, 499);

    const listed = await app.request('GET', `/tables/${t.id}/constraints`);
    expect(listed.body.constraints.map((c: any) => c.name)).to.deep.equal(['uq_shifts_person_day']);
    await expectClean(app, 'reconcile knows the constraint');

    const gone = await app.request('DELETE', `/tables/${t.id}/constraints/${made.body.id}`);
    expect(gone.status, gone.text).to.equal(200);
    expect(await indexesOf('shifts')).to.deep.equal([]);
    expect((await app.request('GET', `/tables/${t.id}/constraints`)).body.constraints).to.deep.equal([]);
    expect((await app.request('DELETE', `/tables/${t.id}/constraints/${made.body.id}`)).status).to.equal(404);
    await expectClean(app);
  });

  it('an index over several fields: its own name, kept through a rename, trash and restore of a member; a type change of a member is refused; reconcile clean', async () => {
    const t = await createTable(app, 'Orders', [{ name: 'Customer', type: 'text' }, { name: 'Placed', type: 'number' }, { name: 'Total', type: 'number' }]);
    const [cust, placed] = [t.fields[0]!.id, t.fields[1]!.id];
    await sql.exec(`INSERT INTO data.orders (customer, placed) SELECT 'c' || (g % 7), g % 3 FROM generate_series(1, 500) g`);
    const made = await app.request('POST', `/tables/${t.id}/indexes`, { json: { fields: [placed, cust], name: 'orders_by_day' } });
    expect(made.status, made.text).to.equal(201);
    expect(made.body).to.include({ name: 'orders_by_day', unique: false });
    const ix = await indexesOf('orders');
    expect(ix).to.have.length(1);
    expect(ix[0]).to.include({ name: 'orders_by_day', uniq: false, valid: true });
    expect(ix[0].def).to.match(/\(placed, customer\)$/);
    await expectClean(app, 'reconcile leaves an index of ours alone (the fields are not "indexed" by it)');

    expect((await app.request('PATCH', `/tables/${t.id}/fields/${cust}`, { json: { name: 'Client', column: 'client' } })).status).to.equal(200);
    expect((await app.request('GET', `/tables/${t.id}/indexes`)).body.indexes[0].fields.map((f: any) => f.name)).to.deep.equal(['Placed', 'Client']);
    expect((await app.request('DELETE', `/tables/${t.id}/fields/${placed}`)).status).to.equal(200);
    expect((await app.request('GET', `/tables/${t.id}/indexes`)).body.indexes[0].fields[0]).to.include({ id: placed, trashed: true });
    expect((await app.request('POST', `/tables/${t.id}/fields/${placed}/restore`)).status).to.equal(200);
    expect((await indexesOf('orders'))[0].def).to.match(/\(placed, client\)$/);
    await expectClean(app);

    const retype = await app.request('PATCH', `/tables/${t.id}/fields/${placed}`, { json: { type: 'text' } });
    expect(retype.status, retype.text).to.equal(409);
    expect(retype.body.error).to.include({ code: 'in_table_index', field: 'type' });
    expect(retype.body.error.message).to.include('"orders_by_day"');

    const taken = await app.request('POST', `/tables/${t.id}/indexes`, { json: { fields: [cust, placed], name: 'orders_by_day' } });
    expect(taken.status).to.equal(409);
    expect(taken.body.error).to.include({ code: 'name_taken', field: 'name' });
    // the made-up name when none is given, readable; a second one over the same fields gets _2
    const auto1 = await app.request('POST', `/tables/${t.id}/indexes`, { json: { fields: [cust, placed] } });
    const auto2 = await app.request('POST', `/tables/${t.id}/indexes`, { json: { fields: [cust, placed] } });
    expect([auto1.body.name, auto2.body.name]).to.deep.equal(['ix_orders_client_placed', 'ix_orders_client_placed_2']);
    // the console: listed on the table's Fields tab, with the form to add one
    const page = await app.request('GET', `/tables/${t.id}?tab=fields`, { headers: { Accept: 'text/html' } });
    expect(page.status).to.equal(200);
    expect(page.text).to.include('<code>orders_by_day</code> index on Placed, Client');
    expect(page.text).to.include(`hx-delete="/tables/${t.id}/indexes/${made.body.id}"`);
    expect(page.text).to.include(`hx-post="/tables/${t.id}/indexes"`);
    // a form with the checked fields (a form sends one checkbox as a string, several as a list)
    const viaForm = await app.request('POST', `/tables/${t.id}/indexes`, { form: { 'fields[0]': String(cust), 'fields[1]': String(placed), name: 'by_form' }, headers: { Accept: 'application/json' } });
    expect(viaForm.status, viaForm.text).to.equal(201);
    const one = await app.request('POST', `/tables/${t.id}/indexes`, { form: { fields: String(cust) }, headers: { Accept: 'application/json' } });
    expect(one.status).to.equal(400);
    expect(one.body.error.message).to.match(/from 2 to 32 fields/);
    await expectClean(app);
  });

  it('bad requests are 4xx naming the field, and change nothing (property: any fields list or name)', async () => {
    const t = await createTable(app, 'Bad', [{ name: 'A', type: 'text' }, { name: 'B', type: 'text' }, { name: 'J', type: 'json' }]);
    const [a, b, j] = t.fields.map((f) => f.id);
    const before = await sql.snapshot();
    const cases: Array<[unknown, string]> = [
      [{ fields: [a] }, 'fields'],
      [{ fields: [a, a] }, 'fields'],
      [{ fields: [a, 999999] }, 'fields'],
      [{ fields: [a, j] }, 'fields'],
      [{ fields: 'a,b' }, 'fields'],
      [{ fields: [a, b], name: 'Bad Name' }, 'name'],
      [{ fields: [a, b], name: 'uq_f12' }, 'name'],
      [{ fields: [a, b], name: 'x'.repeat(64) }, 'name'],
      [{ fields: [a, b], name: 'bad' }, 'name'], // the table's own name
    ];
    for (const [json, field] of cases) {
      const res = await app.request('POST', `/tables/${t.id}/indexes`, { json });
      expect(res.status, `${JSON.stringify(json)}: ${res.text}`).to.be.within(400, 499);
      expect(res.body.error.field, JSON.stringify(json)).to.equal(field);
    }
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.double()), { maxLength: 40 }).map((l) => [...l, -1]), fc.anything().filter((v) => !Array.isArray(v))), fc.option(fc.string({ maxLength: 80 })), async (fields, name) => {
        const res = await app.request('POST', `/tables/${t.id}/indexes`, { json: { fields, ...(name === null ? {} : { name }) } });
        expect(res.status, res.text).to.be.within(400, 499);
      }),
      { numRuns: 40 },
    );
    expect(await sql.snapshot(), 'nothing changed').to.deep.equal(before);
  });
});
