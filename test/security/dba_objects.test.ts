// Objects a DBA made by hand in psql (here through pg): a view on a column, a trigger that
// raises, a revoked privilege, a column dropped outside the console, a table renamed on
// another instance mid-request. Each answers a 4xx that says what stands in the way, on
// every route it affects (rows, grid, CSV, schema changes, purge, jobs), never a 500.
import { expect } from 'chai';
import { startProxy, type TcpProxy } from '../bus/proxy.js';
import { startApp, type TestApp, type RequestOptions } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';
import { act, createTable, onlyItem, QUIET } from '../introspect/lib.js';

const HTML = { Accept: 'text/html' };
const CSV = (text: string, extra: Record<string, string> = {}): RequestOptions => ({ body: text, headers: { 'Content-Type': 'text/csv', ...extra } });

type Call = [method: string, path: string, opts?: RequestOptions];

/** Each call answers `status` with error `code`; returns the answers for more checks. */
async function expectAll(app: TestApp, calls: Call[], status: number, code: string) {
  const out = [];
  for (const [method, path, opts] of calls) {
    const res = await app.request(method, path, opts ?? {});
    expect(res.status, `${method} ${path}: ${res.text.slice(0, 300)}`).to.equal(status);
    if (res.body) expect(res.body.error.code, `${method} ${path}`).to.equal(code);
    out.push(res);
  }
  return out;
}

describe('objects a DBA made by hand: clear 4xx answers, never a 500', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, QUIET);
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('views on a column or a table: retyping, purging and reconcile restore answer 409 dependent_objects naming every view, and change nothing', async () => {
    const t = await createTable(app, 'Orders', [{ name: 'Code', type: 'text' }, { name: 'Qty', type: 'text' }]);
    const qty = t.fields[1]!.id;
    await sql.exec(`INSERT INTO data.orders (code, qty) VALUES ('a', '1'), ('b', '2'), ('c', 'many')`);
    await sql.exec(`CREATE VIEW data.order_codes AS SELECT code, qty FROM data.orders`);
    await sql.exec(`CREATE VIEW public.qty_report AS SELECT qty FROM data.orders`);
    const before = await sql.snapshot();

    const [retype] = await expectAll(app, [['PATCH', `/tables/${t.id}/fields/${qty}`, { json: { type: 'number', confirm_loss: true } }]], 409, 'dependent_objects');
    expect(retype!.body.error.details.objects).to.deep.equal(['view data.order_codes', 'view qty_report']);
    expect(retype!.body.error.message).to.include('view data.order_codes').and.include('view qty_report');
    // the same change as a job fails the same way
    const queued = await app.request('PATCH', `/tables/${t.id}/fields/${qty}?async=1`, { json: { type: 'number', confirm_loss: true } });
    expect(queued.status, queued.text).to.equal(202);
    const job = await waitForJob(app, queued.body.id);
    expect(job.status).to.equal('failed');
    expect(job.error.code).to.equal('dependent_objects');
    expect(await sql.snapshot(), 'nothing changed').to.deep.equal(before);

    // trashing renames the column (the views follow); purging it would drop it
    expect((await app.request('DELETE', `/tables/${t.id}/fields/${qty}`)).status).to.equal(200);
    const physical = `data.orders._tw_f${qty}_qty`;
    const [purge] = await expectAll(app, [['POST', `/trash/fields/${qty}/purge`, { json: { confirm: physical } }]], 409, 'dependent_objects');
    expect(purge!.body.error.details.objects).to.deep.equal(['view data.order_codes', 'view qty_report']);
    // the retention policy skips it and says why
    await sql.exec(`UPDATE tablewright.fields SET trashed_at = now() - interval '400 days' WHERE id = $1`, [qty]);
    const cleanup = await app.request('POST', '/trash/cleanup', { json: {} });
    expect(cleanup.status, cleanup.text).to.equal(200);
    expect(cleanup.body.skipped.map((s: any) => s.code)).to.deep.equal(['dependent_objects']);
    expect((await sql.one(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'data.orders'::regclass AND attname = $1`, [`_tw_f${qty}_qty`])).n).to.equal(1);

    // a trashed table with views on it: the purge names them
    expect((await app.request('DELETE', `/tables/${t.id}`)).status).to.equal(200);
    const [purgeTable] = await expectAll(app, [['POST', `/trash/tables/${t.id}/purge`, { json: { confirm: `data_trash._tw_t${t.id}_orders` } }]], 409, 'dependent_objects');
    expect(purgeTable!.body.error.details.objects).to.deep.equal(['view data.order_codes', 'view qty_report']);
    await sql.exec(`DROP VIEW data.order_codes, public.qty_report`);
    expect((await app.request('POST', `/trash/tables/${t.id}/purge`, { json: { confirm: `data_trash._tw_t${t.id}_orders` } })).status).to.equal(200);

    // reconcile: a column retyped in psql, then a view on it: "restore" names the view
    const s = await createTable(app, 'Stock', [{ name: 'Sku', type: 'text' }, { name: 'Count', type: 'number' }]);
    await sql.exec(`ALTER TABLE data.stock ALTER COLUMN count TYPE text`);
    await sql.exec(`CREATE MATERIALIZED VIEW data.stock_counts AS SELECT count FROM data.stock`);
    const item = await onlyItem(app, 'retyped_column');
    const refused = await act(app, item.id, 'restore', { confirm_loss: true }, 409);
    expect(refused.error.code).to.equal('dependent_objects');
    expect(refused.error.details.objects).to.deep.equal(['materialized view data.stock_counts']);
    await sql.exec(`DROP MATERIALIZED VIEW data.stock_counts`);
    await act(app, item.id, 'restore', { confirm_loss: true });
    expect(s.id).to.be.a('number');
  });

  it('a trigger that raises: every row write, the grid, CSV import (request and job) and a type change answer 422 with its message, and write nothing', async () => {
    const t = await createTable(app, 'Ledger', [{ name: 'Entry', type: 'text' }, { name: 'Amount', type: 'text' }]);
    const amount = t.fields[1]!.id;
    await sql.exec(`INSERT INTO data.ledger (entry, amount) VALUES ('rent', '100'), ('food', 'lots')`);
    await sql.exec(`CREATE FUNCTION public.ledger_closed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'the ledger is closed for %', TG_OP USING HINT = 'ask the finance DBA'; END $$`);
    await sql.exec(`CREATE TRIGGER ledger_closed BEFORE INSERT OR UPDATE OR DELETE ON data.ledger FOR EACH ROW EXECUTE FUNCTION public.ledger_closed()`);
    const before = await sql.rows(`SELECT * FROM data.ledger ORDER BY id`);
    const calls: Call[] = [
      ['POST', `/tables/${t.id}/rows`, { json: { entry: 'x' } }],
      ['POST', `/tables/${t.id}/rows`, { json: [{ entry: 'x' }, { entry: 'y' }] }],
      ['PATCH', `/tables/${t.id}/rows/1`, { json: { entry: 'x' } }],
      ['DELETE', `/tables/${t.id}/rows/1`],
      ['DELETE', `/tables/${t.id}/rows`, { json: { ids: [1] } }],
      ['POST', `/tables/${t.id}/grid/rows`, { form: { entry: 'x' } }],
      ['DELETE', `/tables/${t.id}/grid/rows/1`],
      ['PATCH', `/tables/${t.id}/rows/1/cells/entry`, { form: { value: 'x' } }],
      // a lossy type change copies the values that do not convert: an UPDATE the trigger refuses
      ['PATCH', `/tables/${t.id}/fields/${amount}`, { json: { type: 'number', confirm_loss: true } }],
    ];
    for (const res of await expectAll(app, calls, 422, 'rejected_by_database')) {
      expect(res.body.error.message).to.match(/the ledger is closed for (INSERT|UPDATE|DELETE)/).and.include('ask the finance DBA');
    }
    // a bulk update names the row it stopped at
    const [bulk] = await expectAll(app, [['PATCH', `/tables/${t.id}/rows`, { json: [{ id: 1, entry: 'x' }] }]], 422, 'invalid_rows');
    expect(bulk!.body.error.message).to.include('row 0').and.include('the ledger is closed for UPDATE');
    // the cell editor comes back with the message beside the value
    const cell = await app.request('PATCH', `/tables/${t.id}/rows/1/cells/entry`, { form: { value: 'x' }, headers: { ...HTML, 'HX-Request': 'true' } });
    expect(cell.status).to.equal(422);
    expect(cell.text).to.include('the ledger is closed for UPDATE');
    // CSV import names the line
    const [imported] = await expectAll(app, [['POST', `/tables/${t.id}/rows/import`, CSV('entry\nx\n')]], 422, 'invalid_csv');
    expect(imported!.body.error.message).to.include('line 2').and.include('the ledger is closed for INSERT');
    const queued = await app.request('POST', `/tables/${t.id}/rows/import?async=1`, CSV('entry\nx\n'));
    expect(queued.status, queued.text).to.equal(202);
    const job = await waitForJob(app, queued.body.id);
    expect(job.status).to.equal('failed');
    expect(job.error.message).to.include('the ledger is closed for INSERT');
    expect(await sql.rows(`SELECT * FROM data.ledger ORDER BY id`)).to.deep.equal(before);
  });

  it('a CHECK constraint or an index expression that cannot follow its column to a new type, and columns of types only read here (xml, circle, an enum) asked to sort: 409 incompatible_object, nothing changes; filtered and searched as their text', async () => {
    const t = await createTable(app, 'Meters', [{ name: 'Label', type: 'text' }, { name: 'Reading', type: 'number' }]);
    const reading = t.fields[1]!.id;
    await sql.exec(`INSERT INTO data.meters (label, reading) VALUES ('a', 5)`);
    await sql.exec(`ALTER TABLE data.meters ADD CONSTRAINT reading_small CHECK (reading < 100000)`);
    const typeOf = () => sql.one(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'data.meters'::regclass AND attname = 'reading'`);
    const version = async () => (await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [t.id])).version;
    const v0 = await version();
    // ALTER COLUMN TYPE text cannot rebuild `reading < 100000` (text < integer): was a 500
    await expectAll(app, [['PATCH', `/tables/${t.id}/fields/${reading}`, { json: { type: 'text' } }]], 409, 'incompatible_object');
    await sql.exec(`ALTER TABLE data.meters DROP CONSTRAINT reading_small`);
    await sql.exec(`CREATE INDEX meters_next ON data.meters ((reading + 1))`);
    await expectAll(app, [['PATCH', `/tables/${t.id}/fields/${reading}`, { json: { type: 'text' } }]], 409, 'incompatible_object');
    expect((await typeOf()).t).to.equal('bigint');
    expect(await version()).to.equal(v0);

    // A table adopted with columns of types no field type edits: read as text, filtered and
    // searched as that text (they were a 409, and one such column made every search of the
    // table fail); sorted by a type with no order (xml, circle): still 409.
    await sql.exec(`CREATE TYPE data.mood AS ENUM ('happy', 'sad')`);
    await sql.exec(`CREATE TABLE data.oddities (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text, x xml, c circle, m data.mood, u uuid, ip inet)`);
    await sql.exec(`INSERT INTO data.oddities (note, x, c, m, u, ip) VALUES ('n', '<a/>', '<(1,2),3>', 'happy', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10.0.0.1'), ('o', '<b/>', '<(0,0),1>', 'sad', NULL, '192.168.1.0/24')`);
    const adopted = await act(app, 'untracked_table:data:oddities', 'adopt');
    const id = adopted.result.id;
    const notes = async (query: string) => {
      const res = await app.request('GET', `/tables/${id}/rows?${query}&sort=id`);
      expect(res.status, `${query}: ${res.text}`).to.equal(200);
      return res.body.rows.map((r: { note: string }) => r.note);
    };
    expect(await notes('filter[x][contains]=a')).to.deep.equal(['n']);
    expect(await notes('filter[x][eq]=<b/>')).to.deep.equal(['o']);
    expect(await notes('filter[m][contains]=ha')).to.deep.equal(['n']);
    expect(await notes('filter[m][eq]=sad')).to.deep.equal(['o']);
    expect(await notes('filter[u][eq]=a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')).to.deep.equal(['n']);
    expect(await notes('filter[u][eq]=not-a-uuid'), 'a value of no uuid matches nothing').to.deep.equal([]);
    expect(await notes('filter[u][empty]=1')).to.deep.equal(['o']);
    expect(await notes('filter[ip][contains]=192.168')).to.deep.equal(['o']);
    expect(await notes('search=happy')).to.deep.equal(['n']);
    expect(await notes('search=10.0.0')).to.deep.equal(['n']);
    await expectAll(
      app,
      [
        ['GET', `/tables/${id}/rows?sort=c`],
        ['GET', `/tables/${id}/rows.csv?sort=-x`],
      ],
      409,
      'incompatible_object',
    );
    expect((await app.request('GET', `/tables/${id}/rows?filter[note][contains]=n`)).body.rows).to.have.length(1);
  });

  it('a column dropped in psql: rows, grid, CSV and changes to that field answer 409 schema_drift pointing at the drift report', async () => {
    const t = await createTable(app, 'Notes', [{ name: 'Title', type: 'text' }, { name: 'Body', type: 'text' }]);
    const body = t.fields[1]!.id;
    await sql.exec(`INSERT INTO data.notes (title, body) VALUES ('a', 'x'), ('b', 'y')`);
    await app.request('GET', `/tables/${t.id}/rows`); // the model is cached with the column
    await sql.exec(`ALTER TABLE data.notes DROP COLUMN body`);
    const calls: Call[] = [
      ['GET', `/tables/${t.id}/rows`],
      ['GET', `/tables/${t.id}/rows/1`],
      ['POST', `/tables/${t.id}/rows`, { json: { title: 'c' } }],
      ['POST', `/tables/${t.id}/rows`, { json: [{ title: 'c' }] }],
      ['PATCH', `/tables/${t.id}/rows/1`, { json: { body: 'z' } }],
      ['GET', `/tables/${t.id}/grid`, { headers: { ...HTML, 'HX-Request': 'true' } }],
      ['GET', `/tables/${t.id}`, { headers: HTML }],
      ['GET', `/tables/${t.id}/rows.csv`],
      // an import that writes the dropped column (one naming only columns that are there goes in)
      ['POST', `/tables/${t.id}/rows/import`, CSV('title,body\nc,z\n')],
      ['PATCH', `/tables/${t.id}/fields/${body}`, { json: { name: 'Text', column: 'text' } }],
      ['PATCH', `/tables/${t.id}/fields/${body}`, { json: { type: 'number', confirm_loss: true } }],
      ['DELETE', `/tables/${t.id}/fields/${body}`],
    ];
    const answers = await expectAll(app, calls, 409, 'schema_drift');
    expect(answers[0]!.body.error.message).to.include('GET /reconcile');
    expect(answers[0]!.body.error.details).to.deep.equal({ reconcile: '/reconcile' });
    expect(answers[6]!.text).to.include('/reconcile');
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.notes`)).n).to.equal(2);
  });

  it('a table dropped in psql: rows and schema changes answer 409 schema_drift', async () => {
    const t = await createTable(app, 'Scratch pad', [{ name: 'Line', type: 'text' }]);
    await app.request('GET', `/tables/${t.id}/rows`);
    await sql.exec(`DROP TABLE data.scratch_pad`);
    await expectAll(
      app,
      [
        ['GET', `/tables/${t.id}/rows`],
        ['POST', `/tables/${t.id}/rows`, { json: { line: 'x' } }],
        ['GET', `/tables/${t.id}/rows.csv`],
        ['POST', `/tables/${t.id}/fields`, { json: { name: 'More', type: 'text' } }],
        ['PATCH', `/tables/${t.id}`, { json: { name: 'Pad', table_name: 'pad' } }],
      ],
      409,
      'schema_drift',
    );
  });
});

describe('a DBA revoked a privilege from the role Tablewright connects as: 409 insufficient_privilege naming it', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  const role = `tw_limited_${process.pid}_${Date.now().toString(36)}`;
  before(async () => {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
    // A role that is not a superuser: it owns what it creates, and a DBA can take back
    // privileges (even from an owner) or the ownership itself.
    await sql.exec(`CREATE ROLE ${role} LOGIN PASSWORD 'limited-pw'`);
    await sql.exec(`GRANT CREATE ON DATABASE ${db.name} TO ${role}`);
    for (const schema of ['tablewright', 'data', 'data_trash']) {
      await sql.exec(`GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${role}`);
      await sql.exec(`GRANT ALL ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
      await sql.exec(`GRANT ALL ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}`);
    }
    await sql.exec(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tablewright TO ${role}`);
    const url = new URL(db.url);
    url.username = role;
    url.password = 'limited-pw';
    app = await startApp(url.toString(), { ...QUIET, COLUMN_SLOT_WARNING: '30' });
  });
  after(async () => {
    await app?.stop();
    await sql?.exec(`REASSIGN OWNED BY ${role} TO CURRENT_USER`).catch(() => undefined);
    await sql?.exec(`DROP OWNED BY ${role}`).catch(() => undefined);
    await sql?.exec(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await sql?.end();
    await db?.drop();
  });

  it('rows, the grid, CSV and schema changes say which privilege is missing; nothing is written', async () => {
    const t = await createTable(app, 'Accounts', [{ name: 'Name', type: 'text' }, { name: 'Notes', type: 'text' }]);
    const notes = t.fields[1]!.id;
    expect((await app.request('POST', `/tables/${t.id}/rows`, { json: [{ name: 'a' }, { name: 'b' }] })).status).to.equal(201);
    expect((await app.request('DELETE', `/tables/${t.id}/fields/${notes}`)).status).to.equal(200);

    await sql.exec(`REVOKE INSERT ON data.accounts FROM ${role}`);
    for (const res of await expectAll(
      app,
      [
        ['POST', `/tables/${t.id}/rows`, { json: { name: 'c' } }],
        ['POST', `/tables/${t.id}/rows`, { json: [{ name: 'c' }] }],
        ['POST', `/tables/${t.id}/grid/rows`, { form: { name: 'c' } }],
      ],
      409,
      'insufficient_privilege',
    )) {
      expect(res.body.error.message).to.include('INSERT').and.include('"data"."accounts"');
      expect(res.body.error.details.privileges).to.deep.equal(['INSERT', 'SELECT']);
    }
    // an import answers as every other write does (the COPY import meets it before any line)
    const [imp] = await expectAll(app, [['POST', `/tables/${t.id}/rows/import`, CSV('name\nc\n')]], 409, 'insufficient_privilege');
    expect(imp!.body.error.message).to.include('lacks INSERT');

    await sql.exec(`REVOKE UPDATE ON data.accounts FROM ${role}`);
    await expectAll(app, [['PATCH', `/tables/${t.id}/rows/1`, { json: { name: 'z' } }], ['PATCH', `/tables/${t.id}/rows/1/cells/name`, { form: { value: 'z' } }]], 409, 'insufficient_privilege');
    await sql.exec(`REVOKE DELETE ON data.accounts FROM ${role}`);
    const [del] = await expectAll(app, [['DELETE', `/tables/${t.id}/rows/1`], ['DELETE', `/tables/${t.id}/rows`, { json: { ids: [2] } }]], 409, 'insufficient_privilege');
    expect(del!.body.error.message).to.include('DELETE');
    await sql.exec(`REVOKE SELECT ON data.accounts FROM ${role}`);
    const [list] = await expectAll(
      app,
      [
        ['GET', `/tables/${t.id}/rows`],
        ['GET', `/tables/${t.id}/rows.csv`],
        ['GET', `/tables/${t.id}/grid`, { headers: { ...HTML, 'HX-Request': 'true' } }],
      ],
      409,
      'insufficient_privilege',
    );
    expect(list!.body.error.message).to.include('SELECT');
    expect((await app.request('GET', `/tables/${t.id}`, { headers: HTML })).status).to.equal(409);

    // the table now belongs to someone else: schema changes and purges need ownership
    await sql.exec(`GRANT ALL ON data.accounts TO ${role}`);
    await sql.exec(`ALTER TABLE data.accounts OWNER TO CURRENT_USER`);
    const [change] = await expectAll(
      app,
      [
        ['POST', `/tables/${t.id}/fields`, { json: { name: 'Extra', type: 'text' } }],
        ['POST', `/trash/fields/${notes}/purge`, { json: { confirm: `data.accounts._tw_f${notes}_notes` } }],
      ],
      409,
      'insufficient_privilege',
    );
    expect(change!.body.error.message).to.include('must be owner of table accounts');
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.accounts`)).n).to.equal(2);
  });

  it('a rebuild by an owner that is not a superuser copies every row, whatever a forced row-level security policy hides from it', async () => {
    const t = await createTable(app, 'Secrets', [{ name: 'Label', type: 'text' }]);
    expect((await app.request('POST', `/tables/${t.id}/rows`, { json: [{ label: 'a' }, { label: 'b' }, { label: 'c' }] })).status).to.equal(201);
    await sql.exec(`ALTER TABLE data.secrets ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY`);
    await sql.exec(`CREATE POLICY only_a ON data.secrets USING (label = 'a')`);
    await sql.exec(`DO $$ BEGIN FOR i IN 1..35 LOOP EXECUTE format('ALTER TABLE data.secrets ADD COLUMN tmp%s int', i); EXECUTE format('ALTER TABLE data.secrets DROP COLUMN tmp%s', i); END LOOP; END $$`);
    expect((await app.request('GET', `/tables/${t.id}/rows`)).body.rows.map((r: any) => r.label), 'the policy applies to the daemon').to.deep.equal(['a']);
    const item = (await (await app.request('GET', '/reconcile')).body.items).find((i: any) => i.kind === 'column_limit');
    const out = await app.request('POST', '/reconcile/actions', { json: { item: item.id, action: 'rebuild' } });
    expect(out.status, out.text).to.equal(200);
    expect(out.body.result.rows).to.equal(3);
    expect((await sql.rows(`SELECT label FROM data.secrets ORDER BY id`)).map((r) => r.label), 'every row is in the new table').to.deep.equal(['a', 'b', 'c']);
    expect(await sql.one(`SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'data.secrets'::regclass`)).to.deep.equal({ relrowsecurity: true, relforcerowsecurity: true });
  });
});

describe('a table renamed or trashed on another instance while this one has not heard yet', () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let proxy: TcpProxy;
  before(async () => {
    db = await freshDatabase();
    proxy = await startProxy(db.url);
    // A hears no notifications (its LISTEN connection is silenced below), polls the
    // schema version rarely and never pings in time: its models go stale, as they would
    // in the moment between another instance's commit and the notification's arrival.
    const quiet = { ...QUIET, SCHEMA_POLL_INTERVAL_MS: '600000', BUS_PING_INTERVAL_MS: '600000' };
    a = await startApp(db.url, { ...quiet, LISTEN_DATABASE_URL: proxy.url }, 'a');
    b = await startApp(db.url, quiet, 'b');
  });
  after(async () => {
    await proxy?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it('rows, grid, CSV export and import on the instance that did not hear: evicted and retried once, answered as the table is now', async () => {
    const t = await createTable(b, 'Cities', [{ name: 'Name', type: 'text' }]);
    expect((await a.request('POST', `/tables/${t.id}/rows`, { json: { name: 'Oslo' } })).status).to.equal(201);
    proxy.blackhole();
    let n = 0;
    const rename = async () => {
      n += 1;
      const res = await b.request('PATCH', `/tables/${t.id}`, { json: { name: `Cities ${n}`, table_name: `cities_${n}` } });
      expect(res.status, res.text).to.equal(200);
    };
    const steps: Array<[string, () => ReturnType<TestApp['request']>, number]> = [
      ['list', () => a.request('GET', `/tables/${t.id}/rows`), 200],
      ['create', () => a.request('POST', `/tables/${t.id}/rows`, { json: { name: 'Bergen' } }), 201],
      ['grid', () => a.request('GET', `/tables/${t.id}/grid`, { headers: { ...HTML, 'HX-Request': 'true' } }), 200],
      ['page', () => a.request('GET', `/tables/${t.id}`, { headers: HTML }), 200],
      ['export', () => a.request('GET', `/tables/${t.id}/rows.csv`), 200],
      ['import', () => a.request('POST', `/tables/${t.id}/rows/import`, CSV('name\nTromso\n')), 200],
    ];
    for (const [what, step, status] of steps) {
      await rename();
      const res = await step();
      expect(res.status, `${what}: ${res.text.slice(0, 300)}`).to.equal(status);
    }
    expect((await b.request('GET', `/tables/${t.id}/rows`)).body.rows.map((r: any) => r.name)).to.deep.equal(['Oslo', 'Bergen', 'Tromso']);
    // trashed on B: A answers 404 (in the trash), not 500
    expect((await b.request('DELETE', `/tables/${t.id}`)).status).to.equal(200);
    for (const res of [await a.request('GET', `/tables/${t.id}/rows`), await a.request('POST', `/tables/${t.id}/rows`, { json: { name: 'x' } })]) {
      expect(res.status, res.text).to.equal(404);
    }
  });
});
