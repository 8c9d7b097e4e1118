// An online change's request is checked before its job is queued: what the job would only
// refuse later (a hostile review found 202 then a job failed at once with a 400) is a 400
// naming the input, and nothing is begun.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { Sql } from '../helpers/sql.js';
import { createTable, QUIET } from '../introspect/lib.js';

describe('online change: the request checked before its job', function () {
  this.timeout(60_000);
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ app, sql } = s), { ...QUIET, JOB_POLL_MS: '50' });

  it('confirm_loss not a yes/no, a type not a name, a link to no table or to a trashed one, batch_pages out of range or not a number: 400 naming it; a type no field converts to: 422; no change begun', async () => {
    const gone = await createTable(app, 'Gone', [{ name: 'Name', type: 'text' }]);
    expect((await app.request('DELETE', `/tables/${gone.id}`)).status).to.be.oneOf([200, 204]);
    const t = await createTable(app, 'Checked', [{ name: 'Amount', type: 'number' }]);
    await sql.exec(`INSERT INTO data.checked (amount) SELECT g FROM generate_series(1, 100) g`);
    const fid = t.fields[0]!.id;
    const cases: Array<[Record<string, unknown>, string, number?]> = [
      [{ type: 'text', confirm_loss: 'maybe' }, 'confirm_loss'],
      [{ type: 'text', confirm_loss: [] }, 'confirm_loss'],
      [{ type: ['text'] }, 'type'],
      [{ type: 'link', options: { table_id: 999999 } }, 'options.table_id'],
      [{ type: 'link', options: { table_id: gone.id } }, 'options.table_id'],
      [{ type: 'text', batch_pages: 0 }, 'batch_pages'],
      [{ type: 'text', batch_pages: 'x' }, 'batch_pages'],
      [{ type: 'text', batch_pages: true }, 'batch_pages'],
      [{ type: 'text', batch_pages: [5] }, 'batch_pages'],
      [{ type: 'autonumber' }, 'type', 422],
      [{ type: 'created_at' }, 'type', 422],
    ];
    for (const [body, field, status = 400] of cases) {
      const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { ...body, online: 1 } });
      expect([res.status, res.body.error?.field], `${JSON.stringify(body)}: ${res.text}`).to.deep.equal([status, field]);
    }
    expect(await sql.rows(`SELECT id FROM tablewright.online_changes`), 'no change begun').to.deep.equal([]);
    expect(await sql.rows(`SELECT id FROM tablewright.jobs WHERE kind = 'online_change'`), 'no job queued').to.deep.equal([]);
  });

  it('a field a formula computed at read time uses: 409 used_by_formula naming the formula at once, no job (it answered 202, then the job failed at its first step)', async () => {
    const t = await createTable(app, 'Dated', [{ name: 'Due', type: 'date' }]);
    await sql.exec(`INSERT INTO data.dated (due) SELECT date '2026-01-01' + g FROM generate_series(1, 100) g`);
    const formula = await app.request('POST', `/tables/${t.id}/fields`, { json: { name: 'Left', type: 'formula', options: { expression: 'date_diff(today(), {Due})' } } });
    expect(formula.status, formula.text).to.equal(201);
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { type: 'text', online: 1 } });
    expect([res.status, res.body.error?.code, res.body.error?.field], res.text).to.deep.equal([409, 'used_by_formula', 'type']);
    expect(res.body.error.message).to.contain('"Left"');
    expect(await sql.rows(`SELECT id FROM tablewright.online_changes`), 'no change begun').to.deep.equal([]);
    // options a select made from the values does not read (a client sending back the field's
    // options): queued as before, not a 400 from the check (a hostile review's finding)
    const other = await createTable(app, 'Labels', [{ name: 'Label', type: 'text' }]);
    await sql.exec(`INSERT INTO data.labels (label) SELECT 'l' || (g % 3) FROM generate_series(1, 100) g`);
    const select = await app.request('PATCH', `/tables/${other.id}/fields/${other.fields[0]!.id}`, { json: { type: 'single_select', options: { max_length: 100 }, online: 1 } });
    expect(select.status, select.text).to.equal(202);
    // a change of the field's options that keeps its column type is not refused for it
    const kept = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { name: 'Due on' } });
    expect(kept.status, kept.text).to.equal(200);
  });
});
