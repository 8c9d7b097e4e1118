// `tablewright reconcile [--json]` for a DBA's cron: exit 0 when clean, 3 on drift, with
// the items on stdout (logs on stderr).
import { expect } from 'chai';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';
import { Sql } from '../helpers/sql.js';

function cli(args: string[], env: Record<string, string>) {
  const run = runCli(args, env);
  let stdout = '';
  run.child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  return run.exited.then(({ code }) => ({ code, stdout, output: run.output() }));
}

describe('`tablewright reconcile`', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let sql: Sql;

  before(async () => {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await db?.drop();
  });

  it('exits 0 and says so when the database and the metadata agree', async () => {
    const out = await cli(['reconcile'], { DATABASE_URL: db.url });
    expect(out.code, out.output).to.equal(0);
    expect(out.stdout).to.match(/^no drift/);
  });

  it('exits 3 on drift, listing each item with its id and actions; --json prints the report', async () => {
    await sql.exec(`CREATE TABLE data.made_in_psql (id bigint PRIMARY KEY, note text)`);
    const text = await cli(['reconcile'], { DATABASE_URL: db.url });
    expect(text.code, text.output).to.equal(3);
    expect(text.stdout).to.match(/^1 drift item: 1 untracked_table/);
    expect(text.stdout).to.include('item untracked_table:data:made_in_psql; actions: adopt, ignore, purge');
    const json = await cli(['reconcile', '--json'], { DATABASE_URL: db.url });
    expect(json.code, json.output).to.equal(3);
    const report = JSON.parse(json.stdout);
    expect(report.clean).to.equal(false);
    expect(report.items.map((i: { id: string }) => i.id)).to.deep.equal(['untracked_table:data:made_in_psql']);
  });

  it('exits 2 on an unknown option', async () => {
    const out = await cli(['reconcile', '--yaml'], { DATABASE_URL: db.url });
    expect(out.code).to.equal(2);
    expect(out.output).to.include('usage: tablewright reconcile [--json]');
  });
});
