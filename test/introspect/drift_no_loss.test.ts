// Drift actions never destroy or silently drop. "restore" of a retyped column keeps the
// values that do not convert in a trashed copy (restorable, purged by retention), as a
// field's own type change does; "rebuild" carries over everything the table is (owner,
// grants, storage parameters, collations, row-level security and policies, triggers...)
// or refuses with a 409 naming what it cannot carry. Objects made by hand in SQL.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { act, createTable, expectClean, onlyItem, QUIET } from './lib.js';

describe('drift actions keep what they cannot convert, and carry over what a table is', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const roles = ['own', 'r1', 'r2', 'r3'].map((r) => `tw_${r}_${suffix}`);
  const [owner, r1, r2, r3] = roles as [string, string, string, string];

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { ...QUIET, COLUMN_SLOT_WARNING: '30' });
    sql = await Sql.connect(db.url);
    for (const r of roles) await sql.exec(`CREATE ROLE ${r}`);
    await sql.exec(`GRANT CREATE, USAGE ON SCHEMA data TO ${roles.join(", ")}`);
  });
  after(async () => {
    for (const r of roles) {
      await sql?.exec(`REASSIGN OWNED BY ${r} TO CURRENT_USER`).catch(() => undefined);
      await sql?.exec(`DROP OWNED BY ${r}`).catch(() => undefined);
      await sql?.exec(`DROP ROLE IF EXISTS ${r}`).catch(() => undefined);
    }
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const trashedFields = async (tableId: number) => (await app.request('GET', `/tables/${tableId}/fields?trashed=1`)).body.fields as any[];

  it('"restore" of a retyped column with confirm_loss keeps the values that do not convert in a trashed copy, restorable and purged by retention', async () => {
    const t = await createTable(app, 'Stock', [{ name: 'Sku', type: 'text' }, { name: 'Qty', type: 'number' }]);
    const qty = t.fields[1]!.id;
    await sql.exec(`INSERT INTO data.stock (sku, qty) VALUES ('a', 1), ('b', 2)`);
    await sql.exec(`ALTER TABLE data.stock ALTER COLUMN qty TYPE text`);
    await sql.exec(`INSERT INTO data.stock (sku, qty) VALUES ('c', 'lots'), ('d', '3')`);
    const item = await onlyItem(app, 'retyped_column');
    expect((await act(app, item.id, 'restore', {}, 422)).error.message).to.include('kept in the trash');
    const out = await act(app, item.id, 'restore', { confirm_loss: true });
    expect(out.result.lost).to.equal(1);
    const kept = out.result.kept_in_trash;
    expect(kept.rows).to.equal(1);
    expect(await sql.rows(`SELECT sku, qty FROM data.stock ORDER BY id`)).to.deep.equal([
      { sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }, { sku: 'c', qty: null }, { sku: 'd', qty: 3 },
    ]);
    const copy = (await trashedFields(t.id)).find((f) => f.id === kept.field_id);
    expect(copy).to.include({ type: 'text', trash_reason: 'type_change' });
    expect(copy.name).to.match(/^Qty \(as text before restore to bigint, v\d+\)$/);
    const parked = (await sql.one(`SELECT trash_name FROM tablewright.fields WHERE id = $1`, [kept.field_id])).trash_name;
    expect(await sql.rows(`SELECT sku, ${parked} AS was FROM data.stock ORDER BY id`)).to.deep.equal([
      { sku: 'a', was: null }, { sku: 'b', was: null }, { sku: 'c', was: 'lots' }, { sku: 'd', was: null },
    ]);
    expect((await app.request('GET', '/trash')).body.fields.map((f: any) => f.id)).to.include(kept.field_id);
    await expectClean(app);
    // restorable like any trashed field: the value comes back
    const restored = await app.request('POST', `/tables/${t.id}/fields/${kept.field_id}/restore`);
    expect(restored.status, restored.text).to.equal(200);
    const rows = (await app.request('GET', `/tables/${t.id}/rows?sort=id`)).body.rows;
    expect(rows.map((r: any) => r.qty_before_v2 ?? r[Object.keys(r).find((k) => k.startsWith('qty_before'))!])).to.deep.equal([null, null, 'lots', null]);
    await expectClean(app);
    // and purged by the retention policy once trashed long enough
    expect((await app.request('DELETE', `/tables/${t.id}/fields/${kept.field_id}`)).status).to.equal(200);
    await sql.exec(`UPDATE tablewright.fields SET trashed_at = now() - interval '400 days' WHERE id = $1`, [kept.field_id]);
    const cleanup = await app.request('POST', '/trash/cleanup', { json: {} });
    expect(cleanup.body.purged.map((p: any) => p.id)).to.deep.equal([kept.field_id]);
    await expectClean(app);
  });

  it('"restore" to an adopted type (varchar(5), integer) counts what does not fit instead of cutting it or failing, and keeps it', async () => {
    await sql.exec(`CREATE TABLE data.parts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, code varchar(5), qty integer)`);
    await sql.exec(`INSERT INTO data.parts (code, qty) VALUES ('ab', 1), ('cd', 2)`);
    const adopted = await act(app, (await onlyItem(app, 'untracked_table')).id, 'adopt');
    await sql.exec(`ALTER TABLE data.parts ALTER COLUMN code TYPE text, ALTER COLUMN qty TYPE text`);
    await sql.exec(`INSERT INTO data.parts (code, qty) VALUES ('toolong', 'x'), ('ef', '7')`);
    for (const [column, lostValue, expected] of [
      ['code', 'toolong', ['ab', 'cd', null, 'ef']],
      ['qty', 'x', [1, 2, null, 7]],
    ] as const) {
      const item = (await (await app.request('GET', '/reconcile')).body.items).find((i: any) => i.kind === 'retyped_column' && i.column.name === column);
      const refused = await act(app, item.id, 'restore', {}, 422);
      expect(refused.error.details.lost, column).to.equal(1);
      const out = await act(app, item.id, 'restore', { confirm_loss: true });
      expect(out.result.kept_in_trash.rows).to.equal(1);
      expect((await sql.rows(`SELECT ${column} AS v FROM data.parts ORDER BY id`)).map((r) => r.v), `${column} is not cut`).to.deep.equal(expected);
      const parked = (await sql.one(`SELECT trash_name FROM tablewright.fields WHERE id = $1`, [out.result.kept_in_trash.field_id])).trash_name;
      expect((await sql.rows(`SELECT ${parked} AS v FROM data.parts WHERE ${parked} IS NOT NULL`)).map((r) => r.v)).to.deep.equal([lostValue]);
    }
    expect(adopted.result.read_only).to.equal(false);
    await expectClean(app);
  });

  /** Everything about a table a rebuild must keep, as comparable text (no oids). */
  const tableFacts = async (rel: string) => {
    const q = async (text: string) => sql.rows(text, [rel]);
    return {
      table: await q(`SELECT pg_get_userbyid(relowner) AS owner, relpersistence, reloptions, (SELECT reloptions FROM pg_class t WHERE t.oid = c.reltoastrelid) AS toast,
          relrowsecurity, relforcerowsecurity, relreplident, relnatts > 0 AS ok FROM pg_class c WHERE oid = $1::regclass`),
      grants: await q(`SELECT pg_get_userbyid(a.grantor) AS grantor, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type, a.is_grantable
          FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a WHERE c.oid = $1::regclass ORDER BY 1, 2, 3`),
      // (a server that stamps its own pg_attver option on every new column keeps it to itself)
      columns: await q(`SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, co.collname, a.attstorage, a.attstattarget::int AS stattarget,
          array(SELECT o FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg_attver=%') AS attoptions,
          (SELECT array_agg(pg_get_userbyid(x.grantee) || ':' || x.privilege_type ORDER BY 1) FROM aclexplode(a.attacl) x) AS acl, col_description(a.attrelid, a.attnum) AS comment
          FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attname`),
      policies: await q(`SELECT policyname, permissive, roles::text[], cmd, qual, with_check FROM pg_policies WHERE schemaname || '.' || tablename = $1 ORDER BY 1`),
      triggers: await q(`SELECT pg_get_triggerdef(oid) AS def, tgenabled FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname`),
      rules: await q(`SELECT pg_get_ruledef(oid) AS def FROM pg_rewrite WHERE ev_class = $1::regclass ORDER BY rulename`),
      statistics: await q(`SELECT pg_get_statisticsobjdef(oid) AS def FROM pg_statistic_ext WHERE stxrelid = $1::regclass`),
      indexes: await q(`SELECT ic.relname, pg_get_indexdef(i.indexrelid) AS def, i.indisclustered, i.indisreplident, obj_description(ic.oid, 'pg_class') AS comment
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1::regclass ORDER BY 1`),
      constraints: await q(`SELECT conname, pg_get_constraintdef(oid) AS def, obj_description(oid, 'pg_constraint') AS comment FROM pg_constraint WHERE conrelid = $1::regclass ORDER BY 1`),
      sequence: await q(`SELECT s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, pg_get_userbyid(c.relowner) AS owner,
          (SELECT array_agg(pg_get_userbyid(x.grantee) || ':' || x.privilege_type ORDER BY 1) FROM aclexplode(c.relacl) x) AS acl
          FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE s.seqrelid = pg_get_serial_sequence($1, 'id')::regclass`),
    };
  };

  const wear = (rel: string, n: number) =>
    sql.exec(`DO $$ BEGIN FOR i IN 1..${n} LOOP EXECUTE format('ALTER TABLE ${rel} ADD COLUMN tmp%s int', i); EXECUTE format('ALTER TABLE ${rel} DROP COLUMN tmp%s', i); END LOOP; END $$`);

  it('"rebuild" carries over the owner, grants (table, column, sequence, by other grantors), storage parameters, collations, column settings, RLS and its policies, triggers, rules, statistics, replica identity and comments', async () => {
    const t = await createTable(app, 'Ledger', [{ name: 'Name', type: 'text', unique: true }, { name: 'Amount', type: 'number', options: { decimals: 2 }, indexed: true }]);
    const ix = `ix_f${t.fields[1]!.id}`;
    const rel = 'data.ledger';
    await sql.exec(`INSERT INTO ${rel} (name, amount) VALUES ('b', 10), ('a', 2000), ('c', 5)`);
    await sql.exec(`DELETE FROM ${rel} WHERE name = 'c'`);
    const seq = `data.seq_t${t.id}`;
    // what a DBA does by hand
    for (const stmt of [
      `ALTER TABLE ${rel} SET (fillfactor = 70, autovacuum_enabled = false, toast.autovacuum_enabled = false)`,
      `ALTER TABLE ${rel} ALTER COLUMN name TYPE text COLLATE "C"`,
      `ALTER TABLE ${rel} ALTER COLUMN name SET STORAGE EXTERNAL, ALTER COLUMN name SET STATISTICS 500, ALTER COLUMN amount SET (n_distinct = 100)`,
      `ALTER TABLE ${rel} ALTER COLUMN id SET INCREMENT BY 5`,
      `ALTER TABLE ${rel} OWNER TO ${owner}`,
      `GRANT SELECT ON ${rel} TO ${r1}`,
      `GRANT INSERT (name) ON ${rel} TO ${r1}`,
      `GRANT UPDATE ON ${rel} TO ${r2} WITH GRANT OPTION`,
      `SET ROLE ${r2}`,
      `GRANT UPDATE ON ${rel} TO ${r3}`,
      `RESET ROLE`,
      `REVOKE TRUNCATE ON ${rel} FROM ${owner}`,
      `GRANT USAGE ON SEQUENCE ${seq} TO ${r1}`,
      `ALTER TABLE ${rel} ENABLE ROW LEVEL SECURITY`,
      `ALTER TABLE ${rel} FORCE ROW LEVEL SECURITY`,
      `CREATE POLICY small_only ON ${rel} FOR SELECT TO ${r1} USING (amount < 1000)`,
      `CREATE POLICY named ON ${rel} AS RESTRICTIVE FOR UPDATE TO ${r2}, ${r3} USING (true) WITH CHECK (name <> '')`,
      `CREATE FUNCTION public.ledger_touch_${suffix}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := lower(NEW.name); RETURN NEW; END $$`,
      `CREATE TRIGGER lower_name BEFORE INSERT ON ${rel} FOR EACH ROW EXECUTE FUNCTION public.ledger_touch_${suffix}()`,
      `CREATE TRIGGER paused BEFORE UPDATE OF amount ON ${rel} FOR EACH ROW WHEN (NEW.amount < 0) EXECUTE FUNCTION public.ledger_touch_${suffix}()`,
      `ALTER TABLE ${rel} DISABLE TRIGGER paused`,
      `CREATE RULE keep_big AS ON DELETE TO ${rel} WHERE old.amount > 1000 DO INSTEAD NOTHING`,
      `CREATE STATISTICS data.ledger_stats (ndistinct) ON name, amount FROM ${rel}`,
      `ALTER INDEX data.${ix} SET (fillfactor = 50)`,
      `COMMENT ON INDEX data.${ix} IS 'for reports'`,
      `COMMENT ON CONSTRAINT pk_t${t.id} ON ${rel} IS 'the row id'`,
      `ALTER TABLE ${rel} REPLICA IDENTITY FULL`,
      `ALTER TABLE ${rel} CLUSTER ON ${ix}`,
    ]) await sql.exec(stmt);
    await wear(rel, 35);
    const before = await tableFacts(rel);
    const rowsBefore = await sql.rows(`SELECT * FROM ${rel} ORDER BY id`);

    const out = await act(app, (await onlyItem(app, 'column_limit')).id, 'rebuild');
    expect(out.result).to.include({ freed: 35, slots_after: 3 });
    const afterFacts = await tableFacts(rel);
    for (const key of Object.keys(before) as Array<keyof typeof before>) expect(afterFacts[key], key).to.deep.equal(before[key]);
    expect(await sql.rows(`SELECT * FROM ${rel} ORDER BY id`)).to.deep.equal(rowsBefore);
    // they still work: the id goes on by 5 after the highest ever given, the trigger fires, the rule holds
    const next = await sql.one(`INSERT INTO ${rel} (name, amount) VALUES ('D', 1) RETURNING id, name`);
    expect(next).to.deep.equal({ id: 3 + 5, name: 'd' });
    await sql.exec(`DELETE FROM ${rel} WHERE name = 'a'`);
    expect((await sql.one(`SELECT count(*)::int AS n FROM ${rel} WHERE name = 'a'`)).n, 'the rule kept the big row').to.equal(1);
    await expectClean(app);
  });

  it('"rebuild" refuses with 409 naming what it cannot carry (a view, a publication), and changes nothing', async () => {
    const t = await createTable(app, 'Shared', [{ name: 'Name', type: 'text' }]);
    await sql.exec(`INSERT INTO data.shared (name) VALUES ('x')`);
    await wear('data.shared', 35);
    await sql.exec(`CREATE VIEW public.shared_names_${suffix} AS SELECT name FROM data.shared`);
    await sql.exec(`CREATE PUBLICATION pub_${suffix} FOR TABLE data.shared`);
    const before = await sql.snapshot();
    const item = await onlyItem(app, 'column_limit');
    const refused = await act(app, item.id, 'rebuild', {}, 409);
    expect(refused.error.code).to.equal('rebuild_blocked');
    expect(refused.error.details.cannot_carry).to.deep.equal([`publication pub_${suffix}`, `view shared_names_${suffix}`]);
    expect(refused.error.message).to.include(`view shared_names_${suffix}`).and.include(`publication pub_${suffix}`);
    expect(await sql.snapshot()).to.deep.equal(before);
    await sql.exec(`DROP VIEW public.shared_names_${suffix}`);
    await sql.exec(`DROP PUBLICATION pub_${suffix}`);
    await act(app, item.id, 'rebuild');
    expect(t.id).to.be.a('number');
    await expectClean(app);
  });
});
