// A system field (autonumber, created_at, created_by, updated_by) changed to an ordinary type
// online ends as the one-transaction change does: the same values, an ordinary column (no
// identity, no DEFAULT, no system trigger), a trashed copy of the old column that fills
// nothing by itself, reconcile clean, and that copy restored without drift. Before, an
// autonumber failed inside the swap (its NOT NULL cannot be dropped while it is an
// identity: an `internal` error) and a created_* or *_by copy kept its DEFAULT (every
// insert filled a column in the trash; restored, reconcile reported the default).
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import { waitForJob } from '../helpers/jobs.js';
import type { Sql } from '../helpers/sql.js';
import { createTable, expectClean, QUIET } from '../introspect/lib.js';

const PAIRS = [
  ['autonumber', 'number'],
  ['autonumber', 'text'],
  ['created_at', 'text'],
  ['created_at', 'date'],
  ['updated_by', 'long_text'],
  ['created_by', 'text'],
  // no actor's name is an email: every value lost (kept in the trash) on both paths; the
  // one-transaction path kept them, its UPDATE undone by the created_by trigger
  ['created_by', 'email'],
  ['updated_by', 'email'],
] as const;

describe('online type change of a system field', function () {
  this.timeout(120_000);
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ app, sql } = s), { ...QUIET, JOB_POLL_MS: '50' });

  /** Each column of the table with what fills it by itself: identity, DEFAULT, a system trigger. */
  const fillers = (rel: string) =>
    sql.rows(
      `SELECT a.attname::text AS col, a.attidentity <> '' AS identity, a.atthasdef AS has_default,
              EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = a.attrelid AND g.tgname ~ '^tablewright_sys_f' AND convert_from(g.tgargs, 'UTF8') ~ ('\\x00' || a.attnum || '\\x00')) AS trigger
         FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname NOT IN ('id', 'name') ORDER BY a.attnum`,
      [rel],
    );

  it('a table made with every system field at once is no drift (its defaults were recorded before the table had its oid: none)', async () => {
    await createTable(app, 'All system', [
      { name: 'No', type: 'autonumber' },
      { name: 'Made', type: 'created_at' },
      { name: 'Changed', type: 'updated_at' },
      { name: 'Maker', type: 'created_by' },
      { name: 'Changer', type: 'updated_by' },
    ]);
    await expectClean(app, 'reconcile right after the table was made');
  });

  for (const [from, to] of PAIRS) {
    it(`${from} -> ${to}: the same values as the one-transaction change, nothing fills the old column or the new one by itself, reconcile clean, the copy restored clean`, async () => {
      const t = await createTable(app, `Sys ${from} ${to}`, [
        { name: 'Name', type: 'text', column: 'name' },
        { name: 'Online', type: from, column: 'online' },
        { name: 'Blocking', type: from, column: 'blocking' },
      ]);
      const rel = `data.${t.table_name}`;
      for (let i = 0; i < 5; i++) expect((await app.request('POST', `/tables/${t.id}/rows`, { json: { name: `n${i}` } })).status).to.equal(201);
      const [online, blocking] = [t.fields[1]!.id, t.fields[2]!.id];

      const res = await app.request('PATCH', `/tables/${t.id}/fields/${online}`, { json: { type: to, confirm_loss: 1, online: 1 } });
      // a change that rewrites nothing (the column type stays) is instant: no job
      if (res.status !== 200) {
        expect(res.status, res.text).to.equal(202);
        const job = await waitForJob(app, res.body.id, 60_000);
        expect(job.status, JSON.stringify(job.error)).to.equal('done');
      }
      const sync = await app.request('PATCH', `/tables/${t.id}/fields/${blocking}`, { json: { type: to, confirm_loss: 1, online: 0 } });
      expect(sync.status, sync.text).to.equal(200);

      const differ = await sql.rows(`SELECT id, online::text, blocking::text FROM ${rel} WHERE online::text IS DISTINCT FROM blocking::text ORDER BY id`);
      expect(differ, 'both paths kept every value alike').to.deep.equal([]);
      if (to === 'email') expect((await sql.one(`SELECT count(online)::int AS n FROM ${rel}`)).n, 'no actor is an email').to.equal(0);
      const live = await fillers(rel);
      for (const c of live) expect(c, `nothing fills ${c.col} by itself`).to.deep.include({ identity: false, has_default: false, trigger: false });
      expect(live.map((c) => c.col)).to.include.members(['online', 'blocking']);
      await expectClean(app);

      // a row added now (an autonumber's conversion keeps NOT NULL and UNIQUE: values sent):
      // the new fields hold what was sent, the trashed copy nothing
      const value = { number: 1000, text: 'a1', long_text: 'a1', date: '2026-01-02', email: 'a@example.com' }[to];
      const added = await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'after', online: value, blocking: value } });
      expect(added.status, added.text).to.equal(201);
      expect((await sql.one(`SELECT online::text FROM ${rel} WHERE name = 'after'`)).online).to.equal(String(value));
      // an instant change (nothing rewritten, nothing lost) keeps no copy
      const kept = (await sql.rows(`SELECT trash_name, id FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change' AND trash_name ~ $2`, [t.id, `f${online}_`]))[0];
      if (res.status === 200) return void expect(kept).to.equal(undefined);
      expect((await sql.one(`SELECT ${kept.trash_name} AS old FROM ${rel} WHERE name = 'after'`)).old, 'nothing filled the trashed copy').to.equal(null);

      // the online change's copy of the old column restored: no drift
      const restored = await app.request('POST', `/tables/${t.id}/fields/${kept.id}/restore`);
      expect(restored.status, restored.text).to.equal(200);
      // the copy is what its column is now: the ordinary type a system field is stored as,
      // written like any field (a restored "autonumber" without its identity numbered nothing)
      const back = (await app.request('GET', `/tables/${t.id}/fields/${kept.id}`)).body;
      expect(back.type).to.equal({ autonumber: 'number', created_at: 'datetime', updated_by: 'text', created_by: 'text' }[from]);
      const written = { number: 7, datetime: '2026-01-02T03:04:05Z', text: 'someone' }[back.type as 'number' | 'datetime' | 'text'];
      const edit = await app.request('PATCH', `/tables/${t.id}/rows/1`, { json: { [back.column]: written } });
      expect(edit.status, edit.text).to.equal(200);
      await expectClean(app, 'the restored copy is no drift');
    });
  }
});
