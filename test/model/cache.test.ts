// The model cache across instances: two daemons on one database never serve a stale model
// for long, whatever happens to the notifications between them.
import { expect } from 'chai';
import { failpoint } from '../../server/schema/change.js';
import { createTestToken, startApp, useApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';
import { Sql } from '../helpers/sql.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('model cache across instances', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let sql: Sql;
  let tableId: number;

  before(async () => {
    db = await freshDatabase();
    // Separate pools and listeners; B's version poll is slow so that only notifications
    // (or their absence) decide what B knows.
    a = await startApp(db.url, {}, 'A');
    b = await startApp(db.url, { SCHEMA_POLL_INTERVAL_MS: '600000' }, 'B');
    sql = await Sql.connect(db.url);
    tableId = (await a.request('POST', '/tables', { json: { name: 'Things' } })).body.id;
  });
  afterEach(() => {
    delete failpoint.step;
  });
  after(async () => {
    await sql?.end();
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it('link labels come back after the linked table is trashed and restored, on both instances (the restore evicts linking models)', async () => {
    const target = (await a.request('POST', '/tables', { json: { name: 'Makers' } })).body.id;
    await a.request('POST', `/tables/${target}/rows`, { json: { name: 'Acme' } });
    const linking = (await a.request('POST', '/tables', { json: { name: 'Products', fields: [{ name: 'Maker', type: 'link', options: { table_id: target } }] } })).body.id;
    await a.request('POST', `/tables/${linking}/rows`, { json: { maker: 1 } });
    const label = async (app: TestApp) => (await app.request('GET', `/tables/${linking}/rows`)).body.rows[0].maker;
    expect(await label(a)).to.deep.equal({ id: 1, label: 'Acme' });
    expect(await label(b)).to.deep.equal({ id: 1, label: 'Acme' });
    expect((await a.request('DELETE', `/tables/${target}`)).status).to.equal(200);
    expect((await label(a)).label, 'no labels while the linked table is in the trash').to.equal(null);
    for (let i = 0; i < 50 && (await label(b)).label !== null; i++) await sleep(50);
    expect((await label(b)).label).to.equal(null);
    expect((await a.request('POST', `/tables/${target}/restore`)).status).to.equal(200);
    expect(await label(a), 'at once on the instance that restored').to.deep.equal({ id: 1, label: 'Acme' });
    for (let i = 0; i < 50 && (await label(b)).label === null; i++) await sleep(50);
    expect(await label(b), 'and on the other, by NOTIFY').to.deep.equal({ id: 1, label: 'Acme' });
  });

  it('a field added through A is usable on B right after A answers (20 times over)', async () => {
    for (let i = 0; i < 20; i++) {
      expect((await b.request('GET', `/tables/${tableId}/rows?size=1`)).status).to.equal(200); // B caches the model
      const added = await a.request('POST', `/tables/${tableId}/fields`, { json: { name: `Col ${i}`, type: 'number' } });
      expect(added.status, added.text).to.equal(201);
      const created = await b.request('POST', `/tables/${tableId}/rows`, { json: { [`col_${i}`]: i } });
      expect(created.status, `round ${i}: ${created.text}`).to.equal(201);
      expect(created.body[`col_${i}`]).to.equal(i);
      const listed = await b.request('GET', `/tables/${tableId}/rows/${created.body.id}`);
      expect(listed.body).to.have.property(`col_${i}`, i);
    }
  });

  it('a change that rolled back on A is never seen on B', async () => {
    const before = await b.request('GET', `/tables/${tableId}/rows?size=1`);
    failpoint.step = 'notify';
    const failed = await a.request('POST', `/tables/${tableId}/fields`, { json: { name: 'Ghost', type: 'text' } });
    delete failpoint.step;
    expect(failed.status).to.equal(500);
    await sleep(100);
    const after = await b.request('GET', `/tables/${tableId}/rows?size=1`);
    expect(Object.keys(after.body.rows[0] ?? {})).to.deep.equal(Object.keys(before.body.rows[0] ?? {}));
    const refused = await b.request('POST', `/tables/${tableId}/rows`, { json: { ghost: 'boo' } });
    expect(refused.status).to.equal(422);
    expect(refused.body.error.code).to.equal('unknown_field');
  });

  it("killing B's listener (pg_terminate_backend) does not leave B serving a stale model", async () => {
    const models = b.ctx.models!;
    await b.request('GET', `/tables/${tableId}/rows?size=1`);
    expect(models.stats().size).to.be.greaterThan(0);
    const { rows } = await sql.raw.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1`, [
      `tablewright-listener:${b.ctx.instanceId}`,
    ]);
    expect(rows).to.have.length(1);
    // While B reconnects, A renames a field and trashes another.
    const fields = (await a.request('GET', `/tables/${tableId}`)).body.fields;
    await a.request('PATCH', `/tables/${tableId}/fields/${fields[1].id}`, { json: { name: 'Renamed while B was deaf', column: 'renamed_while_b_was_deaf' } });
    await a.request('DELETE', `/tables/${tableId}/fields/${fields[2].id}`);
    const row = (await b.request('GET', `/tables/${tableId}/rows?size=1`)).body.rows[0];
    expect(row).to.have.property('renamed_while_b_was_deaf');
    expect(row).to.not.have.property(fields[2].column);
    for (let i = 0; i < 50 && !b.ctx.bus!.isConnected(); i++) await sleep(100);
    expect(b.ctx.bus!.isConnected(), 'B reconnected').to.equal(true);
  });

  it('a query that fails on a stale model (B heard nothing) evicts it and retries once', async () => {
    const t = (await a.request('POST', '/tables', { json: { name: 'Deaf', fields: [{ name: 'Keep', type: 'text' }, { name: 'Drop', type: 'text' }] } })).body;
    expect((await b.request('GET', `/tables/${t.id}/rows`)).status).to.equal(200);
    // B stops listening and polling altogether: only the retry can save it now.
    await b.ctx.bus!.stop();
    await a.request('DELETE', `/tables/${t.id}/fields/${t.fields[1].id}`);
    const res = await b.request('GET', `/tables/${t.id}/rows`);
    expect(res.status, res.text).to.equal(200);
    const created = await b.request('POST', `/tables/${t.id}/rows`, { json: { keep: 'k' } });
    expect(created.status, created.text).to.equal(201);
    expect(created.body).to.deep.equal({ id: created.body.id, keep: 'k' });
    expect(b.ctx.models!.stats().evictions).to.be.greaterThan(0);
  });

  it('a field added through A is usable by B in another process right after A answers', async () => {
    const token = await createTestToken(a, 'admin', 'separate process');
    const cli = runCli(['serve'], { DATABASE_URL: db.url, PORT: '0', LOG_LEVEL: 'info', SCHEMA_POLL_INTERVAL_MS: '600000' });
    try {
      const line = await cli.waitFor(/Tablewright console: http/, 30_000);
      const url = /Tablewright console: (http:\/\/[^"\s]+)/.exec(line)![1]!;
      const call = async (method: string, path: string, json?: unknown) => {
        const res = await fetch(new URL(path, url), {
          method,
          headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(json ? { 'Content-Type': 'application/json' } : {}) },
          body: json ? JSON.stringify(json) : undefined,
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      const t = (await a.request('POST', '/tables', { json: { name: 'Shared' } })).body;
      for (let i = 0; i < 10; i++) {
        expect((await call('GET', `/tables/${t.id}/rows`)).status).to.equal(200);
        expect((await a.request('POST', `/tables/${t.id}/fields`, { json: { name: `P${i}`, type: 'text' } })).status).to.equal(201);
        const created = await call('POST', `/tables/${t.id}/rows`, { [`p${i}`]: 'v' });
        expect(created.status, JSON.stringify(created.body)).to.equal(201);
        expect(created.body[`p${i}`]).to.equal('v');
      }
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  });
});

describe('model cache bounds', () => {
  let db: TestDatabase;
  let app: TestApp;
  useApp((s) => ({ db, app } = s), { MODEL_CACHE_MAX: '2' });

  it('a full cache degrades to compiling per request, never to an error', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await app.request('POST', '/tables', { json: { name: `T${i}` } })).body.id);
    for (let round = 0; round < 3; round++) {
      for (const id of ids) {
        const res = await app.request('POST', `/tables/${id}/rows`, { json: { name: `r${round}` } });
        expect(res.status, res.text).to.equal(201);
      }
    }
    const stats = app.ctx.models!.stats();
    expect(stats.size).to.be.at.most(2);
    expect(stats.uncached).to.be.greaterThan(0);
    expect(stats.hits).to.be.greaterThan(0);
  });
});
