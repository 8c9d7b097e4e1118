// npm run bench -- import_infer: type inference on a 1,000,000-row sample of a generated
// 12-column CSV (parse + infer, and infer alone), and the time from upload to the answer
// of POST /tables/import?dry_run=1 for a ~100 MB file (the server reads a sample, not the
// file). BENCH_INFER_ROWS and BENCH_DRY_RUN_MB make them smaller.
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { choicesFor, inferColumn } from '../../server/import/infer.js';
import { samplesOf } from '../../server/import/infer_plan.js';
import { csvRuns, readSample } from '../../server/import/records.js';
import { startApp } from '../helpers/app.js';
import { printTable, summarise, type Figure } from './lib.js';

const ROWS = Number(process.env.BENCH_INFER_ROWS ?? 1_000_000);
const DRY_RUN_MB = Number(process.env.BENCH_DRY_RUN_MB ?? 100);

const HEADER = 'id,name,zip,price,ratio,active,born,seen,email,status,meta,notes';
function line(i: number): string {
  return [
    i,
    `Person ${i}`,
    String(i % 100000).padStart(5, '0'),
    `${i % 5000}.${i % 100}`,
    (i % 7) / 8,
    i % 2 ? 'yes' : 'no',
    `19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 10}`,
    `2024-03-01T10:${String(i % 60).padStart(2, '0')}:00Z`,
    `p${i}@example.com`,
    ['open', 'closed', 'held', 'gone'][i % 4],
    `"{""i"": ${i}}"`,
    i % 10 ? 'short note' : '"a note, with a comma\nand a line break"',
  ].join(',');
}

function* csvChunks(rows: number): Generator<string> {
  yield `${HEADER}\n`;
  let buf: string[] = [];
  for (let i = 1; i <= rows; i++) {
    buf.push(line(i));
    if (buf.length === 5000) {
      yield `${buf.join('\n')}\n`;
      buf = [];
    }
  }
  if (buf.length) yield `${buf.join('\n')}\n`;
}

export async function benchImportInfer(url: string): Promise<void> {
  const figures: Figure[] = [];
  // 1. parse + infer a sample of ROWS records
  const mem0 = process.memoryUsage().rss;
  let t0 = performance.now();
  const sample = await readSample(csvRuns(Readable.from(csvChunks(ROWS))), ROWS);
  const parsed = performance.now() - t0;
  t0 = performance.now();
  const samples = samplesOf(sample.header, sample.rows);
  const guesses = samples.map((s) => inferColumn(s));
  const inferMs = performance.now() - t0;
  t0 = performance.now();
  for (const s of samples) choicesFor(s);
  const pickerMs = performance.now() - t0;
  const types = guesses.map((g, i) => `${sample.header[i]}:${g.type}`).join(' ');
  figures.push(summarise(`parse ${ROWS.toLocaleString('en')} CSV rows (12 columns)`, 'sample', [parsed], { 'rows/s': Math.round(ROWS / (parsed / 1000)).toLocaleString('en') }));
  figures.push(summarise(`infer 12 columns from ${ROWS.toLocaleString('en')} rows`, 'sample', [inferMs], { 'rows/s': Math.round(ROWS / (inferMs / 1000)).toLocaleString('en') }));
  figures.push(summarise(`misfits of all 10 types per column (the picker)`, 'sample', [pickerMs]));
  const rssMb = ((process.memoryUsage().rss - mem0) / 1024 / 1024).toFixed(0);
  sample.rows.length = 0;

  // 2. dry run of a ~DRY_RUN_MB file over HTTP
  const app = await startApp(url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off', IMPORT_MAX_BYTES: String((DRY_RUN_MB + 20) * 1024 * 1024) }, 'bench');
  try {
    const rowsFor = Math.round((DRY_RUN_MB * 1024 * 1024) / (Buffer.byteLength(line(500000)) + 1));
    const file = Buffer.from([...csvChunks(rowsFor)].join(''));
    const mb = (file.length / 1024 / 1024).toFixed(1);
    const times: number[] = [];
    let fields = '';
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const res = await fetch(new URL('/tables/import?dry_run=1&name=Bench', app.url), {
        method: 'POST',
        headers: { Authorization: `Bearer ${app.adminToken}`, Accept: 'application/json', 'Content-Type': 'text/csv' },
        body: file,
      });
      const body = (await res.json()) as { fields: Array<{ column: string; type: string }> };
      times.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`dry run answered ${res.status}: ${JSON.stringify(body)}`);
      fields = body.fields.map((f) => `${f.column}:${f.type}`).join(' ');
    }
    figures.push(summarise(`dry_run of a ${mb} MB file (${rowsFor.toLocaleString('en')} rows), upload to answer`, 'request', times));
    printTable('Import a new table: inference', figures);
    process.stdout.write(`inferred from the ${ROWS.toLocaleString('en')}-row sample: ${types}\n(sample held in memory: about ${rssMb} MB more RSS)\ndry run answered: ${fields}\n`);
  } finally {
    await app.stop();
  }
}
