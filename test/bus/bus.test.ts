// The notification bus on real PostgreSQL: what is heard and when, and how the bus
// recovers from a listener that dies loudly (pg_terminate_backend), silently (a TCP
// proxy that stops carrying bytes), or cannot come back for a while.
import { expect } from 'chai';
import pg from 'pg';
import {
  createBus,
  DDL_CHANNEL,
  LISTENER_APPLICATION_NAME,
  SCHEMA_CHANNEL,
  type Bus,
  type BusOptions,
  type DdlEvent,
  type FlushReason,
  type SchemaChange,
} from '../../server/bus/index.js';
import { loadConfig } from '../../server/config.js';
import { createPool } from '../../server/db/pool.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, testLog, type TestDatabase } from '../helpers/db.js';
import { startProxy, type TcpProxy } from './proxy.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `fn` until it returns something truthy; fails naming `what` after `timeoutMs`. */
async function eventually<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(10);
  }
}

interface Recorded {
  changes: SchemaChange[];
  flushes: FlushReason[];
  ddl: DdlEvent[];
}

function record(bus: Bus): Recorded {
  const r: Recorded = { changes: [], flushes: [], ddl: [] };
  bus.onSchemaChange((c) => r.changes.push(c));
  bus.onFlush((e) => r.flushes.push(e.reason));
  bus.onDdl((e) => r.ddl.push(e));
  return r;
}

describe('notification bus', function () {
  this.timeout(20_000);
  let db: TestDatabase;
  let pool: pg.Pool;
  let sql: pg.Client;
  let proxy: TcpProxy | undefined;
  const buses: Bus[] = [];

  before(async () => {
    db = await freshDatabase();
    pool = createPool({ connectionString: db.url, max: 4, connectTimeoutMs: 2000 }, testLog);
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.stop()));
    await proxy?.close();
    proxy = undefined;
  });
  after(async () => {
    await sql?.end();
    await pool?.end();
    await db?.drop();
  });

  /** A bus with small intervals; the poll is off (an hour) unless a test turns it on. */
  async function startBus(overrides: Partial<BusOptions> = {}): Promise<{ bus: Bus; events: Recorded }> {
    const bus = createBus({
      pool,
      log: testLog,
      listenUrl: db.url,
      pingIntervalMs: 100,
      pingTimeoutMs: 500,
      schemaPollIntervalMs: 3_600_000,
      connectTimeoutMs: 2000,
      reconnectDelayMs: { min: 50, max: 400 },
      ...overrides,
    });
    buses.push(bus);
    const events = record(bus);
    await bus.start();
    return { bus, events };
  }

  async function listenerPids(bus: Bus): Promise<number[]> {
    const { rows } = await sql.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
      `${LISTENER_APPLICATION_NAME}:${bus.instanceId}`,
    ]);
    return rows.map((r) => r.pid);
  }

  const notifySchema = (client: pg.ClientBase | pg.Pool, payload: object) =>
    client.query('SELECT pg_notify($1, $2)', [SCHEMA_CHANNEL, JSON.stringify(payload)]);

  it('hears a schema change sent inside a transaction only after COMMIT, and never one that rolled back', async () => {
    const { bus, events } = await startBus();
    expect(bus.isConnected()).to.equal(true);

    await sql.query('BEGIN');
    await notifySchema(sql, { table_id: 7, version: 2, op: 'add_field', actor: 'alice', instance: 'abc' });
    await sleep(200);
    expect(events.changes, 'nothing is delivered before COMMIT').to.deep.equal([]);
    await sql.query('COMMIT');
    await eventually('the committed change', () => events.changes.length === 1);
    expect(events.changes[0]).to.deep.equal({ tableId: 7, version: 2, op: 'add_field', actor: 'alice', instance: 'abc' });

    await sql.query('BEGIN');
    await notifySchema(sql, { table_id: 7, version: 3, op: 'rename_field', actor: 'alice' });
    await sql.query('ROLLBACK');
    // PostgreSQL delivers notifications in commit order: once this later commit is heard,
    // the rolled-back one would already have been, had it been delivered at all.
    await notifySchema(sql, { table_id: 8, version: 1, op: 'create_table', actor: 'bob' });
    await eventually('the marker committed after the rollback', () => events.changes.some((c) => c.tableId === 8));
    expect(events.changes.map((c) => c.version)).to.deep.equal([2, 1]);
    expect(events.flushes, 'a healthy listener never flushes').to.deep.equal([]);
  });

  it('flushes on a schema notification it cannot read, and passes DDL events through as parsed JSON', async () => {
    const { events } = await startBus();
    await sql.query('SELECT pg_notify($1, $2)', [SCHEMA_CHANNEL, 'not json']);
    await sql.query('SELECT pg_notify($1, $2)', [SCHEMA_CHANNEL, JSON.stringify({ table_id: 'x', version: 1, op: 'a', actor: 'b' })]);
    await sql.query('SELECT pg_notify($1, $2)', [DDL_CHANNEL, JSON.stringify({ command: 'ALTER TABLE', object: 'data.t' })]);
    await sql.query('SELECT pg_notify($1, $2)', [DDL_CHANNEL, 'plain text']);
    await eventually('both ddl events', () => events.ddl.length === 2);
    expect(events.flushes).to.deep.equal(['unreadable-notification', 'unreadable-notification']);
    expect(events.changes).to.deep.equal([]);
    expect(events.ddl.map((e) => e.payload)).to.deep.equal([{ command: 'ALTER TABLE', object: 'data.t' }, 'plain text']);
  });

  it('two instances share the ping channel, each counts only its own pings, neither raises a false alarm', async () => {
    const a = await startBus({ pingIntervalMs: 50, pingTimeoutMs: 300 });
    const b = await startBus({ pingIntervalMs: 50, pingTimeoutMs: 300 });
    await eventually('five pings back on each', () => a.bus.stats().pingsReceived >= 5 && b.bus.stats().pingsReceived >= 5);
    for (const { bus, events } of [a, b]) {
      expect(bus.stats().missedPings).to.equal(0);
      expect(events.flushes).to.deep.equal([]);
    }
    // Each hears the other's pings too (one channel), and ignores them.
    expect(a.bus.stats().notifications.tablewright_ping).to.be.above(a.bus.stats().pingsReceived);
  });

  it('pings itself through the pool and hears every ping back while healthy (no false alarms)', async () => {
    const { bus, events } = await startBus({ pingIntervalMs: 50, pingTimeoutMs: 300 });
    await eventually('five pings back', () => bus.stats().pingsReceived >= 5);
    const s = bus.stats();
    expect(s.missedPings).to.equal(0);
    expect(s.connections).to.equal(1);
    expect(s.lastPingMs).to.be.a('number').and.below(300);
    expect(events.flushes).to.deep.equal([]);
  });

  it('reconnects after pg_terminate_backend of its listener, flushes, and hears changes again within 3 s', async () => {
    const { bus, events } = await startBus();
    const [before] = await listenerPids(bus);
    expect(before, 'the listener is findable by its application_name').to.be.a('number');

    const killedAt = Date.now();
    await sql.query('SELECT pg_terminate_backend($1)', [before]);
    await eventually('a reconnect', () => events.flushes.includes('listener-reconnected') && bus.isConnected(), 3000);
    expect(Date.now() - killedAt).to.be.below(3000);
    expect(events.flushes.slice(0, 2), 'flush when lost (changes may be unheard), and again when back').to.deep.equal([
      'listener-lost',
      'listener-reconnected',
    ]);
    const after = await listenerPids(bus);
    expect(after).to.have.length(1);
    expect(after[0]).to.not.equal(before);
    expect(bus.stats()).to.include({ connections: 2, losses: 1 });

    await notifySchema(sql, { table_id: 1, version: 5, op: 'add_field', actor: 'alice' });
    await eventually('a change heard on the new connection', () => events.changes.some((c) => c.version === 5));
  });

  it('detects a silently dead listener (open socket, no bytes) by its ping, reconnects and flushes', async () => {
    proxy = await startProxy(db.url);
    const pingIntervalMs = 100;
    const pingTimeoutMs = 300;
    const { bus, events } = await startBus({ listenUrl: proxy.url, pingIntervalMs, pingTimeoutMs });
    await eventually('pings flowing through the proxy', () => bus.stats().pingsReceived >= 2);

    proxy.blackhole();
    const silencedAt = Date.now();
    // Nothing closes: the bus has only the missing ping to go on.
    await eventually('the missed ping', () => events.flushes.includes('listener-lost'), 3000);
    const detectedMs = Date.now() - silencedAt;
    expect(bus.stats().missedPings).to.equal(1);
    expect(detectedMs, 'detected within one interval + timeout (+ slack)').to.be.below(pingIntervalMs + pingTimeoutMs + 500);

    await eventually('the reconnect', () => events.flushes.includes('listener-reconnected') && bus.isConnected(), 3000);
    expect(proxy.open(), 'the dead connection was dropped, not left open beside the new one').to.equal(1);
    await notifySchema(sql, { table_id: 2, version: 9, op: 'add_field', actor: 'alice' });
    await eventually('a change heard on the new connection', () => events.changes.some((c) => c.version === 9));
  });

  it('treats a listener on another database than the pool as dead: the ping proves the path the schema editor uses', async () => {
    // A ping sent through the listener's own connection would come back here; one sent
    // through the pool, like the schema editor's NOTIFY, never does.
    const other = await freshDatabase();
    try {
      const { bus, events } = await startBus({ listenUrl: other.url, pingIntervalMs: 50, pingTimeoutMs: 200 });
      await eventually('a missed ping', () => bus.stats().missedPings >= 1, 3000);
      expect(bus.stats().pingsReceived).to.equal(0);
      expect(events.flushes[0]).to.equal('listener-lost');
      await bus.stop();
    } finally {
      await other.drop();
    }
  });

  it('flushes when schema_state.version moves while the listener is silently broken, and finds the broken listener by the ping the poll sends', async () => {
    proxy = await startProxy(db.url);
    // Regular pings far apart: only the poll (and the ping it sends) can notice anything.
    const { bus, events } = await startBus({ listenUrl: proxy.url, pingIntervalMs: 3_600_000, schemaPollIntervalMs: 100 });
    await sleep(350);
    expect(events.flushes, 'an unchanged version never flushes').to.deep.equal([]);

    proxy.blackhole();
    // What the schema editor does as the last statement of a change, with a NOTIFY that
    // the broken listener will never hear.
    await sql.query('BEGIN');
    await sql.query('UPDATE tablewright.schema_state SET version = version + 1');
    await notifySchema(sql, { table_id: 3, version: 2, op: 'add_field', actor: 'alice' });
    await sql.query('COMMIT');
    const committedAt = Date.now();
    await eventually('the poll flush', () => events.flushes.includes('schema-version-changed'), 3000);
    expect(Date.now() - committedAt, 'within a poll interval and a ping timeout (+ slack)').to.be.below(1500);
    expect(events.changes, 'the notification itself was never heard').to.deep.equal([]);
    expect(events.flushes, 'the ping that did not come back marked the listener lost').to.include('listener-lost');
    void bus;
  });

  it('does not flush when the poll sees a version before its notification has arrived (a slow listener)', async () => {
    proxy = await startProxy(db.url);
    const { events } = await startBus({ listenUrl: proxy.url, pingIntervalMs: 3_600_000, pingTimeoutMs: 2000, schemaPollIntervalMs: 50 });
    await sleep(200);
    // Everything the listener hears now comes 300 ms late, while the poll reads at once.
    proxy.delay(300);
    await sql.query('BEGIN');
    const { rows } = await sql.query<{ version: number }>('UPDATE tablewright.schema_state SET version = version + 1 RETURNING version');
    await notifySchema(sql, { table_id: 3, version: 2, global_version: Number(rows[0]!.version), op: 'add_field', actor: 'alice' });
    await sql.query('COMMIT');
    await sleep(150);
    expect(events.changes, 'the poll has run twice by now; the notification is still on its way').to.deep.equal([]);
    await eventually('the late notification', () => events.changes.length === 1, 3000);
    await sleep(300);
    expect(events.flushes, 'a late notification is not a lost one').to.deep.equal([]);
  });

  it('does not flush on the poll for a change it heard (the payload carries the global version)', async () => {
    const { events } = await startBus({ schemaPollIntervalMs: 100 });
    await sleep(250);
    await sql.query('BEGIN');
    const { rows } = await sql.query<{ version: number }>('UPDATE tablewright.schema_state SET version = version + 1 RETURNING version');
    await notifySchema(sql, { table_id: 3, version: 2, global_version: Number(rows[0]!.version), op: 'add_field', actor: 'alice' });
    await sql.query('COMMIT');
    await eventually('the change', () => events.changes.length === 1);
    await sleep(350); // three polls
    expect(events.flushes, 'a heard change needs no flush of everything').to.deep.equal([]);
  });

  it('keeps retrying with backoff while the server refuses it, and comes back', async () => {
    proxy = await startProxy(db.url);
    const { bus, events } = await startBus({ listenUrl: proxy.url });
    proxy.refuse(true);
    proxy.dropAll();
    await eventually('the loss', () => !bus.isConnected());
    await sleep(600);
    expect(bus.isConnected()).to.equal(false);
    expect(events.flushes).to.deep.equal(['listener-lost']);
    proxy.refuse(false);
    await eventually('the reconnect', () => bus.isConnected(), 3000);
    expect(events.flushes).to.deep.equal(['listener-lost', 'listener-reconnected']);
  });

  it('fails start() with a message that names the server but not the password, and stops cleanly after', async () => {
    proxy = await startProxy(db.url);
    proxy.refuse(true);
    const url = new URL(proxy.url);
    url.username = 'someone';
    url.password = 'sekrit-pw';
    const bus = createBus({
      pool,
      log: testLog,
      listenUrl: url.toString(),
      pingIntervalMs: 100,
      pingTimeoutMs: 100,
      schemaPollIntervalMs: 100,
      connectTimeoutMs: 1000,
    });
    buses.push(bus);
    let error: Error | undefined;
    await bus.start().catch((err: Error) => (error = err));
    expect(error?.message).to.match(/^could not LISTEN on postgres:\/\/someone@127\.0\.0\.1:\d+\//);
    expect(error?.message).to.not.include('sekrit');
    expect(bus.isConnected()).to.equal(false);
    await bus.stop();
  });

  it('closes its LISTEN connection on stop()', async () => {
    const { bus } = await startBus();
    expect(await listenerPids(bus)).to.have.length(1);
    await bus.stop();
    expect(bus.isConnected()).to.equal(false);
    await eventually('the backend gone', async () => (await listenerPids(bus)).length === 0, 2000);
  });
});

describe('notification bus in a running instance (/readyz)', function () {
  this.timeout(20_000);
  let db: TestDatabase;
  let proxy: TcpProxy;
  let app: TestApp;

  before(async () => {
    db = await freshDatabase();
    proxy = await startProxy(db.url);
    app = await startApp(db.url, { LISTEN_DATABASE_URL: proxy.url, BUS_PING_INTERVAL_MS: '100', BUS_PING_TIMEOUT_MS: '300' });
  });
  after(async () => {
    await app?.stop();
    await proxy?.close();
    await db?.drop();
  });

  it('LISTENs through LISTEN_DATABASE_URL, and /readyz reports the listener down while it is, and up after', async () => {
    expect(app.ctx.bus?.isConnected()).to.equal(true);
    expect(proxy.open(), 'the listener goes through LISTEN_DATABASE_URL, the pool does not').to.equal(1);
    const up = await app.request('GET', '/readyz');
    expect(up.status).to.equal(200);
    expect(up.body.checks).to.deep.include({ database: true, listener: true });

    proxy.refuse(true);
    proxy.dropAll();
    const down = await eventually('/readyz 503', async () => {
      const res = await app.request('GET', '/readyz');
      return res.status === 503 ? res : undefined;
    });
    expect(down.body.checks).to.deep.include({ database: true, listener: false });

    proxy.refuse(false);
    const back = await eventually('/readyz 200 again', async () => {
      const res = await app.request('GET', '/readyz');
      return res.status === 200 ? res : undefined;
    }, 8000);
    expect(back.body.checks).to.deep.include({ database: true, listener: true });
  });
});

describe('notification bus settings', () => {
  it('defaults to a 5 s ping, a 3 s ping timeout and a 5 s version poll, and refuses nonsense', () => {
    const c = loadConfig({});
    expect(c).to.include({ busPingIntervalMs: 5000, busPingTimeoutMs: 3000, schemaPollIntervalMs: 5000 });
    expect(loadConfig({ BUS_PING_INTERVAL_MS: '250', SCHEMA_POLL_INTERVAL_MS: '1000' })).to.include({
      busPingIntervalMs: 250,
      schemaPollIntervalMs: 1000,
    });
    expect(() => loadConfig({ BUS_PING_TIMEOUT_MS: 'soon', SCHEMA_POLL_INTERVAL_MS: '0' })).to.throw(
      /BUS_PING_TIMEOUT_MS[\s\S]*SCHEMA_POLL_INTERVAL_MS/,
    );
  });
});
