// The console's drift banner reads a summary cached per instance: refreshed at start, after
// schema notifications and DDL events (debounced), never by a page view. With the opt-in
// event trigger, a plain ALTER TABLE in psql shows within a second.
import { expect } from 'chai';
import pg from 'pg';
import { installDdlTrigger } from '../../server/introspect/ddl_trigger.js';
import type { Logger } from '../../server/log.js';
import { createTestToken, startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { createTable, QUIET } from './lib.js';

async function until<T>(fn: () => T | undefined | false, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('drift summary and the DDL event trigger', () => {
  let db: TestDatabase;
  let sql: Sql;
  let app: TestApp | undefined;
  // Slow periodic checks, so that only a notification can explain a quick refresh.
  const SLOW = { ...QUIET, SCHEMA_POLL_INTERVAL_MS: '600000', BUS_PING_INTERVAL_MS: '600000' };

  before(async () => {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
  });
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });
  after(async () => {
    await sql.exec(`DROP EVENT TRIGGER IF EXISTS tablewright_ddl_end; DROP EVENT TRIGGER IF EXISTS tablewright_sql_drop`).catch(() => undefined);
    await sql?.end();
    await db?.drop();
  });

  it('reconciles at start, shows the banner to admins only, and page views do not reconcile', async () => {
    await sql.exec(`CREATE TABLE data.stray (id bigint PRIMARY KEY)`);
    app = await startApp(db.url, SLOW);
    expect(app.ctx.drift!.current()).to.include({ clean: false, items: 1 });
    const before = app.ctx.drift!.refreshes();
    const page = await app.request('GET', '/tables', { headers: { Accept: 'text/html' } });
    expect(page.text).to.include('id="drift-banner"');
    expect(page.text).to.include('1 drift item: 1 untracked_table');
    expect(page.text).to.include('<a href="/reconcile">Drift</a>');
    const viewer = await app.request('GET', '/tables', { auth: { token: await createTestToken(app, 'viewer') }, headers: { Accept: 'text/html' } });
    expect(viewer.text).not.to.include('drift-banner');
    expect(viewer.text).not.to.include('href="/trash"');
    expect(app.ctx.drift!.refreshes()).to.equal(before);
    await sql.exec(`DROP TABLE data.stray`);
  });

  it('a schema change through the console refreshes the summary (the schema notification), a burst only a few times', async () => {
    app = await startApp(db.url, { ...SLOW, DDL_DEBOUNCE_MS: '300' });
    expect(app.ctx.drift!.current()!.clean).to.equal(true);
    const before = app.ctx.drift!.refreshes();
    const t = await createTable(app, 'Burst', [{ name: 'A', type: 'text' }]);
    for (let i = 0; i < 10; i++) expect((await app.request('POST', `/tables/${t.id}/fields`, { json: { name: `F${i}`, type: 'text' } })).status).to.equal(201);
    await new Promise((r) => setTimeout(r, 800));
    const runs = app.ctx.drift!.refreshes() - before;
    expect(runs).to.be.greaterThan(0);
    expect(runs, '11 changes within ~1 s refresh at most once per 300 ms (plus the trailing one)').to.be.at.most(5);
    expect(app.ctx.drift!.current()!.clean).to.equal(true);
  });

  it('with DDL_EVENT_TRIGGER=1, an ALTER TABLE in plain SQL shows in the drift summary within a second', async () => {
    app = await startApp(db.url, { ...SLOW, DDL_EVENT_TRIGGER: '1', DDL_DEBOUNCE_MS: '100' });
    expect((await sql.rows(`SELECT evtname FROM pg_event_trigger ORDER BY 1`)).map((r) => r.evtname)).to.deep.equal(['tablewright_ddl_end', 'tablewright_sql_drop']);
    await createTable(app, 'Watched', [{ name: 'A', type: 'text' }]);
    await until(() => app!.ctx.drift!.current()?.clean, 2000);
    // let the notifications of that change (and the refreshes they cause) pass first
    await new Promise((r) => setTimeout(r, 300));
    await app.ctx.drift!.refresh('settle');
    const events: unknown[] = [];
    app.ctx.bus!.onDdl((e) => events.push(e.payload));
    const started = Date.now();
    await sql.exec(`ALTER TABLE data.watched ADD COLUMN added_in_psql text`);
    await until(() => app!.ctx.drift!.current()?.counts.untracked_column === 1, 1000);
    const took = Date.now() - started;
    expect(took).to.be.lessThan(1000);
    expect(events).to.deep.include({ event: 'ddl_command_end', tag: 'ALTER TABLE', objects: [{ type: 'table', schema: 'data', identity: 'data.watched' }] });
    // a drop is heard too (sql_drop)
    await sql.exec(`ALTER TABLE data.watched DROP COLUMN added_in_psql`);
    await until(() => app!.ctx.drift!.current()?.clean, 1000);
    expect(events.some((e) => (e as { event: string }).event === 'sql_drop')).to.equal(true);
    // DDL elsewhere in the database is not announced
    const n = events.length;
    await sql.exec(`CREATE TABLE public.not_ours (id int); DROP TABLE public.not_ours`);
    await new Promise((r) => setTimeout(r, 200));
    expect(events.length).to.equal(n);
  });

  it('a role that may not create event triggers gets a warning naming the setting, and no trigger', async () => {
    const role = `tw_plain_${process.pid}`;
    await sql.exec(`DROP EVENT TRIGGER IF EXISTS tablewright_ddl_end; DROP EVENT TRIGGER IF EXISTS tablewright_sql_drop`);
    await sql.exec(`CREATE ROLE ${role} LOGIN PASSWORD 'plain-pass'`);
    const url = new URL(db.url);
    url.username = role;
    url.password = 'plain-pass';
    const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
    const warnings: Array<{ obj: unknown; msg: string }> = [];
    const log = { warn: (obj: unknown, msg: string) => warnings.push({ obj, msg }), info: () => undefined } as unknown as Logger;
    try {
      expect(await installDdlTrigger(pool, ['data', 'data_trash'], log)).to.equal('no_privilege');
    } finally {
      await pool.end();
      await sql.exec(`DROP ROLE ${role}`);
    }
    expect(warnings[0]!.msg).to.match(/DDL_EVENT_TRIGGER is on, but this role is not a superuser/);
    expect(await sql.rows(`SELECT evtname FROM pg_event_trigger`)).to.deep.equal([]);
  });
});
