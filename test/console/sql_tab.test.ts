// The SQL tab: a table's DDL read from pg_catalog (server/console/ddl.ts,
// sql/queries/table_ddl.sql), shown escaped on the table page and served as JSON and
// plain text. "As PostgreSQL has it" is checked the strong way: the text, run in an
// empty database, makes a table whose DDL reads back the same.
import { expect } from 'chai';
import pg from 'pg';
import { tableDdl } from '../../server/console/ddl.js';
import { getTable } from '../../server/schema/metadata.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

const HTML = { Accept: 'text/html' };

describe('the SQL tab (a table\'s DDL from the catalog)', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let companies: number;
  let people: number;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' });
    sql = await Sql.connect(db.url);
    companies = (await app.request('POST', '/tables', { json: { name: 'Companies' } })).body.id;
    const res = await app.request('POST', '/tables', {
      json: {
        name: "People <b>&</b> 'friends'",
        table_name: 'people',
        fields: [
          { name: 'Name', type: 'text', not_null: true, default: 'anonymous' },
          { name: 'Email', type: 'email', unique: true },
          { name: 'Age', type: 'number', indexed: true },
          { name: 'Balance', type: 'number', options: { decimals: 2 } },
          { name: 'Employer', type: 'link', options: { table_id: companies } },
        ],
      },
    });
    expect(res.status, res.text).to.equal(201);
    people = res.body.id;
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('names every column with its PostgreSQL type, default and NOT NULL, and every constraint, index and comment', async () => {
    const res = await app.request('GET', `/tables/${people}/sql`);
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ table_id: people, schema: 'data', table_name: 'people', found: true });
    const ddl: string = res.body.ddl;
    const f = (await app.request('GET', `/tables/${people}/fields`)).body.fields as Array<{ id: number; column: string }>;
    const id = (column: string) => f.find((x) => x.column === column)!.id;
    expect(ddl).to.match(/^CREATE TABLE data\.people \($/m);
    expect(ddl).to.match(/^ {4}id +bigint GENERATED ALWAYS AS IDENTITY \(SEQUENCE NAME data\.seq_t\d+\) NOT NULL,$/m);
    expect(ddl).to.match(/^ {4}name +text DEFAULT 'anonymous'::text NOT NULL,$/m);
    expect(ddl).to.match(/^ {4}email +text,$/m);
    expect(ddl).to.match(/^ {4}age +bigint,$/m);
    expect(ddl).to.match(/^ {4}balance +numeric\(30,2\),$/m);
    expect(ddl).to.match(/^ {4}employer +bigint,$/m);
    expect(ddl).to.match(new RegExp(`^ {4}CONSTRAINT pk_t${people} PRIMARY KEY \\(id\\),$`, 'm'));
    expect(ddl).to.include(`CONSTRAINT uq_f${id('email')} UNIQUE (email)`);
    expect(ddl).to.include(`CONSTRAINT fk_f${id('employer')} FOREIGN KEY (employer) REFERENCES data.companies(id) ON DELETE SET NULL`);
    expect(ddl).to.match(/^\);$/m);
    expect(ddl).to.include(`CREATE INDEX ix_f${id('age')} ON data.people USING btree (age);`);
    expect(ddl).to.include(`CREATE INDEX ix_f${id('employer')} ON data.people USING btree (employer);`);
    // The unique constraint's own index comes with the constraint, not as a CREATE INDEX.
    expect(ddl).not.to.include(`CREATE UNIQUE INDEX uq_f${id('email')}`);
    expect(ddl).to.include(`COMMENT ON TABLE data.people IS 'People <b>&</b> ''friends'' (tablewright table ${people})';`);
    // the column comment carries the field type and options too (README: comments rebuild the metadata)
    expect(ddl).to.match(/^COMMENT ON COLUMN data\.people\.email IS 'Email \(tablewright field \d+ of table \d+\) \{"type":"email","options":\{\}\}';$/m);
    // pg_dump's order: the table, then its indexes, then the comments.
    expect(ddl.indexOf('CREATE TABLE')).to.be.below(ddl.indexOf('CREATE INDEX'));
    expect(ddl.indexOf('CREATE INDEX')).to.be.below(ddl.indexOf('COMMENT ON'));
  });

  it('is runnable: in a database with no tables the text makes the same tables, whose DDL reads back identical', async () => {
    const [companiesDdl, peopleDdl] = await Promise.all([
      app.request('GET', `/tables/${companies}/sql`).then((r) => r.body.ddl as string),
      app.request('GET', `/tables/${people}/sql`).then((r) => r.body.ddl as string),
    ]);
    // The row history triggers call tablewright's functions: a migrated database has them.
    expect(peopleDdl).to.include('CREATE TRIGGER tablewright_history AFTER INSERT OR DELETE OR UPDATE ON data.people');
    const scratch = await freshDatabase();
    const client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
    try {
      await client.query(companiesDdl);
      await client.query(peopleDdl);
      const table = await getTable(app.ctx.pool, people);
      const again = await tableDdl(client, { dataSchema: 'data', trashSchema: 'data_trash' }, table);
      expect(again.ddl).to.equal(peopleDdl);
    } finally {
      await client.end();
      await scratch.drop();
    }
  });

  it('shows what PostgreSQL has, not what the metadata says: a column added in plain SQL appears', async () => {
    await sql.exec(`ALTER TABLE data.companies ADD COLUMN added_in_psql varchar(20) CHECK (added_in_psql <> '')`);
    try {
      const ddl: string = (await app.request('GET', `/tables/${companies}/sql`)).body.ddl;
      expect(ddl).to.match(/^ {4}added_in_psql +character varying\(20\),$/m);
      expect(ddl).to.match(/CONSTRAINT companies_added_in_psql_check CHECK \(added_in_psql::text <> ''::text\)/);
    } finally {
      await sql.exec(`ALTER TABLE data.companies DROP COLUMN added_in_psql`);
    }
  });

  it('the SQL tab of the table page shows the DDL escaped in a <pre>, with the tab marked current', async () => {
    const res = await app.request('GET', `/tables/${people}?tab=sql`, { headers: HTML });
    expect(res.status).to.equal(200);
    expect(res.text).to.match(/<a id="tab-sql" href="\/tables\/\d+\?tab=sql"[^>]* aria-current="page">SQL<\/a>/);
    expect(res.text).not.to.match(/<a id="tab-rows"[^>]*aria-current/);
    const pre = res.text.match(/<pre class="ddl" id="ddl-text"[^>]*><code>([\s\S]*?)<\/code><\/pre>/);
    expect(pre, 'the DDL is in a <pre>').to.not.equal(null);
    expect(pre![1]).to.include('COMMENT ON TABLE data.people IS &#39;People &lt;b&gt;&amp;&lt;/b&gt; &#39;&#39;friends&#39;&#39;');
    expect(res.text, 'the display name never reaches the page unescaped').not.to.include('<b>&</b>');
    expect(res.text).to.include('<h1>People &lt;b&gt;&amp;&lt;/b&gt; &#39;friends&#39;</h1>');
  });

  it('with htmx, a tab link gets the tabbed view alone (no layout); a browser asking /sql is sent to the tab; curl gets plain text', async () => {
    const frag = await app.request('GET', `/tables/${people}?tab=sql`, { headers: { 'HX-Request': 'true', Accept: 'text/html' } });
    expect(frag.status).to.equal(200);
    expect(frag.text.trimStart()).to.match(/^<div id="table-view"/);
    expect(frag.text).not.to.include('<html');
    expect(frag.text).to.include('CREATE TABLE data.people (');

    const browser = await app.request('GET', `/tables/${people}/sql`, { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(browser.status).to.equal(303);
    expect(browser.headers.get('location')).to.equal(`/tables/${people}?tab=sql`);

    const curl = await app.request('GET', `/tables/${people}/sql`, { headers: { Accept: '*/*' } });
    expect(curl.status).to.equal(200);
    expect(curl.headers.get('content-type')).to.match(/^text\/plain/);
    expect(curl.text).to.include('CREATE TABLE data.people (');

    const file = await app.request('GET', `/tables/${people}/sql?format=sql`, { headers: HTML });
    expect(file.status).to.equal(200);
    expect(file.headers.get('content-disposition')).to.match(/^attachment; filename="?people\.sql"?$/);
  });

  it('says so when PostgreSQL has no such table (dropped outside the console), and refuses an unknown tab', async () => {
    const gone = (await app.request('POST', '/tables', { json: { name: 'Gone soon' } })).body.id;
    await sql.exec(`DROP TABLE data.gone_soon`);
    const json = await app.request('GET', `/tables/${gone}/sql`);
    expect(json.body).to.include({ found: false, ddl: '', table_name: 'gone_soon' });
    const page = await app.request('GET', `/tables/${gone}?tab=sql`, { headers: HTML });
    expect(page.text).to.include('PostgreSQL has no table <code>data.gone_soon</code>');
    expect(page.text).to.include('href="/reconcile"');

    const bad = await app.request('GET', `/tables/${people}?tab=nope`, { headers: HTML });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.include('tab must be one of rows, fields, sql, history');
  });
});
