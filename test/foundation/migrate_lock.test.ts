// A migration that needs a lock a long reader holds waits at most its lock_timeout, rolls
// back and tries again, so the reads that queue behind its lock request wait that long at
// most, not as long as the reader runs; and it is applied once the reader is gone.
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import pg from 'pg';
import { migrate, readMigrations } from '../../server/db/migrate.js';
import { freshDatabase, testLog, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('migrations under a long reader (lock_timeout and retry)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  it('the migration gives way to the reader every LOCK_TIMEOUT_MS, other reads never wait behind it for longer, and it applies once the reader ends', async () => {
    const reader = await Sql.connect(db.url);
    const other = await Sql.connect(db.url);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const warnings: unknown[] = [];
    const log = testLog.child({});
    log.warn = ((obj: unknown) => void warnings.push(obj)) as typeof log.warn;
    try {
      // a long report holds ACCESS SHARE on the metadata table for 2.5 s
      await reader.exec('BEGIN');
      await reader.exec('SELECT count(*) FROM tablewright.tables');
      const releasing = new Promise<void>((resolve) => setTimeout(() => void reader.exec('COMMIT').then(() => resolve()), 2500));
      const migrations = [...(await readMigrations()), { name: '999_test_add_column.sql', sql: 'ALTER TABLE tablewright.tables ADD COLUMN lock_test int', checksum: 'test' }];
      const t0 = performance.now();
      const migrating = migrate(client, { dataSchema: 'data', trashSchema: 'data_trash', log, migrations, lockTimeoutMs: 200, retryDelayMs: 100 });
      // meanwhile, an instance's read of the same table: never stuck behind the migration for long
      const readTimes: number[] = [];
      for (let i = 0; i < 8; i++) {
        await new Promise((r) => setTimeout(r, 150));
        const r0 = performance.now();
        await other.exec('SELECT count(*) FROM tablewright.tables');
        readTimes.push(performance.now() - r0);
      }
      const applied = await migrating;
      const ms = performance.now() - t0;
      await releasing;
      expect(applied).to.deep.equal(['999_test_add_column.sql']);
      expect(ms, 'it waited for the reader to end').to.be.above(2000);
      expect(warnings.length, 'it gave up and retried several times').to.be.at.least(3);
      expect(Math.max(...readTimes), `reads waited at most about one lock_timeout: ${readTimes.map(Math.round).join(', ')} ms`).to.be.below(1000);
      expect((await other.one(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'tablewright.tables'::regclass AND attname = 'lock_test'`)).n).to.equal(1);
    } finally {
      await client.end();
      await reader.end();
      await other.end();
    }
  });
});
