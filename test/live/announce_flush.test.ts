// Row announcements go out in batches (server/live/announce.ts: one NOTIFY statement at a
// time, those arriving meanwhile ANNOUNCE_GAP_MS later). An instance that stops right after
// its last writes must still send what they announced (other instances' consoles refresh
// from those NOTIFYs): its pool's closer waits for flushAnnouncements() before pool.end().
// Proves: announcements queued behind one in flight all reach a LISTEN session when the
// pool is ended right after a flush, and without the flush the ones still queued would not
// (the control case, so that the test can fail).
import { expect } from 'chai';
import pg from 'pg';
import { ROWS_CHANNEL } from '../../server/bus/channels.js';
import { announceRows, flushAnnouncements } from '../../server/live/announce.js';
import { freshDatabase, testLog, type TestDatabase } from '../helpers/db.js';

describe('row announcements when the pool closes', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let listener: pg.Client;
  const heard: number[] = [];

  before(async () => {
    db = await freshDatabase();
    listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    listener.on('notification', (n) => heard.push(...((JSON.parse(n.payload ?? '{}') as { row_ids?: number[] }).row_ids ?? [])));
    await listener.query(`LISTEN ${ROWS_CHANNEL}`);
  });
  after(async () => {
    await listener?.end();
    await db?.drop();
  });

  /** Announces rows from..from+n-1 on a new pool, one each, then (maybe) flushes and ends the pool; the ids heard within 2 s. */
  async function announceThenEnd(from: number, n: number, flush: boolean): Promise<number[]> {
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    const ids = Array.from({ length: n }, (_, i) => from + i);
    for (const id of ids) announceRows(pool, testLog, { tableId: 1, op: 'create', actor: 'test', rowIds: [id] });
    if (flush) await flushAnnouncements(pool);
    await pool.end();
    const deadline = Date.now() + 2000;
    while (ids.some((id) => !heard.includes(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return ids.filter((id) => heard.includes(id));
  }

  it('flushAnnouncements() before pool.end(): every announcement queued behind the one in flight goes out', async () => {
    expect(await announceThenEnd(1000, 30, true)).to.have.length(30);
  });

  it('control: ending the pool without the flush loses the queued ones (what the flush is for)', async () => {
    expect((await announceThenEnd(2000, 30, false)).length).to.be.lessThan(30);
  });
});
