// The backfill's range of pages follows the time a range took (server/schema/online/backfill.ts):
// it aims at BACKFILL_BATCH_MS per statement, changes by at most 2x a step, and stays within
// its bounds (1 to 4,096 pages).
import { expect } from 'chai';
import { BACKFILL_BATCH_MS, nextSpan } from '../../server/schema/online/backfill.js';

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
