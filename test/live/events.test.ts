// Live updates: a console connected to instance B hears schema changes and row writes
// made through instance A, through one LISTEN per instance and no database connection
// per browser.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

interface Stream {
  events: Array<{ event: string; data: any }>;
  /** resolves with the first event matching, within ms */
  next(pred: (e: { event: string; data: any }) => boolean, ms?: number): Promise<{ event: string; data: any }>;
  close(): void;
  status: number;
}

async function openStream(app: TestApp, path: string): Promise<Stream> {
  const controller = new AbortController();
  const res = await fetch(new URL(path, app.url), { headers: { Authorization: `Bearer ${app.adminToken}`, Accept: 'text/event-stream' }, signal: controller.signal });
  const events: Stream['events'] = [];
  const waiters: Array<() => void> = [];
  if (res.ok) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.+)$/m.exec(frame)?.[1];
            const data = /^data: (.+)$/m.exec(frame)?.[1];
            if (event && data) events.push({ event, data: JSON.parse(data) });
            waiters.splice(0).forEach((w) => w());
          }
        }
      } catch {
        // aborted
      }
    })();
  } else {
    await res.body?.cancel();
  }
  return {
    events,
    status: res.status,
    close: () => controller.abort(),
    next(pred, ms = 2000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event within ${ms} ms; got ${JSON.stringify(events)}`)), ms);
        const check = () => {
          const hit = events.find(pred);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

describe('live updates (server-sent events)', function () {
  this.timeout(20_000);
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let tableId: number;
  let otherId: number;
  const streams: Stream[] = [];

  before(async () => {
    db = await freshDatabase();
    a = await startApp(db.url, {}, 'A');
    b = await startApp(db.url, { LIVE_MAX_CLIENTS: '3' }, 'B');
    tableId = (await a.request('POST', '/tables', { json: { name: 'Watched' } })).body.id;
    otherId = (await a.request('POST', '/tables', { json: { name: 'Other' } })).body.id;
  });
  afterEach(() => streams.splice(0).forEach((s) => s.close()));
  after(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it('a schema change through A reaches a stream on B, with the new version and who did it', async () => {
    const s = await openStream(b, `/events?table=${tableId}`);
    streams.push(s);
    expect(s.status).to.equal(200);
    const added = await a.request('POST', `/tables/${tableId}/fields`, { json: { name: 'Status', type: 'text' } });
    const e = await s.next((x) => x.event === 'schema');
    expect(e.data).to.include({ table_id: tableId, version: added.body.version, op: 'add_field' });
    expect(e.data.actor).to.match(/^token:/);
  });

  it('a row written through A reaches B as a rows event; another table\'s stream hears nothing of it', async () => {
    const watched = await openStream(b, `/events?table=${tableId}`);
    const other = await openStream(b, `/events?table=${otherId}`);
    streams.push(watched, other);
    const row = await a.request('POST', `/tables/${tableId}/rows`, { json: { name: 'x' } });
    const e = await watched.next((x) => x.event === 'rows');
    expect(e.data).to.include({ table_id: tableId, op: 'create' });
    expect(e.data.row_ids).to.deep.equal([row.body.id]);
    expect(e.data.request_id, 'the write\'s X-Request-Id: the page that made it skips its own refresh').to.equal(row.headers.get('x-request-id'));
    await new Promise((r) => setTimeout(r, 200));
    expect(other.events).to.deep.equal([]);
  });

  it('an update and a delete through A reach B, each announced after its write commits; a write that fails announces nothing', async () => {
    const field = (await a.request('POST', `/tables/${tableId}/fields`, { json: { name: 'Code', type: 'text', unique: true } })).body;
    expect(field.column).to.be.a('string');
    const watched = await openStream(b, `/events?table=${tableId}`);
    streams.push(watched);
    const row = (await a.request('POST', `/tables/${tableId}/rows`, { json: { [field.column]: 'one' } })).body;
    await watched.next((x) => x.event === 'rows' && x.data.op === 'create');
    const updated = await a.request('PATCH', `/tables/${tableId}/rows/${row.id}`, { json: { [field.column]: 'two' } });
    expect(updated.status, updated.text).to.equal(200);
    const u = await watched.next((x) => x.event === 'rows' && x.data.op === 'update');
    expect(u.data).to.include({ table_id: tableId, request_id: updated.headers.get('x-request-id') });
    expect(u.data.row_ids).to.deep.equal([row.id]);
    // a unique violation: refused by PostgreSQL, so its statement (and NOTIFY) rolls back
    const dup = await a.request('POST', `/tables/${tableId}/rows`, { json: { [field.column]: 'two' } });
    expect(dup.status, dup.text).to.equal(409);
    const deleted = await a.request('DELETE', `/tables/${tableId}/rows/${row.id}`);
    expect(deleted.status, deleted.text).to.equal(204);
    const d = await watched.next((x) => x.event === 'rows' && x.data.op === 'delete');
    expect(d.data.row_ids).to.deep.equal([row.id]);
    const seen = watched.events.filter((x) => x.event === 'rows').map((x) => x.data.request_id);
    expect(seen, 'the refused write was never announced').to.not.include(dup.headers.get('x-request-id'));
  });

  it('costs no database connection per stream: three streams open, no backend more per stream and none of B\'s pool held', async () => {
    const count = async () =>
      (await b.ctx.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`)).rows[0].n;
    // The backends once they stop changing. Either instance's pool may open a connection for a
    // moment (a job claim, an announcement after a commit) and keep it idle for 30 s, so one or
    // two more backends can come and go while the streams are open: what a stream holding its
    // own connection would show is one more per stream, for as long as it is open.
    const settled = async () => {
      let last = await count();
      for (let i = 0; i < 30; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const n = await count();
        if (n === last) return n;
        last = n;
      }
      return last;
    };
    const before = await settled();
    const opened = 3;
    for (let i = 0; i < opened; i++) streams.push(await openStream(b, `/events?table=${tableId}`));
    expect(b.ctx.live!.size).to.equal(opened);
    // A client a stream held would be checked out all the time it is open; B's own work
    // (a job claim, an announcement) checks one out only for a moment.
    let fewestHeld = Infinity;
    for (let i = 0; i < 10; i++) {
      fewestHeld = Math.min(fewestHeld, b.ctx.pool.totalCount - b.ctx.pool.idleCount);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(fewestHeld, "the fewest of B's pool clients checked out, sampled for half a second with the streams open").to.equal(0);
    expect((await settled()) - before, 'backends more with three streams open than before').to.be.below(opened);
  });

  it('past LIVE_MAX_CLIENTS a new stream answers 503 with Retry-After; a closed stream frees its place', async () => {
    for (let i = 0; i < 3; i++) streams.push(await openStream(b, `/events?table=${tableId}`));
    const refused = await b.request('GET', `/events?table=${tableId}`);
    expect(refused.status).to.equal(503);
    expect(refused.headers.get('retry-after')).to.equal('10');
    streams.pop()!.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(b.ctx.live!.size).to.equal(2);
  });

  it('a client that stops reading is dropped once its backlog passes MAX_BUFFERED, instead of growing memory', async () => {
    const net = await import('node:net');
    const { MAX_BUFFERED } = await import('../../server/live/hub.js');
    const url = new URL(b.url);
    const socket = net.connect(Number(url.port), url.hostname);
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET /events?table=${tableId} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${b.adminToken}\r\n\r\n`);
    await new Promise((r) => socket.once('data', r));
    socket.pause(); // never reads again
    const before = b.ctx.live!.size;
    // Big events, far past the limit (and past the socket buffers in between).
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 200 && b.ctx.live!.size === before; i++) {
      b.ctx.live!.publish({ type: 'rows', tableId, data: { filler: big } });
      await new Promise((r) => setImmediate(r));
    }
    expect(b.ctx.live!.size, `dropped after at most ${MAX_BUFFERED} bytes waiting`).to.equal(before - 1);
    socket.destroy();
  });

  it('an unknown table is a 404, and viewers need credentials', async () => {
    expect((await b.request('GET', '/events?table=999999')).status).to.equal(404);
    expect((await b.request('GET', `/events?table=${tableId}`, { auth: false })).status).to.equal(401);
  });

  it('shutdown ends open streams instead of waiting for them', async () => {
    const c = await startApp(db.url, { SHUTDOWN_TIMEOUT_MS: '30000' }, 'C');
    const s = await openStream(c, `/events?table=${tableId}`);
    const started = Date.now();
    await c.stop();
    s.close();
    expect(Date.now() - started).to.be.below(5000);
  });

  it('the table page carries what live.js needs: the table id, its version, the banner slot and the script', async () => {
    const page = await a.request('GET', `/tables/${tableId}`, { headers: { Accept: 'text/html' } });
    expect(page.text).to.match(new RegExp(`data-live-table="${tableId}" data-table-version="\\d+"`));
    expect(page.text).to.include('id="live-banner"');
    expect(page.text).to.include('<script src="/public/js/live.js" defer>');
  });
});
