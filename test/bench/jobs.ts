// Issue 7's long work as jobs, end to end over HTTP on one instance: a CSV import of
// 200,000 rows (the upload kept in PostgreSQL, then imported by the job) against the same
// file imported within its request, and a rebuild of a 200,000-row table, each with how
// often its progress moved while a client polled GET /jobs/:id.
import { performance } from 'node:perf_hooks';
import { startApp, type TestApp } from '../helpers/app.js';
import { printTable, summarise, type Figure } from './lib.js';

const ROWS = 200_000;

function csvFile(rows: number): string {
  const lines = ['name,qty,note'];
  for (let i = 1; i <= rows; i++) lines.push(`item ${i},${i},"a note, with a comma, for row ${i}"`);
  return `${lines.join('\n')}\n`;
}

/** Polls the job every 50 ms until it ends; returns the distinct `done` values seen. */
async function follow(app: TestApp, id: number): Promise<{ job: any; steps: number }> {
  const seen = new Set<number>();
  for (;;) {
    const { body } = await app.request('GET', `/jobs/${id}`);
    if (body.status === 'running') seen.add(body.done);
    if (body.status === 'done') return { job: body, steps: seen.size };
    if (body.status === 'failed') throw new Error(`job ${id} failed: ${JSON.stringify(body.error)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function benchJobs(url: string): Promise<void> {
  const app = await startApp(url, { JOB_POLL_MS: '50', COLUMN_SLOT_WARNING: '20', DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off', IMPORT_MAX_BYTES: String(200 * 1024 * 1024) }, 'bench');
  const figures: Figure[] = [];
  try {
    const file = csvFile(ROWS);
    const mb = Buffer.byteLength(file) / 1024 / 1024;
    const post = async (tableId: number, async: string) => {
      const t0 = performance.now();
      const res = await fetch(new URL(`/tables/${tableId}/rows/import?async=${async}`, app.url), {
        method: 'POST',
        headers: { Authorization: `Bearer ${app.adminToken}`, Accept: 'application/json', 'Content-Type': 'text/csv' },
        body: file,
      });
      const body = await res.json();
      if (res.status >= 300) throw new Error(`import answered ${res.status}: ${JSON.stringify(body)}`);
      return { body, ms: performance.now() - t0 };
    };
    const table = async (name: string) =>
      (await app.request('POST', '/tables', { json: { name, fields: [{ name: 'Name', type: 'text' }, { name: 'Qty', type: 'number' }, { name: 'Note', type: 'long_text' }] } })).body.id as number;

    const inRequest = await post(await table('Imported now'), '0');
    figures.push(summarise(`CSV import within the request, ${ROWS.toLocaleString('en')} rows (${mb.toFixed(1)} MB)`, 'import', [inRequest.ms], { 'rows/s': Math.round(ROWS / (inRequest.ms / 1000)).toLocaleString('en') }));

    const queued = await post(await table('Imported by a job'), '1');
    const t0 = performance.now() - queued.ms;
    const { job, steps } = await follow(app, queued.body.id);
    const total = performance.now() - t0;
    figures.push(summarise('  the same file as a job: upload stored, 202', 'request', [queued.ms], { 'MB/s': (mb / (queued.ms / 1000)).toFixed(1) }));
    figures.push(summarise('  the same file as a job: 202 to done', 'job', [total - queued.ms], { 'rows/s': Math.round(ROWS / ((total - queued.ms) / 1000)).toLocaleString('en'), 'progress steps seen': String(steps), imported: String(job.result.imported) }));

    const wornId = await table('Worn');
    const { rows: meta } = await app.ctx.pool.query<{ table_name: string }>(`SELECT table_name FROM tablewright.tables WHERE id = $1`, [wornId]);
    const rel = `data.${meta[0]!.table_name}`;
    await app.ctx.pool.query(`INSERT INTO ${rel} (name, qty, note) SELECT 'row ' || g, g, repeat('x', 40) FROM generate_series(1, $1) g`, [ROWS]);
    await app.ctx.pool.query(`DO $$ BEGIN FOR i IN 1..30 LOOP EXECUTE format('ALTER TABLE ${rel} ADD COLUMN tmp%s int', i); EXECUTE format('ALTER TABLE ${rel} DROP COLUMN tmp%s', i); END LOOP; END $$`);
    await app.ctx.pool.query(`VACUUM ANALYZE ${rel}`);
    const report = (await app.request('GET', '/reconcile')).body;
    const item = report.items.find((i: { kind: string; table?: { id: number } }) => i.kind === 'column_limit' && i.table?.id === wornId);
    const r0 = performance.now();
    const res = await app.request('POST', '/reconcile/actions', { json: { item: item.id, action: 'rebuild', async: '1' } });
    if (res.status !== 202) throw new Error(`rebuild answered ${res.status}: ${res.text}`);
    const rebuilt = await follow(app, res.body.id);
    const rebuildMs = performance.now() - r0;
    figures.push(
      summarise(`rebuild a table as a job, ${ROWS.toLocaleString('en')} rows, 30 dropped columns`, 'job', [rebuildMs], {
        'rows/s': Math.round(ROWS / (rebuildMs / 1000)).toLocaleString('en'),
        'progress steps seen': String(rebuilt.steps),
        freed: String(rebuilt.job.result.freed),
      }),
    );
    printTable('Long work as jobs (one instance, over HTTP; one sample each)', figures);
  } finally {
    await app.stop();
  }
}
