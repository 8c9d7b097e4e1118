// The backfill's batch range follows the time a batch took (server/schema/online/backfill.ts):
// it aims at BACKFILL_BATCH_MS per batch, changes by at most 2x a step, stays within bounds,
// and doubles over a range with no rows (ids deleted).
import { expect } from 'chai';
import { BACKFILL_BATCH_MS, nextSpan } from '../../server/schema/online/backfill.js';

describe('backfill batch size', () => {
  it('grows when a batch is quick, shrinks when slow, by at most 2x; empty ranges double; bounded', () => {
    expect(nextSpan(2000, 2000, BACKFILL_BATCH_MS)).to.equal(2000);
    expect(nextSpan(2000, 2000, BACKFILL_BATCH_MS / 2)).to.equal(4000);
    expect(nextSpan(2000, 2000, 1)).to.equal(4000);
    expect(nextSpan(2000, 2000, BACKFILL_BATCH_MS * 4)).to.equal(1000);
    expect(nextSpan(4000, 4000, BACKFILL_BATCH_MS * 1.25)).to.equal(3200);
    expect(nextSpan(2000, 0, 500)).to.equal(4000);
    expect(nextSpan(150_000, 150_000, 1)).to.equal(200_000);
    expect(nextSpan(300, 300, 10_000)).to.equal(200);
  });
});
