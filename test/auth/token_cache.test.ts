// The per-instance token cache: a resolved API token answers the next requests without a
// database lookup, yet a revocation (through any instance, or the CLI) stops it on every
// instance at once, and an instance that may have missed a notification forgets its tokens.
import { expect } from 'chai';
import { sha256 } from '../../server/auth/secret.js';
import { createToken } from '../../server/auth/tokens.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startProxy } from '../bus/proxy.js';
import { runCli } from '../helpers/process.js';
import { Sql } from '../helpers/sql.js';
import { addUser, sessionFor } from './lib.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('API token cache', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let sql: Sql;
  let counter = 0;

  before(async () => {
    db = await freshDatabase();
    // Separate pools, listeners and caches on one database. A slow schema poll on B: only
    // notifications (or their absence) decide what B knows.
    a = await startApp(db.url, {}, 'A');
    b = await startApp(db.url, { SCHEMA_POLL_INTERVAL_MS: '600000' }, 'B');
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  async function newToken(role: 'viewer' | 'editor' | 'admin' = 'viewer'): Promise<{ id: number; token: string }> {
    const created = await createToken(a.ctx.pool, { name: `cached ${++counter}`, role }, 'test');
    return { id: created.id, token: created.token };
  }

  /** Changes the stored hash without telling anyone: only a database lookup would notice. */
  async function scrambleBehindTheCachesBack(id: number): Promise<void> {
    await sql.exec('UPDATE tablewright.api_tokens SET token_hash = $2 WHERE id = $1', [id, sha256(`scrambled ${id} ${Math.random()}`)]);
  }

  const me = (app: TestApp, token: string) => app.request('GET', '/me', { auth: { token } });

  it('a resolved token answers the next request from the cache: no lookup, and it works even after its stored hash changed behind the cache', async () => {
    const { id, token } = await newToken();
    const start = b.ctx.tokens!.stats();
    expect(start.enabled).to.equal(true);
    expect((await me(b, token)).status).to.equal(200);
    const first = b.ctx.tokens!.stats();
    expect(first.lookups - start.lookups, 'the first request looks the token up').to.equal(1);

    const second = await me(b, token);
    expect(second.status).to.equal(200);
    expect(second.body.caller).to.deep.include({ kind: 'token', id, role: 'viewer' });
    const after = b.ctx.tokens!.stats();
    expect(after.lookups - first.lookups, 'no lookup for the second request').to.equal(0);
    expect(after.hits - first.hits).to.equal(1);

    await scrambleBehindTheCachesBack(id);
    expect((await me(b, token)).status, 'B answers from its cache (no notification was sent)').to.equal(200);
    expect((await me(a, token)).status, 'A, which never cached it, asks the database').to.equal(401);
  });

  it('the cache is keyed by a hash: the raw token is nowhere in it', async () => {
    const { token } = await newToken();
    expect((await me(b, token)).status).to.equal(200);
    const entries = (b.ctx.tokens as unknown as { entries: Map<string, unknown> }).entries;
    expect([...entries.keys()]).to.include(sha256(token).toString('base64'));
    expect(JSON.stringify([...entries])).not.to.include(token);
  });

  it('revoking a token through A makes B refuse it on the very next request though B had it cached (10 tokens over)', async () => {
    for (let i = 0; i < 10; i++) {
      const { id, token } = await newToken('editor');
      expect((await me(b, token)).status).to.equal(200);
      const hits = b.ctx.tokens!.stats().hits;
      expect((await me(b, token)).status).to.equal(200);
      expect(b.ctx.tokens!.stats().hits, 'B has it cached').to.equal(hits + 1);
      expect((await me(a, token)).status).to.equal(200); // A has it cached too

      const revoked = await a.request('DELETE', `/tokens/${id}`);
      expect(revoked.status).to.equal(200);

      const onB = await me(b, token);
      expect(onB.status, `round ${i}: B still accepted the revoked token`).to.equal(401);
      expect(onB.body.error.message).to.match(/not valid/);
      expect((await me(a, token)).status, `round ${i}: A still accepted the token it revoked`).to.equal(401);
    }
  });

  it('`tablewright token revoke` exits only once every instance has dropped the token, even one whose listener hears 1 s late', async () => {
    // C hears every notification a second late (a TCP proxy in front of its LISTEN
    // connection); its pool, and so its confirmation, is not delayed.
    const proxy = await startProxy(db.url);
    const c = await startApp(db.url, { LISTEN_DATABASE_URL: proxy.url, SCHEMA_POLL_INTERVAL_MS: '600000' }, 'C-late');
    try {
      const { id, token } = await newToken();
      for (const app of [a, b, c]) {
        expect((await me(app, token)).status).to.equal(200);
        expect((await me(app, token)).status).to.equal(200);
      }
      const clears = [a, b, c].map((app) => app.ctx.tokens!.stats().clears);
      proxy.delay(1000);
      const startedAt = Date.now();
      const cli = runCli(['token', 'revoke', '--id', String(id)], { DATABASE_URL: db.url });
      expect((await cli.exited).code, cli.output()).to.equal(0);
      // Nobody made the change on A, B or C: each hears of it only through the NOTIFY, and
      // the CLI has already waited for all three.
      const now = [a, b, c].map((app) => app.ctx.tokens!.stats().clears);
      expect(now[2], 'C dropped its cached tokens before the CLI exited').to.be.above(clears[2]!);
      expect(now[0]).to.be.above(clears[0]!);
      expect(now[1]).to.be.above(clears[1]!);
      expect(Date.now() - startedAt, 'the CLI waited for the late listener').to.be.at.least(1000);
      proxy.delay(0);
      for (const app of [a, b, c]) expect((await me(app, token)).status).to.equal(401);
    } finally {
      await c.stop();
      await proxy.close();
    }
  });

  it('`tablewright token revoke` waits at most BUS_PING_INTERVAL_MS + BUS_PING_TIMEOUT_MS for a listener that never confirms, says which, and revokes regardless', async () => {
    const url = new URL(db.url);
    url.searchParams.set('application_name', 'tablewright-listener:ghost');
    const ghost = await Sql.connect(url.toString());
    try {
      const { id, token } = await newToken();
      const cli = runCli(['token', 'revoke', '--id', String(id)], { DATABASE_URL: db.url, BUS_PING_INTERVAL_MS: '200', BUS_PING_TIMEOUT_MS: '300' });
      expect((await cli.exited).code, cli.output()).to.equal(0);
      const warning = cli
        .output()
        .split('\n')
        .find((l) => l.includes('auth change not confirmed'));
      expect(warning, 'the CLI says who did not confirm').to.be.a('string');
      expect(JSON.parse(warning!)).to.include({ timeoutMs: 500 }).and.to.have.property('unconfirmed').that.deep.equals(['ghost']);
      for (const app of [a, b]) expect((await me(app, token)).status).to.equal(401);
    } finally {
      await ghost.end();
    }
  });

  it('an unknown token is not cached: a token that exists a moment after a refusal works at once', async () => {
    const token = `tw_later_${Date.now()}`;
    expect((await me(b, token)).status).to.equal(401);
    expect((await me(b, token)).status).to.equal(401);
    await sql.exec(
      `INSERT INTO tablewright.api_tokens (name, role, token_hash, prefix, created_by) VALUES ('later', 'viewer', $1, 'tw_lat', 'test')`,
      [sha256(token)],
    );
    expect((await me(b, token)).status).to.equal(200);
  });

  it('a used token still records its last use (one statement with the lookup)', async () => {
    const { id, token } = await newToken();
    const before = await sql.one('SELECT last_used_at FROM tablewright.api_tokens WHERE id = $1', [id]);
    expect(before.last_used_at).to.equal(null);
    expect((await me(b, token)).status).to.equal(200);
    const after = await sql.one('SELECT last_used_at FROM tablewright.api_tokens WHERE id = $1', [id]);
    expect(after.last_used_at).to.be.an.instanceOf(Date);
  });

  it("a user's role change or removal through A applies on B at the next request (sessions are never cached; tokens belong to no user)", async () => {
    const userId = await addUser(a, `role-${Date.now()}@example.com`, 'viewer');
    const session = await sessionFor(a, userId);
    const asUser = () => b.request('GET', '/me', { auth: { cookie: session.cookie } });
    expect((await asUser()).body.caller.role).to.equal('viewer');

    expect((await a.request('PATCH', `/users/${userId}`, { json: { role: 'editor' } })).status).to.equal(200);
    expect((await asUser()).body.caller.role, 'the new role on B at once').to.equal('editor');

    expect((await a.request('DELETE', `/users/${userId}`)).status).to.equal(200);
    expect((await asUser()).status, 'a removed user is refused on B at once').to.equal(401);
  });

  it('when B loses its listener it drops its cached tokens and looks every token up until it listens again, then caches again', async () => {
    const { id, token } = await newToken();
    expect((await me(b, token)).status).to.equal(200);
    expect(b.ctx.tokens!.stats().size).to.be.above(0);
    const clears = b.ctx.tokens!.stats().clears;
    const reconnects = b.ctx.bus!.stats().connections;

    await sql.exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [`tablewright-listener:${b.ctx.instanceId}`]);
    await eventually('the lost listener', () => b.ctx.tokens!.stats().clears > clears);
    expect(b.ctx.tokens!.stats().size, 'everything dropped').to.equal(0);
    // Unheard while the listener was down, or right after: either way B must ask the database.
    await scrambleBehindTheCachesBack(id);
    expect((await me(b, token)).status).to.equal(401);

    await eventually('the reconnect', () => b.ctx.bus!.isConnected() && b.ctx.bus!.stats().connections > reconnects);
    const other = await newToken();
    expect((await me(b, other.token)).status).to.equal(200);
    const lookups = b.ctx.tokens!.stats().lookups;
    expect((await me(b, other.token)).status).to.equal(200);
    expect(b.ctx.tokens!.stats().lookups, 'cached again once listening').to.equal(lookups);
  });
});

describe('API token cache settings', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let sql: Sql;
  const apps: TestApp[] = [];

  before(async () => {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    for (const app of apps) await app.stop();
    await db?.drop();
  });

  it('TOKEN_CACHE_TTL_S=0 disables the cache: every request looks its token up, and nothing is kept', async () => {
    const app = await startApp(db.url, { TOKEN_CACHE_TTL_S: '0' }, 'no-cache');
    apps.push(app);
    const { id, token } = await createToken(app.ctx.pool, { name: 'uncached', role: 'viewer' }, 'test');
    const start = app.ctx.tokens!.stats();
    expect(start.enabled).to.equal(false);
    for (let i = 0; i < 3; i++) expect((await app.request('GET', '/me', { auth: { token } })).status).to.equal(200);
    const after = app.ctx.tokens!.stats();
    expect(after.lookups - start.lookups).to.equal(3);
    expect(after.hits).to.equal(0);
    expect(after.size).to.equal(0);
    await sql.exec('UPDATE tablewright.api_tokens SET token_hash = $2 WHERE id = $1', [id, sha256('elsewhere')]);
    expect((await app.request('GET', '/me', { auth: { token } })).status, 'the change is seen at once, without any notification').to.equal(401);
  });

  it('a cached token lives at most TOKEN_CACHE_TTL_S seconds: then it is looked up again', async () => {
    const app = await startApp(db.url, { TOKEN_CACHE_TTL_S: '1' }, 'ttl-1');
    apps.push(app);
    const { id, token } = await createToken(app.ctx.pool, { name: 'short ttl', role: 'viewer' }, 'test');
    expect((await app.request('GET', '/me', { auth: { token } })).status).to.equal(200);
    await sql.exec('UPDATE tablewright.api_tokens SET token_hash = $2 WHERE id = $1', [id, sha256('moved')]);
    expect((await app.request('GET', '/me', { auth: { token } })).status, 'within the TTL: from the cache').to.equal(200);
    await sleep(1100);
    expect((await app.request('GET', '/me', { auth: { token } })).status, 'after the TTL: looked up').to.equal(401);
  });

  it('a listening instance that never confirms delays a revocation by at most BUS_PING_INTERVAL_MS + BUS_PING_TIMEOUT_MS; the token is revoked regardless', async () => {
    const app = await startApp(db.url, { BUS_PING_INTERVAL_MS: '200', BUS_PING_TIMEOUT_MS: '300' }, 'short-pings');
    apps.push(app);
    // A connection that looks like another instance's listener but hears nothing.
    const url = new URL(db.url);
    url.searchParams.set('application_name', 'tablewright-listener:ghost');
    const ghost = await Sql.connect(url.toString());
    try {
      const { id, token } = await createToken(app.ctx.pool, { name: 'revoked slowly', role: 'viewer' }, 'test');
      expect((await app.request('GET', '/me', { auth: { token } })).status).to.equal(200);
      const startedAt = Date.now();
      const res = await app.request('DELETE', `/tokens/${id}`);
      const ms = Date.now() - startedAt;
      expect(res.status).to.equal(200);
      expect(ms, 'waited for the ghost').to.be.at.least(450);
      expect(ms, 'but not longer than the bound (+ slack)').to.be.below(2000);
      expect((await app.request('GET', '/me', { auth: { token } })).status).to.equal(401);
    } finally {
      await ghost.end();
    }
  });

  it('TOKEN_CACHE_TTL_S must be a whole number of seconds from 0 to 86400', async () => {
    const { loadConfig } = await import('../../server/config.js');
    expect(loadConfig({ TOKEN_CACHE_TTL_S: '0' }).tokenCacheTtlS).to.equal(0);
    expect(loadConfig({}).tokenCacheTtlS).to.equal(30);
    expect(() => loadConfig({ TOKEN_CACHE_TTL_S: '-1' })).to.throw(/TOKEN_CACHE_TTL_S/);
    expect(() => loadConfig({ TOKEN_CACHE_TTL_S: 'soon' })).to.throw(/TOKEN_CACHE_TTL_S/);
  });
});
