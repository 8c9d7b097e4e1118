// Megabyte values built to make a backtracking parser take quadratic time (a 100 KB
// number once blocked /healthz for 12 s), for every field type, every filter operator
// and a CSV import. Each value must be answered (stored, or refused with a 4xx) in a
// time linear parsing easily makes: BOUND_MS is generous for a busy 2-CPU machine and
// far below what one quadratic pass over a megabyte costs (seconds to minutes). When the
// machine is so busy that a time passes BOUND_MS, it is compared instead with a benign
// megabyte's time measured at that moment (the same linear work): quadratic parsing is
// thousands of times slower than that, a busy machine only a little.
import { expect } from 'chai';
import { FIELD_TYPES, FILTER_OPS, type FieldTypeName } from '../../server/fields/types.js';
import { Params, parseFilters } from '../../server/model/query.js';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';

const MB = 1_000_000;
const BOUND_MS = 1_500;
const BUSY_FACTOR = 5;

/** Hostile values of about `size` characters, by what they attack. */
function hostile(size: number): Record<string, string> {
  const half = Math.floor(size / 2);
  return {
    'digits then a letter': `${'1'.repeat(size)}x`,
    'digits, point, digits, letter': `${'1'.repeat(half)}.${'1'.repeat(half)}x`,
    'zeros after the point then a one': `0.${'0'.repeat(size)}1`,
    'zeros after the point then a letter': `0.${'0'.repeat(size)}x`,
    'a long exponent': `1e${'9'.repeat(size)}`,
    'spaces around a letter': `${' '.repeat(half)}x${' '.repeat(half)}`,
    'spaces then a letter': `${' '.repeat(size)}x`,
    'spaces then three letters and a digit': `${' '.repeat(size)}abc1`,
    'spaces, a digit, spaces, a letter': `${' '.repeat(half)}1${' '.repeat(half)}x`,
    'dotted email domain': `a@${'a.'.repeat(half)}@`,
    'date then spaces': `2024-01-01T00:00:00${' '.repeat(size)}x`,
    'deep JSON': '['.repeat(size),
    'JSON string of quotes and backslashes': `"${'\\"'.repeat(half)}`,
    commas: ','.repeat(size),
    'colons and digits': '1:'.repeat(half),
    'plus signs and digits': '+1 '.repeat(Math.floor(size / 3)),
  };
}

// A megabyte, and just under the length caps that guard some parsers (1,000 to 1,100
// characters): a cap only helps when what runs below it is linear too.
const HOSTILE: Record<string, string> = {
  ...hostile(MB),
  ...Object.fromEntries(Object.entries(hostile(1_090)).map(([what, v]) => [`${what} (under a length cap)`, v])),
};

/** Every type that takes a value of its own: a lookup or rollup only reads a linked table's
 * values (its filters are tested in test/links/lookup_rollup.test.ts). */
const TYPES = FIELD_TYPES.filter((t) => t !== 'lookup' && t !== 'rollup');

const OPTIONS: Partial<Record<FieldTypeName, Record<string, unknown>>> = {
  number: { decimals: 2 },
  single_select: { choices: [{ label: 'Red' }, { label: 'Green' }] },
  multiple_select: { choices: [{ label: 'Red' }, { label: 'Green' }] },
  formula: { expression: "'x'" },
};

describe('hostile megabyte values: linear-time parsing for every field type and filter operator', function () {
  this.timeout(600_000);
  let db: TestDatabase;
  let app: TestApp;
  let tableId: number;
  useApp((s) => ({ db, app } = s));
  before(async () => {
    const target = await app.request('POST', '/tables', { json: { name: 'Target', fields: [{ name: 'Name', type: 'text' }] } });
    const t = await app.request('POST', '/tables', {
      json: { name: 'Hostile', fields: TYPES.map((type) => ({ name: type, column: type, type, options: type === 'link' ? { table_id: target.body.id } : OPTIONS[type] ?? {} })) },
    });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id;
  });

  async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
    const start = performance.now();
    const value = await fn();
    return { ms: performance.now() - start, value };
  }

  /** Fails when `ms` is over BOUND_MS and also over BUSY_FACTOR times a benign megabyte's time now. */
  async function expectLinear(ms: number, what: string, benign: () => Promise<unknown> | unknown): Promise<void> {
    if (ms < BOUND_MS) return;
    const reference = (await timed(benign)).ms;
    expect(ms, `${what}: ${Math.round(ms)} ms, a benign megabyte took ${Math.round(reference)} ms just now`).to.be.below(Math.max(BOUND_MS, BUSY_FACTOR * reference));
  }
  const benignRow = () => app.request('POST', `/tables/${tableId}/rows`, { json: { long_text: 'a'.repeat(MB) } });

  for (const type of TYPES) {
    it(`${type}: each hostile value is stored or refused with a 4xx within ${BOUND_MS} ms, and /healthz stays fast`, async () => {
      for (const [what, value] of Object.entries(HOSTILE)) {
        const health = (async () => {
          await new Promise((r) => setTimeout(r, 5));
          return timed(() => app.request('GET', '/healthz', { auth: false }));
        })();
        const { ms, value: res } = await timed(() => app.request('POST', `/tables/${tableId}/rows`, { json: { [type]: value } }));
        expect(res.status, `${type}, ${what}: ${res.text.slice(0, 200)}`).to.be.oneOf([201, 400, 413, 422]);
        await expectLinear(ms, `${type}, ${what}`, benignRow);
        await expectLinear((await health).ms, `/healthz during ${type}, ${what}`, benignRow);
      }
    });
  }

  it(`every filter operator of every field type turns each hostile value into SQL (or a 400) within ${BOUND_MS} ms`, async () => {
    // A query string cannot carry a megabyte (Node refuses headers past 16 KB), so the
    // parsing the route does is timed here, on the app's own compiled model.
    const model = await app.ctx.models!.get(tableId);
    for (const type of TYPES) {
      for (const op of FILTER_OPS) {
        for (const [what, value] of Object.entries(HOSTILE)) {
          const { ms } = await timed(() => {
            try {
              parseFilters(model, { [type]: { [op]: value } }, new Params());
            } catch (err) {
              expect((err as { status?: number }).status, `${type} ${op}, ${what}: ${(err as Error).message}`).to.equal(400);
            }
          });
          await expectLinear(ms, `${type} ${op}, ${what}`, () => {
            try {
              parseFilters(model, { [type]: { [op]: 'a'.repeat(value.length) } }, new Params());
            } catch {
              // Refused or not, the benign value's time is the reference.
            }
          });
        }
      }
    }
  });

  it('filters with the longest value a URL can carry answer 200 or 400 quickly, over HTTP', async () => {
    for (const type of TYPES) {
      for (const op of FILTER_OPS) {
        const value = `${'1'.repeat(12_000)}x`;
        const { ms, value: res } = await timed(() => app.request('GET', `/tables/${tableId}/rows?filter[${type}][${op}]=${value}`));
        expect(res.status, `${type} ${op}: ${res.text.slice(0, 200)}`).to.be.oneOf([200, 400]);
        await expectLinear(ms, `${type} ${op}`, () => app.request('GET', `/tables/${tableId}/rows?filter[text][contains]=${'a'.repeat(12_000)}`));
      }
    }
  });

  it(`a CSV import with a megabyte number cell is refused with 422 within ${BOUND_MS} ms`, async () => {
    for (const what of ['digits then a letter', 'zeros after the point then a letter', 'spaces then three letters and a digit (under a length cap)']) {
      const csv = `number\n${HOSTILE[what]}\n`;
      const { ms, value: res } = await timed(() => app.request('POST', `/tables/${tableId}/rows/import`, { body: csv, headers: { 'Content-Type': 'text/csv' } }));
      expect(res.status, res.text.slice(0, 200)).to.equal(422);
      await expectLinear(ms, what, () => app.request('POST', `/tables/${tableId}/rows/import`, { body: `long_text\n${'a'.repeat(MB)}\n`, headers: { 'Content-Type': 'text/csv' } }));
    }
  });
});
