// Shared steps of the backup and restore tests: a small but complete data set made
// through the API (a live table with a select, a date, decimals and a link; a trashed
// field; a column dropped by hand, so attnums have a gap; a trashed table), and checks
// of what must hold after a restore.
import { expect } from 'chai';
import type { TestApp } from '../helpers/app.js';
import type { Sql } from '../helpers/sql.js';
import { act, createTable, report } from '../introspect/lib.js';

export interface DataSet {
  zebra: { id: number; table_name: string };
  apple: { id: number; table_name: string; status: number; link: number };
  old: { id: number };
}

export async function makeDataSet(app: TestApp, sql: Sql): Promise<DataSet> {
  // created in the opposite order of their names: a dump restores them alphabetically
  const zebra = await createTable(app, 'Zebra', [{ name: 'Label', type: 'text' }, { name: 'Temp', type: 'text' }, { name: 'Size', type: 'number' }]);
  const apple = await createTable(app, 'Apple', [
    { name: 'Status', type: 'single_select', options: { choices: [{ label: 'Open' }, { label: 'Done' }] } },
    { name: 'Due', type: 'date' },
    { name: 'Price', type: 'number', options: { decimals: 2 } },
    { name: 'Zebra', type: 'link', options: { table_id: zebra.id } },
    { name: 'Gone soon', type: 'text' },
  ]);
  const old = await createTable(app, 'Old things', [{ name: 'Note', type: 'text' }]);
  // a column dropped by hand and forgotten: Zebra's attnums have a gap a dump closes
  const temp = zebra.fields.find((f) => f.name === 'Temp')!;
  await sql.exec(`ALTER TABLE data.zebra DROP COLUMN temp`);
  await act(app, `missing_column:f${temp.id}`, 'forget');
  const z = await app.request('POST', `/tables/${zebra.id}/rows`, { json: { label: 'zed', size: 7 } });
  expect(z.status, z.text).to.equal(201);
  const a = await app.request('POST', `/tables/${apple.id}/rows`, { json: { status: 'Done', due: '2024-02-29', price: '12.50', zebra: z.body.id, gone_soon: 'x' } });
  expect(a.status, a.text).to.equal(201);
  await app.request('POST', `/tables/${old.id}/rows`, { json: { note: 'kept in the trash' } });
  const gone = apple.fields.find((f) => f.name === 'Gone soon')!;
  expect((await app.request('DELETE', `/tables/${apple.id}/fields/${gone.id}`)).status).to.equal(200);
  expect((await app.request('DELETE', `/tables/${old.id}`)).status).to.equal(200);
  return {
    zebra: { id: zebra.id, table_name: zebra.table_name },
    apple: { id: apple.id, table_name: apple.table_name, status: apple.fields[0]!.id, link: apple.fields[3]!.id },
    old: { id: old.id },
  };
}

/** The report after a restore: one item, "restored: N tables to re-identify", with one safe action. */
export async function expectRestoredReport(app: TestApp, tables: number): Promise<void> {
  const r = await report(app);
  expect(r.items.map((i) => i.kind), JSON.stringify(r.items, null, 1)).to.deep.equal(['database_restored']);
  const item = r.items[0]!;
  expect(item.message).to.match(new RegExp(`this database was restored .*: ${tables} tables? to re-identify`, 'i'));
  expect(item.actions.map((a) => a.name)).to.deep.equal(['reidentify']);
  expect(r.items.flatMap((i) => i.actions).some((a) => (a as { destructive?: boolean }).destructive), 'no destructive action').to.equal(false);
}

/** After `reidentify`: a clean report, the rows as they were, and schema changes work on every table. */
export async function expectWorking(app: TestApp, set: DataSet): Promise<void> {
  await act(app, 'database_restored', 'reidentify');
  const r = await report(app);
  expect(r.items.map((i) => i.id), 'clean after the one action').to.deep.equal([]);
  const rows = (await app.request('GET', `/tables/${set.apple.id}/rows`)).body.rows;
  expect(rows).to.have.length(1);
  expect(rows[0].due).to.equal('2024-02-29');
  expect(Number(rows[0].price)).to.equal(12.5);
  expect(JSON.stringify(rows[0].status)).to.include('Done');
  for (const id of [set.zebra.id, set.apple.id]) {
    const added = await app.request('POST', `/tables/${id}/fields`, { json: { name: 'After restore', type: 'text' } });
    expect(added.status, added.text).to.equal(201);
  }
  // the trashed table comes back from the trash, identity refreshed
  const restored = await app.request('POST', `/tables/${set.old.id}/restore`, { json: {} });
  expect(restored.status, restored.text).to.equal(200);
  const back = await app.request('POST', `/tables/${set.old.id}/fields`, { json: { name: 'Also after', type: 'text' } });
  expect(back.status, back.text).to.equal(201);
  expect((await app.request('GET', `/tables/${set.old.id}/rows`)).body.rows.map((x: { note: string }) => x.note)).to.deep.equal(['kept in the trash']);
  const clean = await report(app);
  expect(clean.items.map((i) => i.id), 'still clean after those changes').to.deep.equal([]);
}
