// The backfill's range of pages follows the time a range took (server/schema/online/backfill.ts):
// it aims at BACKFILL_BATCH_MS per statement, changes by at most 2x a step, and stays within
// its bounds (1 to 4,096 pages).
import { expect } from 'chai';
import { BACKFILL_BATCH_MS, nextChunk, nextSpan, othersSentBefore, statementEnd } from '../../server/schema/online/backfill.js';

describe('backfill range size', () => {
  it('grows when a range is quick, shrinks when slow, by at most 2x; bounded', () => {
    expect(nextSpan(64, BACKFILL_BATCH_MS)).to.equal(64);
    expect(nextSpan(64, BACKFILL_BATCH_MS / 2)).to.equal(128);
    expect(nextSpan(64, 0)).to.equal(128);
    expect(nextSpan(64, BACKFILL_BATCH_MS * 4)).to.equal(32);
    expect(nextSpan(100, BACKFILL_BATCH_MS * 1.25)).to.equal(80);
    expect(nextSpan(3000, 1)).to.equal(4096);
    expect(nextSpan(1, 10_000)).to.equal(1);
  });
});

// A statement's pages (backfill.ts, nextChunk) follow the one before: up by at most 2x, down
// as far as it was over its aim, at once (a statement 8x over its aim: an eighth), within
// [1, most].
describe('backfill statement size', () => {
  it('grows by at most 2x, shrinks at once by as much as the last statement was over, bounded', () => {
    expect(nextChunk(64, BACKFILL_BATCH_MS, 4096)).to.equal(64);
    expect(nextChunk(64, 0, 4096)).to.equal(128);
    expect(nextChunk(64, BACKFILL_BATCH_MS / 4, 4096)).to.equal(128);
    expect(nextChunk(512, BACKFILL_BATCH_MS * 8, 4096)).to.equal(64);
    expect(nextChunk(512, BACKFILL_BATCH_MS * 100, 4096)).to.equal(5);
    expect(nextChunk(3, BACKFILL_BATCH_MS * 100, 4096)).to.equal(1);
    expect(nextChunk(30, 1, 32)).to.equal(32);
  });

  it('splits what is left of a part into equal statements of at most the size: no last one of a few pages', () => {
    const ends = (lo: number, hi: number, size: number) => {
      const out: number[] = [];
      for (let a = BigInt(lo); a < BigInt(hi); ) out.push(Number((a = statementEnd(a, BigInt(hi), size))));
      return out;
    };
    expect(ends(0, 68, 64), 'two of 34, not 64 and 4').to.deep.equal([34, 68]);
    expect(ends(100, 300, 64)).to.deep.equal([150, 200, 250, 300]);
    expect(ends(0, 64, 64)).to.deep.equal([64]);
    expect(ends(0, 10, 100)).to.deep.equal([10]);
    expect(ends(0, 3, 1)).to.deep.equal([1, 2, 3]);
    expect(ends(5, 6, 0), 'a size below 1 is 1').to.deep.equal([6]);
  });
});

// The copy's sessions (backfill.ts, othersSentBefore): before a wave goes over pages again,
// its session waits for the other sessions' statements sent before its last wave there
// committed (their snapshots keep that wave's old versions alive, and the new wave could not
// prune them: its updates would not be HOT), and for nothing else.
describe('backfill sessions: waiting for older statements of the others', () => {
  const statement = (sent: number) => {
    let end = () => {};
    const ended = new Promise<void>((r) => (end = r));
    let over = false;
    void ended.then(() => (over = true));
    return { s: { sent, ended }, end, over: () => over };
  };
  const settled = async (p: Promise<void>) => {
    let done = false;
    void p.then(() => (done = true));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    return done;
  };

  it('waits for a statement of another session sent before `since`, not for one sent after, nor for its own', async () => {
    const older = statement(10);
    const newer = statement(30);
    const own = statement(5);
    const running = new Map([
      [1, older.s],
      [2, newer.s],
      [0, own.s],
    ]);
    const wait = othersSentBefore(running, 0, 20);
    expect(await settled(wait), 'waits while the older statement runs').to.equal(false);
    older.end();
    expect(await settled(wait), 'done once it ended, the newer and its own still running').to.equal(true);
    expect([newer.over(), own.over()]).to.deep.equal([false, false]);
    expect(await settled(othersSentBefore(new Map(), 0, 20)), 'nothing in flight: no wait').to.equal(true);
  });

  it('waits no longer than its bound for a statement that does not end (one waiting for a row a user holds)', async () => {
    const stuck = statement(10);
    const t0 = performance.now();
    await othersSentBefore(new Map([[1, stuck.s]]), 0, 20, 50);
    const waited = performance.now() - t0;
    expect(waited).to.be.within(45, 500);
    expect(stuck.over(), 'the other statement still running').to.equal(false);
  });
});
