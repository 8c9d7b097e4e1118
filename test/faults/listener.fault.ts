// The LISTEN connection of an instance dies: loudly (pg_terminate_backend), silently (a
// network path that stops carrying bytes), or for a while (the server refuses it). The
// instance must notice, flush its models, reconnect with backoff, and never serve a model
// older than the documented bound: a change committed at T is served everywhere by
// T + SCHEMA_POLL_INTERVAL_MS (+ one query), whatever the listener does.
import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { LISTENER_APPLICATION_NAME } from '../../server/bus/index.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { startProxy, type TcpProxy } from '../bus/proxy.js';
import { eventually, LEVEL, sleep, startLoggedApp, stopLoggedApps, type LoggedApp } from './lib.js';

const POLL_MS = 1000;
const PING_INTERVAL_MS = 200;
const PING_TIMEOUT_MS = 300;
/** one query, scheduling, and HTTP on a busy machine */
const SLACK_MS = 700;

describe('the LISTEN connection fails', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let sql: Sql;
  let a: LoggedApp;
  const proxies: TcpProxy[] = [];
  let fieldCounter = 0;

  before(async () => {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
    a = await startLoggedApp(db.url, {}, 'A');
  });
  after(async () => {
    await stopLoggedApps();
    for (const p of proxies) await p.close();
    await sql?.end();
    await db?.drop();
  });

  /** B: listens through a proxy (so that the test can break its listener), pool direct. */
  async function startB(env: Record<string, string>, label: string): Promise<{ b: LoggedApp; proxy: TcpProxy }> {
    const proxy = await startProxy(db.url);
    proxies.push(proxy);
    const b = await startLoggedApp(db.url, { LISTEN_DATABASE_URL: proxy.url, SCHEMA_POLL_INTERVAL_MS: String(POLL_MS), ...env }, label);
    return { b, proxy };
  }

  /** A table with one row that B has a cached model of. */
  async function tableCachedOn(b: LoggedApp): Promise<{ id: number; rowId: number }> {
    const t = (await a.request('POST', '/tables', { json: { name: `T${++fieldCounter}` } })).body;
    const row = (await a.request('POST', `/tables/${t.id}/rows`, { json: { name: 'r' } })).body;
    expect((await b.request('GET', `/tables/${t.id}/rows/${row.id}`)).status).to.equal(200);
    expect(b.ctx.models!.stats().size).to.be.greaterThan(0);
    return { id: t.id, rowId: row.id };
  }

  /**
   * A adds a field; B is asked for the row every 20 ms until its answer has the new
   * column. Returns how long after A's answer (the commit) B first served it, and checks
   * that no answer after that was stale again.
   */
  async function staleFor(b: LoggedApp, t: { id: number; rowId: number }): Promise<number> {
    const column = `added_${++fieldCounter}`;
    const added = await a.request('POST', `/tables/${t.id}/fields`, { json: { name: `Added ${fieldCounter}`, type: 'text', column } });
    expect(added.status, added.text).to.equal(201);
    const committedAt = performance.now();
    let freshAt: number | undefined;
    while (performance.now() - committedAt < POLL_MS + SLACK_MS + 1000) {
      const res = await b.request('GET', `/tables/${t.id}/rows/${t.rowId}`);
      expect(res.status, res.text).to.equal(200);
      const fresh = column in res.body;
      if (fresh) freshAt ??= performance.now();
      else expect(freshAt, 'once fresh, never stale again').to.equal(undefined);
      if (freshAt && performance.now() - freshAt > 200) break;
      await sleep(20);
    }
    expect(freshAt, `B never served column ${column}`).to.not.equal(undefined);
    return freshAt! - committedAt;
  }

  async function listenerPid(b: LoggedApp): Promise<number> {
    const { pid } = await sql.one(`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, [`${LISTENER_APPLICATION_NAME}:${b.ctx.instanceId}`]);
    return pid;
  }

  it('killed (pg_terminate_backend): B logs the loss, flushes, reconnects at once, and serves changes made meanwhile within the bound', async () => {
    const { b } = await startB({ BUS_PING_INTERVAL_MS: String(PING_INTERVAL_MS), BUS_PING_TIMEOUT_MS: String(PING_TIMEOUT_MS) }, 'B-kill');
    const t = await tableCachedOn(b);
    const pid = await listenerPid(b);
    await sql.exec('SELECT pg_terminate_backend($1)', [pid]);
    // Changes while B is deaf; B keeps serving (and caching) all along.
    const lag = await staleFor(b, t);
    expect(lag, 'served within SCHEMA_POLL_INTERVAL_MS + one query').to.be.below(POLL_MS + SLACK_MS);

    await eventually('B listening again', () => b.ctx.bus!.isConnected() && b.ctx.bus!.stats().connections === 2, 5000);
    expect(await listenerPid(b)).to.not.equal(pid);
    const stats = b.ctx.bus!.stats();
    expect(stats.losses).to.equal(1);
    expect(stats.flushes['listener-lost']).to.equal(1);
    expect(stats.flushes['listener-reconnected']).to.equal(1);
    // What the operator reads: the loss at warn, the reconnect and the flushes at info.
    const lost = b.logged(/listener connection lost; reconnecting/);
    expect(lost).to.have.length(1);
    expect(lost[0]!.level).to.equal(LEVEL.warn);
    expect(b.logged(/^listener reconnected$/)[0]?.level).to.equal(LEVEL.info);
    expect(b.logged(/^model cache flushed$/).map((l) => l.reason)).to.include.members(['listener-lost', 'listener-reconnected']);
    // And after the reconnect, B hears changes through LISTEN again (well inside the poll).
    expect(await staleFor(b, t)).to.be.below(POLL_MS / 2);
  });

  it('silent (the network carries nothing): the missed ping gives it away within interval + timeout; B flushes, reconnects, and is never stale past the bound', async () => {
    const { b, proxy } = await startB({ BUS_PING_INTERVAL_MS: String(PING_INTERVAL_MS), BUS_PING_TIMEOUT_MS: String(PING_TIMEOUT_MS) }, 'B-silent');
    const t = await tableCachedOn(b);
    await eventually('a ping heard through the proxy', () => b.ctx.bus!.stats().pingsReceived >= 1, 3000);
    proxy.blackhole();
    const silencedAt = performance.now();
    const lag = await staleFor(b, t);
    expect(lag).to.be.below(POLL_MS + SLACK_MS);
    await eventually('the loss noticed', () => b.ctx.bus!.stats().flushes['listener-lost'] >= 1, 3000);
    expect(performance.now() - silencedAt).to.be.below(PING_INTERVAL_MS + PING_TIMEOUT_MS + POLL_MS + SLACK_MS);
    await eventually('B listening again', () => b.ctx.bus!.isConnected() && b.ctx.bus!.stats().connections >= 2, 5000);
    expect(proxy.open(), 'the dead connection was dropped, not kept beside the new one').to.equal(1);
    expect(b.ctx.bus!.stats().missedPings).to.be.at.least(1);
    const missed = b.logged(/listener ping not received in time/);
    expect(missed[0]?.level).to.equal(LEVEL.warn);
    expect(b.logged(/listener connection lost; reconnecting/)[0]?.cause).to.equal('ping timeout');
    expect(await staleFor(b, t)).to.be.below(POLL_MS / 2);
  });

  it('silent with regular pings off: the version poll catches the change within SCHEMA_POLL_INTERVAL_MS + BUS_PING_TIMEOUT_MS, and the ping it sends before flushing finds the dead listener', async () => {
    const { b, proxy } = await startB({ BUS_PING_INTERVAL_MS: '3600000', BUS_PING_TIMEOUT_MS: String(PING_TIMEOUT_MS) }, 'B-poll');
    const t = await tableCachedOn(b);
    proxy.blackhole();
    const lags: number[] = [];
    for (let i = 0; i < 3; i++) lags.push(await staleFor(b, t));
    for (const lag of lags) expect(lag).to.be.below(POLL_MS + PING_TIMEOUT_MS + SLACK_MS);
    const stats = b.ctx.bus!.stats();
    expect(stats.flushes['schema-version-changed'], 'the poll flushed for the unheard change').to.be.at.least(1);
    expect(stats.flushes['listener-lost'], 'its ping did not come back: the listener was dead').to.be.at.least(1);
    expect(b.logged(/schema version moved past what the listener heard/)[0]?.level).to.equal(LEVEL.info);
    await eventually('B listening again', () => b.ctx.bus!.isConnected(), 5000);
    expect(await staleFor(b, t), 'listening again, B hears changes at once').to.be.below(POLL_MS / 2);
  });

  it('refused for a while: /readyz and /metrics say the listener is down, models stay within the bound, and it comes back with backoff by itself', async () => {
    const { b, proxy } = await startB({ BUS_PING_INTERVAL_MS: String(PING_INTERVAL_MS), BUS_PING_TIMEOUT_MS: String(PING_TIMEOUT_MS) }, 'B-refused');
    const t = await tableCachedOn(b);
    proxy.refuse(true);
    proxy.dropAll();
    await eventually('the loss', () => !b.ctx.bus!.isConnected(), 3000);
    const down = await b.request('GET', '/readyz', { auth: false });
    expect(down.status).to.equal(503);
    expect(down.body.checks).to.deep.equal({ database: true, listener: false });
    const metrics = await b.request('GET', '/metrics');
    expect(metrics.text).to.match(/^tablewright_listener_connected\{[^}]*\} 0$/m);
    expect(await staleFor(b, t)).to.be.below(POLL_MS + SLACK_MS);
    await sleep(1500);
    expect(b.logged(/listener reconnect attempt failed/).length, 'it kept trying').to.be.at.least(3);
    expect(b.logged(/listener reconnect attempt failed/)[0]!.level).to.equal(LEVEL.warn);

    proxy.refuse(false);
    // Backoff: 100 ms doubling, at most 5 s between attempts.
    await eventually('/readyz 200 again', async () => (await b.request('GET', '/readyz', { auth: false })).status === 200, 7000, 100);
    const back = await b.request('GET', '/metrics');
    expect(back.text).to.match(/^tablewright_listener_connected\{[^}]*\} 1$/m);
    expect(back.text).to.match(/^tablewright_listener_reconnects_total\{[^}]*\} 1$/m);
    expect(await staleFor(b, t)).to.be.below(POLL_MS / 2);
  });
});
