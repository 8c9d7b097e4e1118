// Shared steps for the reconcile tests: read the report, apply an action, make tables.
import { expect } from 'chai';
import { compareSnapshot } from '../../server/introspect/drift.js';
import { takeSnapshot } from '../../server/introspect/snapshot.js';
import type { TestApp } from '../helpers/app.js';

/** Settings for an app whose drift summary and cleanup do not run on their own. */
export const QUIET = { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' };

export interface Item {
  id: string;
  kind: string;
  message: string;
  table?: { id?: number; schema: string; table_name: string };
  field?: { id: number; name: string; column: string };
  column?: { name: string; attnum: number; type: string };
  expected?: Record<string, unknown>;
  actual?: Record<string, unknown>;
  actions: Array<{ name: string }>;
}

export async function report(app: TestApp): Promise<{ clean: boolean; items: Item[]; ignored: Item[]; counts: Record<string, number> }> {
  const res = await app.request('GET', '/reconcile');
  expect(res.status, res.text).to.equal(200);
  await crossCheck(app);
  return res.body;
}

/**
 * The first pass in the database (drift_candidates.sql) may skip tables it proves clean:
 * the report must be exactly the one a full comparison of every table gives.
 */
export async function crossCheck(app: TestApp): Promise<void> {
  const { pool, config } = app.ctx;
  const schemas = { data: config.dataSchema, trash: config.trashSchema };
  const opts = { columnSlotWarning: config.columnSlotWarning };
  const fast = compareSnapshot(await takeSnapshot(pool, schemas, opts), opts);
  const full = compareSnapshot(await takeSnapshot(pool, schemas, { ...opts, full: true }), opts);
  const ids = (r: typeof fast) => [...r.items, ...r.ignored].map((i) => i.id).sort();
  expect(ids(fast), 'the first pass hides no drift').to.deep.equal(ids(full));
}

export async function expectClean(app: TestApp, why = 'a second reconcile is clean'): Promise<void> {
  const r = await report(app);
  expect(r.items, `${why}: ${JSON.stringify(r.items.map((i) => i.id))}`).to.deep.equal([]);
  expect(r.clean).to.equal(true);
}

/** The one item of this kind the report has (fails when there are others or none). */
export async function onlyItem(app: TestApp, kind: string): Promise<Item> {
  const r = await report(app);
  expect(r.items.map((i) => i.kind), JSON.stringify(r.items, null, 1)).to.deep.equal([kind]);
  return r.items[0]!;
}

export async function act(app: TestApp, item: string, action: string, extra: Record<string, unknown> = {}, status = 200) {
  const res = await app.request('POST', '/reconcile/actions', { json: { item, action, ...extra } });
  expect(res.status, res.text).to.equal(status);
  return res.body;
}

export async function createTable(app: TestApp, name: string, fields: Array<Record<string, unknown>>): Promise<{ id: number; table_name: string; fields: Array<{ id: number; column: string; name: string }> }> {
  const res = await app.request('POST', '/tables', { json: { name, fields } });
  expect(res.status, res.text).to.equal(201);
  return res.body;
}
