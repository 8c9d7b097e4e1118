// A daemon is killed with SIGKILL in the middle of a schema change on a large table (no
// shutdown, no ROLLBACK sent: the process is just gone), in a request and in a job.
// PostgreSQL must roll the change back when it notices, so that after a restart the
// catalog and the metadata agree (reconcile is clean), the change either fully happened or
// not at all, and a job the dead process was running ends failed or is run again.
import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { type TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';
import { Sql } from '../helpers/sql.js';
import { bigTable } from './big_table.js';
import { columnsBothWays, daemonLogged, eventually, LEVEL, startDaemon, stopDaemons, type Daemon } from './lib.js';

const ROWS = 500_000;

type FieldState = {
  metaType: string;
  catalogType: string;
  metaIndexed: boolean;
  catalogIndexed: boolean;
  audit: number;
  version: number;
};

describe('SIGKILL in the middle of a schema change on a large table', function () {
  this.timeout(180_000);
  let db: TestDatabase;
  let sql: Sql;
  let token: string;
  let table: { id: number; table_name: string; fields: Array<{ id: number; column: string }> };

  before(async () => {
    ({ db, sql, token, table } = await bigTable(
      'Big',
      [{ name: 'Amount', type: 'text' }, { name: 'Code', type: 'text' }, { name: 'Amount in a job', type: 'text' }],
      (rel, [amount, code, amount2]) => `INSERT INTO ${rel} (${amount}, ${code}, ${amount2}) SELECT (g % 100000)::text, 'c' || g, (g % 777)::text FROM generate_series(1, ${ROWS}) g`,
    ));
  });
  after(async () => {
    await stopDaemons();
    await sql?.end();
    await db?.drop();
  });

  /** What the table looks like to a DBA and to the metadata, for one field. */
  async function fieldState(fieldId: number): Promise<FieldState> {
    const meta = await sql.one(`SELECT f.type, f.indexed, f.column_name FROM tablewright.fields f WHERE f.id = $1`, [fieldId]);
    const catalog = await sql.one(
      `SELECT format_type(a.atttypid, a.atttypmod) AS type FROM tablewright.tables t JOIN pg_attribute a ON a.attrelid = t.table_oid
        WHERE t.id = $1 AND a.attname = $2`,
      [table.id, meta.column_name],
    );
    const index = await sql.rows(`SELECT 1 FROM pg_indexes WHERE schemaname = 'data' AND indexname = $1`, [`ix_f${fieldId}`]);
    const audit = await sql.rows(`SELECT operation, version FROM tablewright.audit WHERE table_id = $1 AND field_id = $2`, [table.id, fieldId]);
    const { version } = await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [table.id]);
    return { metaType: meta.type, catalogType: catalog.type, metaIndexed: meta.indexed, catalogIndexed: index.length === 1, audit: audit.length, version };
  }

  async function reconcileClean(daemon: Daemon, alsoCli: boolean): Promise<void> {
    const report = await daemon.call('GET', '/reconcile');
    expect(report.status).to.equal(200);
    expect(report.body.clean, JSON.stringify(report.body.items)).to.equal(true);
    if (!alsoCli) return;
    const cli = runCli(['reconcile', '--json'], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
    const { code } = await cli.exited;
    expect(code, `tablewright reconcile --json exits 0 when clean:\n${cli.output().slice(-1500)}`).to.equal(0);
  }

  /** Waits for the DDL to run in PostgreSQL, then SIGKILLs the daemon: no ROLLBACK, no goodbye. */
  async function killDuring(daemon: Daemon, ddl: RegExp): Promise<{ query: string; orphanMs: number }> {
    const seen = await eventually(
      'the DDL running',
      async () => (await sql.rows(`SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND application_name = 'tablewright'`)).find((r) => ddl.test(r.query)),
      60_000,
      10,
    );
    daemon.cli.child.kill('SIGKILL');
    const killedAt = performance.now();
    expect((await daemon.cli.exited).signal).to.equal('SIGKILL');
    await daemon.stop();
    // The orphaned backend finishes its statement, finds the client gone, and rolls back.
    await eventually("the killed daemon's session gone", async () => (await sql.rows(`SELECT 1 FROM pg_stat_activity WHERE pid = $1`, [seen.pid])).length === 0, 60_000, 50);
    return { query: seen.query, orphanMs: performance.now() - killedAt };
  }

  /** Catalog and metadata agree on the field and on every column; no row lost. */
  async function expectConsistent(after: FieldState, agrees: (s: FieldState) => boolean): Promise<void> {
    expect(agrees(after), `catalog and metadata agree: ${JSON.stringify(after)}`).to.equal(true);
    const both = await columnsBothWays(sql.raw, table.id);
    expect(both.catalog).to.deep.equal(both.metadata);
    const { n } = await sql.one(`SELECT count(*)::int AS n FROM data.${table.table_name}`);
    expect(n, 'no row lost').to.equal(ROWS);
  }

  const typeAgrees = (s: FieldState) => (s.metaType === 'number') === (s.catalogType === 'bigint') && (s.metaType === 'text') === (s.catalogType === 'text');
  const cases = [
    {
      what: 'a type change in a request (text -> number: ALTER COLUMN TYPE rewrites every row)',
      field: () => table.fields[0]!,
      body: { type: 'number' },
      // Synchronous: no job however big the table.
      env: { JOB_THRESHOLD_ROWS: '1000000000' } as Record<string, string>,
      ddl: /ALTER TABLE .* ALTER COLUMN .* TYPE/i,
      done: (s: FieldState) => s.metaType === 'number',
      agrees: typeAgrees,
    },
    {
      what: 'an index in a request (CREATE INDEX over every row)',
      field: () => table.fields[1]!,
      // online=0: the single-transaction path (test/faults/online.fault.ts kills the online one)
      body: { indexed: true, online: 0 },
      env: {} as Record<string, string>,
      ddl: /CREATE INDEX/i,
      done: (s: FieldState) => s.metaIndexed === true,
      agrees: (s: FieldState) => s.metaIndexed === s.catalogIndexed,
    },
  ];

  for (const c of cases) {
    it(`killed during ${c.what}: after a restart reconcile is clean, and the change happened entirely or not at all`, async () => {
      const field = c.field();
      const before = await fieldState(field.id);
      const daemon = await startDaemon({ DATABASE_URL: db.url, ...c.env }, token);
      const change = daemon.call('PATCH', `/tables/${table.id}/fields/${field.id}`, { json: c.body }).catch((err: Error) => err);
      const { query, orphanMs } = await killDuring(daemon, c.ddl);
      expect(await change, 'the client saw the connection die').to.be.instanceOf(Error);

      const after = await fieldState(field.id);
      await expectConsistent(after, c.agrees);
      if (c.done(after)) {
        expect(after.audit, 'happened: with its audit row').to.equal(before.audit + 1);
        expect(after.version).to.equal(before.version + 1);
      } else {
        expect(after, 'not at all: exactly as before').to.deep.equal(before);
      }

      // A new process: reconcile is clean, and the same change goes through (no lock left).
      const restarted = await startDaemon({ DATABASE_URL: db.url, ...c.env }, token);
      await reconcileClean(restarted, true);
      if (!c.done(after)) {
        const redo = await restarted.call('PATCH', `/tables/${table.id}/fields/${field.id}`, { json: c.body });
        expect(redo.status, redo.text).to.equal(200);
        expect(c.done(await fieldState(field.id))).to.equal(true);
        await reconcileClean(restarted, false);
      }
      await restarted.stop();
      console.log(`      killed ${query.slice(0, 60)}...; outcome: ${c.done(after) ? 'happened' : 'rolled back'}; orphaned backend gone after ${Math.round(orphanMs)} ms`);
    });
  }

  it('killed in the middle of a job (a type change on a big table runs as one): the job is run again after the restart, once, and reconcile is clean', async () => {
    const field = table.fields[2]!;
    const before = await fieldState(field.id);
    // Jobs of a dead instance are recovered once their heartbeat is JOB_STALE_MS old.
    const jobEnv = { DATABASE_URL: db.url, JOB_THRESHOLD_ROWS: '100000', JOB_STALE_MS: '1500', JOB_POLL_MS: '200' };
    const daemon = await startDaemon(jobEnv, token);
    const accepted = await daemon.call('PATCH', `/tables/${table.id}/fields/${field.id}`, { json: { type: 'number', online: 0 } });
    expect(accepted.status, accepted.text).to.equal(202);
    const jobId: number = accepted.body.id;
    const { orphanMs } = await killDuring(daemon, /ALTER TABLE .* ALTER COLUMN .* TYPE/i);

    const killed = await sql.one(`SELECT status, attempts, claimed_by FROM tablewright.jobs WHERE id = $1`, [jobId]);
    expect(killed, 'the dead process never finished it').to.include({ status: 'running', attempts: 1 });
    const afterKill = await fieldState(field.id);
    await expectConsistent(afterKill, typeAgrees);
    expect(afterKill, 'its transaction died with the process: nothing applied').to.deep.equal(before);

    const restarted = await startDaemon(jobEnv, token);
    const job = await eventually(
      'the job finished by the new process',
      async () => {
        const res = await restarted.call('GET', `/jobs/${jobId}`);
        return res.body.status === 'done' || res.body.status === 'failed' ? res.body : undefined;
      },
      90_000,
      250,
    );
    const after = await fieldState(field.id);
    await expectConsistent(after, typeAgrees);
    if (job.status === 'done') {
      expect(job.attempts, 'run again').to.equal(2);
      expect(after.metaType).to.equal('number');
      expect(after.audit, 'applied exactly once').to.equal(before.audit + 1);
    } else {
      expect(job.error.code).to.be.a('string');
      expect(after).to.deep.equal(before);
    }
    const recovered = await eventually('the recovery logged', () => daemonLogged(restarted, /job of a lost instance recovered/)[0]);
    expect(recovered.level).to.equal(LEVEL.warn);
    expect(recovered.jobId).to.equal(jobId);
    await reconcileClean(restarted, false);
    await restarted.stop();
    console.log(`      killed job ${jobId} in its ALTER; orphaned backend gone after ${Math.round(orphanMs)} ms; after the restart the job ended ${job.status} (attempt ${job.attempts})`);
  });
});
