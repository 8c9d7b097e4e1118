// Several instances change the schema of one table at the same time. What must hold:
// every operation happens exactly once or is refused with a 409 that says why; the
// catalog ends equal to the metadata; the table's versions strictly increase, one per
// change; every instance ends serving the same model.
import { expect } from 'chai';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { columnsBothWays, eventually, startLoggedApp, stopLoggedApps, type LoggedApp } from './lib.js';

const OPS_PER_INSTANCE = 50;
const SHARED = 5;
/** The refusals a concurrent schema change may meet, each a 409 with its own code. */
const CLEAR_REFUSALS = new Set(['table_busy', 'name_taken', 'column_taken', 'trashed', 'not_trashed']);

interface Outcome {
  instance: string;
  step: number;
  op: string;
  /** the audit operation a success must have left */
  auditOp: string;
  status: number;
  code?: string;
  version?: number;
  fieldId?: number;
  contested?: string;
}

interface Field {
  id: number;
  name: string;
  type?: string;
}

/**
 * One instance's 50 operations, one after another: its own fields (add, rename, set a
 * default, trash, restore) and contested ones that every instance attempts at about the
 * same step: adding a field under the same name, trashing and restoring the same shared
 * field, renaming the same shared field.
 */
async function worker(app: LoggedApp, label: string, tableId: number, shared: Field[], renamed: Field): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const live: Field[] = [];
  const trashed: Field[] = [];
  const call = async (step: number, op: string, auditOp: string, method: string, path: string, json: unknown, contested?: string) => {
    const res = await app.request(method, path, { json });
    const out: Outcome = { instance: label, step, op, auditOp, status: res.status, contested };
    if (res.status < 300) {
      out.version = res.body.version;
      out.fieldId = res.body.id;
    } else {
      out.code = res.body?.error?.code;
    }
    outcomes.push(out);
    return res;
  };
  const base = `/tables/${tableId}/fields`;
  const addOwn = async (step: number, type: 'text' | 'number') => {
    const name = `${label} F${step}`;
    const res = await call(step, 'add', 'add_field', 'POST', base, { name, type });
    if (res.status === 201) live.push({ id: res.body.id, name, type });
  };
  for (let step = 0; step < OPS_PER_INSTANCE; step++) {
    const k = Math.floor(step / 10) % SHARED;
    switch (step % 10) {
      case 0:
        await addOwn(step, 'text');
        break;
      case 1:
        await call(step, 'contested add', 'add_field', 'POST', base, { name: `Contested ${step}`, type: 'text' }, `add ${step}`);
        break;
      case 2: {
        const f = live.at(-1);
        if (!f) {
          await addOwn(step, 'text');
          break;
        }
        const res = await call(step, 'rename', 'update_field', 'PATCH', `${base}/${f.id}`, { name: `${label} R${step}` });
        if (res.status === 200) f.name = `${label} R${step}`;
        break;
      }
      case 3: {
        const f = live.find((x) => x.type === 'text');
        if (!f) {
          await addOwn(step, 'text');
          break;
        }
        await call(step, 'set default', 'update_field', 'PATCH', `${base}/${f.id}`, { default: `d${step}` });
        break;
      }
      case 4:
        await call(step, 'contested trash', 'trash_field', 'DELETE', `${base}/${shared[k]!.id}`, undefined, `trash ${shared[k]!.id}`);
        break;
      case 5:
        await addOwn(step, 'number');
        break;
      case 6: {
        const f = live.shift();
        if (!f) {
          await addOwn(step, 'text');
          break;
        }
        const res = await call(step, 'trash', 'trash_field', 'DELETE', `${base}/${f.id}`, undefined);
        if (res.status === 200) trashed.push(f);
        else live.unshift(f);
        break;
      }
      case 7:
        await call(step, 'contested restore', 'restore_field', 'POST', `${base}/${shared[k]!.id}/restore`, {}, `restore ${shared[k]!.id}`);
        break;
      case 8: {
        const f = trashed.shift();
        if (!f) {
          await addOwn(step, 'text');
          break;
        }
        const res = await call(step, 'restore', 'restore_field', 'POST', `${base}/${f.id}/restore`, {});
        if (res.status === 200) live.push(f);
        else trashed.unshift(f);
        break;
      }
      case 9:
        await call(step, 'contested rename', 'update_field', 'PATCH', `${base}/${renamed.id}`, { name: `Shared by ${label} ${step}` });
        break;
    }
  }
  return outcomes;
}

for (const n of [2, 3]) {
  describe(`${n} instances changing one table's schema at once (${OPS_PER_INSTANCE} operations each)`, function () {
    this.timeout(120_000);
    let db: TestDatabase;
    let sql: Sql;
    const apps: LoggedApp[] = [];
    const labels = ['A', 'B', 'C'].slice(0, n);

    before(async () => {
      db = await freshDatabase();
      sql = await Sql.connect(db.url);
      for (const label of labels) apps.push(await startLoggedApp(db.url, {}, label));
    });
    after(async () => {
      await stopLoggedApps();
      await sql?.end();
      await db?.drop();
    });

    it('each operation happens once or is refused with a clear 409; catalog = metadata; versions strictly increase; one model everywhere', async () => {
      const created = await apps[0]!.request('POST', '/tables', {
        json: { name: 'Contested', fields: [{ name: 'Name', type: 'text' }, ...Array.from({ length: SHARED }, (_, i) => ({ name: `S${i}`, type: 'text' })), { name: 'Z', type: 'text' }] },
      });
      expect(created.status, created.text).to.equal(201);
      const tableId: number = created.body.id;
      const fields: Field[] = created.body.fields;
      const shared = fields.filter((f) => /^S\d$/.test(f.name));
      const renamed = fields.find((f) => f.name === 'Z')!;
      const v0: number = created.body.version;
      // Every instance has the model cached before the storm, so stale models would show.
      for (const app of apps) expect((await app.request('GET', `/tables/${tableId}/rows?size=1`)).status).to.equal(200);

      const outcomes = (await Promise.all(apps.map((app, i) => worker(app, labels[i]!, tableId, shared, renamed)))).flat();
      expect(outcomes).to.have.length(n * OPS_PER_INSTANCE);

      // 1. Every answer is a success or a 409 whose code says why.
      const unexpected = outcomes.filter((o) => !(o.status === 200 || o.status === 201 || (o.status === 409 && CLEAR_REFUSALS.has(o.code!))));
      expect(unexpected, 'only successes and clear 409s').to.deep.equal([]);
      const successes = outcomes.filter((o) => o.status < 300);
      const refusals = outcomes.filter((o) => o.status === 409);

      // 2. Contested operations: at most one instance wins each contested add; a contested
      // trash or restore never succeeds twice in a row for the same field (the audit order
      // alternates trash, restore, trash...).
      const byContest = new Map<string, Outcome[]>();
      for (const o of outcomes.filter((x) => x.contested?.startsWith('add'))) byContest.set(o.contested!, [...(byContest.get(o.contested!) ?? []), o]);
      for (const [contest, list] of byContest) {
        const won = list.filter((o) => o.status === 201);
        expect(won.length, `${contest}: at most one instance adds it`).to.be.at.most(1);
        const exists = await sql.rows(`SELECT id FROM tablewright.fields WHERE table_id = $1 AND name = $2`, [tableId, `Contested ${contest.split(' ')[1]}`]);
        expect(exists.length, `${contest}: the field exists exactly when one add succeeded`).to.equal(won.length);
        for (const lost of list.filter((o) => o.status !== 201)) expect(lost.code).to.be.oneOf(['name_taken', 'column_taken', 'table_busy']);
      }

      // 3. The audit: one row per success, versions distinct and strictly increasing in
      // commit order, each success's version naming a row of its own operation.
      const audit = await sql.rows<{ id: number; operation: string; version: number; field_id: number | null }>(
        `SELECT id, operation, version, field_id FROM tablewright.audit WHERE table_id = $1 AND version > $2 ORDER BY id`,
        [tableId, v0],
      );
      expect(audit.length, 'one audit row per successful operation').to.equal(successes.length);
      for (let i = 1; i < audit.length; i++) expect(audit[i]!.version, 'versions strictly increase').to.equal(audit[i - 1]!.version + 1);
      const auditByVersion = new Map(audit.map((a) => [a.version, a]));
      expect(new Set(successes.map((s) => s.version)).size, 'no two successes share a version').to.equal(successes.length);
      for (const s of successes) {
        const row = auditByVersion.get(s.version!);
        expect(row, `${s.instance} step ${s.step} (${s.op}) has its audit row`).to.not.equal(undefined);
        expect(row!.operation).to.equal(s.auditOp);
        if (s.op !== 'contested add' && s.op !== 'add') expect(row!.field_id).to.be.a('number');
      }
      const { version } = await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [tableId]);
      expect(version, 'the table version counted every change once').to.equal(v0 + successes.length);

      // 4. The trash/restore contests alternate per shared field in commit order.
      for (const f of shared) {
        const ops = audit.filter((a) => a.field_id === f.id).map((a) => a.operation);
        for (let i = 1; i < ops.length; i++) expect(ops[i], `field ${f.id}: ${ops.join(', ')}`).to.not.equal(ops[i - 1]);
      }

      // 5. Catalog = metadata, column by column, and reconcile finds no drift.
      const both = await columnsBothWays(sql.raw, tableId);
      expect(both.catalog).to.deep.equal(both.metadata);
      const report = await apps[0]!.request('GET', '/reconcile');
      expect(report.status).to.equal(200);
      expect(report.body.clean, JSON.stringify(report.body.items)).to.equal(true);

      // 6. Every instance ends with the same model: the same table JSON, the same row
      // shape (from each one's cached model), and the same model version as the metadata.
      const row = await apps[0]!.request('POST', `/tables/${tableId}/rows`, { json: {} });
      expect(row.status, row.text).to.equal(201);
      const tableJson = (await apps[0]!.request('GET', `/tables/${tableId}`)).body;
      const shape = Object.keys(row.body).sort();
      const liveColumns = tableJson.fields.map((f: { column: string }) => f.column);
      expect(shape).to.deep.equal(['id', ...liveColumns].sort());
      for (const app of apps) {
        expect((await app.request('GET', `/tables/${tableId}`)).body).to.deep.equal(tableJson);
        // Notifications arrive within milliseconds of a commit; allow one second.
        await eventually(
          `instance ${app.ctx.instanceId} serves the final row shape`,
          async () => {
            const got = await app.request('GET', `/tables/${tableId}/rows/${row.body.id}`);
            return JSON.stringify(Object.keys(got.body).sort()) === JSON.stringify(shape);
          },
          1000,
        );
        expect((await app.ctx.models!.get(tableId)).version).to.equal(version);
      }

      // Informative, for the report: how the refusals split.
      const split: Record<string, number> = {};
      for (const r of refusals) split[r.code!] = (split[r.code!] ?? 0) + 1;
      console.log(`      ${n} instances: ${successes.length} changes committed, ${refusals.length} refused ${JSON.stringify(split)}`);
    });
  });
}
