// The retention policy: the cleanup purges exactly what was trashed before the cutoff,
// one object per transaction, never an object restored meanwhile, never an untracked
// one; one instance at a time; on a schedule, on demand, and from the CLI.
import { expect } from 'chai';
import { SCHEMA_LOCK_NAMESPACE } from '../../server/schema/change.js';
import { CLEANUP_LOCK, dueForPurge } from '../../server/trash/cleanup.js';
import { purgeField } from '../../server/trash/trash.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';
import { Sql } from '../helpers/sql.js';
import { createTable, QUIET } from '../introspect/lib.js';

describe('trash cleanup (TRASH_RETENTION)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let t: { id: number; fields: Array<{ id: number }> };
  let old: { id: number };

  const backdate = (what: 'tables' | 'fields', id: number, days: number) =>
    sql.exec(`UPDATE tablewright.${what} SET trashed_at = now() - make_interval(days => $2) WHERE id = $1`, [id, days]);
  const exists = async (id: number) => (await sql.rows(`SELECT 1 FROM tablewright.fields WHERE id = $1`, [id])).length === 1;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { ...QUIET, TRASH_RETENTION: '7d', LOCK_TIMEOUT_MS: '300' });
    sql = await Sql.connect(db.url);
  });
  beforeEach(async () => {
    // Start from a trash with nothing due: what earlier tests left is purged first.
    expect((await app.request('POST', '/trash/cleanup', { json: {} })).status).to.equal(200);
    t = await createTable(app, `Things ${Date.now()}`, [
      { name: 'A', type: 'text' }, { name: 'B', type: 'text' }, { name: 'C', type: 'text' }, { name: 'D', type: 'text' },
    ]);
    for (const f of t.fields.slice(1)) expect((await app.request('DELETE', `/tables/${t.id}/fields/${f.id}`)).status).to.equal(200);
    old = await createTable(app, `Old ${Date.now()}`, [{ name: 'X', type: 'text' }]);
    expect((await app.request('DELETE', `/tables/${old.id}`)).status).to.equal(200);
    await backdate('fields', t.fields[1]!.id, 8); // due
    await backdate('fields', t.fields[2]!.id, 6); // not yet
    await backdate('tables', old.id, 30); // due
    // t.fields[3] trashed just now: not due
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('a dry run lists exactly what is older than the retention, and changes nothing', async () => {
    const before = await sql.snapshot();
    const res = await app.request('POST', '/trash/cleanup', { json: { dry_run: true } });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.dry_run).to.equal(true);
    expect(res.body.purged.map((c: { kind: string; id: number }) => `${c.kind}:${c.id}`)).to.have.members([`field:${t.fields[1]!.id}`, `table:${old.id}`]);
    expect(await sql.snapshot()).to.deep.equal(before);
  });

  it('a run purges what is older than the retention, one audited change each, and keeps the rest and untracked objects', async () => {
    await sql.exec(`CREATE TABLE data.orphan_${t.id} (id int)`);
    await sql.exec(`CREATE TABLE data_trash.orphan_${t.id} (id int)`);
    const auditBefore = (await sql.one(`SELECT count(*)::int AS n FROM tablewright.audit`)).n;
    const res = await app.request('POST', '/trash/cleanup', { json: {} });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.skipped).to.deep.equal([]);
    expect(res.body.purged.map((c: { kind: string; id: number }) => `${c.kind}:${c.id}`)).to.have.members([`field:${t.fields[1]!.id}`, `table:${old.id}`]);
    expect(await exists(t.fields[1]!.id)).to.equal(false);
    expect(await exists(t.fields[2]!.id)).to.equal(true);
    expect(await exists(t.fields[3]!.id)).to.equal(true);
    expect(await sql.rows(`SELECT 1 FROM tablewright.tables WHERE id = $1`, [old.id])).to.have.length(0);
    const audits = await sql.rows(`SELECT operation, actor, details FROM tablewright.audit ORDER BY id OFFSET $1`, [auditBefore]);
    expect(audits.map((a) => a.operation).sort()).to.deep.equal(['purge_field', 'purge_table']);
    expect(audits.every((a) => a.details.policy === true)).to.equal(true);
    expect((await sql.one(`SELECT to_regclass($1) IS NOT NULL AS a, to_regclass($2) IS NOT NULL AS b`, [`data.orphan_${t.id}`, `data_trash.orphan_${t.id}`]))).to.deep.equal({ a: true, b: true });
    await sql.exec(`DROP TABLE data.orphan_${t.id}, data_trash.orphan_${t.id}`);
  });

  it('an object restored after it was listed is never purged; one trashed again meanwhile waits for its own retention', async () => {
    const cutoff = new Date(Date.now() - 7 * 86_400_000);
    const due = await dueForPurge(app.ctx.pool, cutoff);
    expect(due.map((c) => c.id)).to.include(t.fields[1]!.id);
    // restored between the listing and the purge
    expect((await app.request('POST', `/tables/${t.id}/fields/${t.fields[1]!.id}/restore`)).status).to.equal(200);
    const deps = { pool: app.ctx.pool, log: app.ctx.log, config: app.ctx.config };
    const restored = await purgeField(deps, { name: 'test' }, t.fields[1]!.id, { cutoff, requireConfirm: false }).catch((e) => e);
    expect(restored.code).to.equal('not_trashed');
    // trashed again just now: not due under the old cutoff
    expect((await app.request('DELETE', `/tables/${t.id}/fields/${t.fields[1]!.id}`)).status).to.equal(200);
    const again = await purgeField(deps, { name: 'test' }, t.fields[1]!.id, { cutoff, requireConfirm: false }).catch((e) => e);
    expect(again.code).to.equal('not_due');
    expect(await exists(t.fields[1]!.id)).to.equal(true);
    // and the whole run agrees
    const res = await app.request('POST', '/trash/cleanup', { json: {} });
    expect(res.body.purged.map((c: { id: number }) => c.id)).not.to.include(t.fields[1]!.id);
  });

  it('a busy table is skipped within lock_timeout and the others are purged; the next run gets it', async () => {
    const blocker = await Sql.connect(db.url);
    try {
      await blocker.exec('BEGIN');
      await blocker.exec(`LOCK TABLE data.${(await sql.one(`SELECT table_name FROM tablewright.tables WHERE id = $1`, [t.id])).table_name} IN ACCESS SHARE MODE`);
      const res = await app.request('POST', '/trash/cleanup', { json: {} });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.skipped.map((c: { id: number; code: string }) => `${c.id}:${c.code}`)).to.deep.equal([`${t.fields[1]!.id}:table_busy`]);
      expect(res.body.purged.map((c: { id: number }) => c.id)).to.include(old.id);
    } finally {
      await blocker.exec('ROLLBACK');
      await blocker.end();
    }
    const next = await app.request('POST', '/trash/cleanup', { json: {} });
    expect(next.body.purged.map((c: { id: number }) => c.id)).to.deep.equal([t.fields[1]!.id]);
  });

  it('runs on one instance at a time: while another holds the leader lock, an on-demand run answers 409 cleanup_running', async () => {
    const other = await Sql.connect(db.url);
    try {
      await other.exec('SELECT pg_advisory_lock($1, $2)', [SCHEMA_LOCK_NAMESPACE, CLEANUP_LOCK]);
      const res = await app.request('POST', '/trash/cleanup', { json: {} });
      expect(res.status).to.equal(409);
      expect(res.body.error.code).to.equal('cleanup_running');
      expect(await exists(t.fields[1]!.id)).to.equal(true);
      // the scheduled run skips quietly
      expect(await app.ctx.cleanup?.runNow()).to.equal(undefined);
    } finally {
      await other.end();
    }
  });

  it('runs on its schedule (CLEANUP_INTERVAL)', async () => {
    const scheduled = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: '200ms', TRASH_RETENTION: '7d' }, 'scheduled');
    try {
      const started = Date.now();
      while ((await exists(t.fields[1]!.id)) && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 50));
      expect(await exists(t.fields[1]!.id)).to.equal(false);
      expect(await exists(t.fields[2]!.id)).to.equal(true);
      const audit = await sql.one(`SELECT actor FROM tablewright.audit WHERE operation = 'purge_field' AND field_id = $1`, [t.fields[1]!.id]);
      expect(audit.actor).to.equal('system:cleanup');
    } finally {
      await scheduled.stop();
    }
  });

  it('`tablewright cleanup --dry-run` lists what is due and changes nothing; `tablewright cleanup` purges it', async () => {
    const run = (args: string[]) => {
      const cli = runCli(args, { DATABASE_URL: db.url, TRASH_RETENTION: '7d' });
      let stdout = '';
      cli.child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      return cli.exited.then(({ code }) => ({ code, stdout, output: cli.output() }));
    };
    const dry = await run(['cleanup', '--dry-run']);
    expect(dry.code, dry.output).to.equal(0);
    expect(dry.stdout).to.match(/^would purge 2 objects trashed before .* \(TRASH_RETENTION=7d\)/);
    expect(await exists(t.fields[1]!.id)).to.equal(true);
    const real = await run(['cleanup']);
    expect(real.code, real.output).to.equal(0);
    expect(real.stdout).to.match(/^purged 2 objects/);
    expect(real.stdout).to.include(`dropped data_trash._tw_t${old.id}_old`);
    expect(await exists(t.fields[1]!.id)).to.equal(false);
  });
});
