// The import's cell encoder (server/import/cells.ts) against the field types' own parsers,
// by property: for any cell, the fast paths (values already in stored form, remembered
// answers) give exactly the COPY text the parser's value gives, or the same refusal.
import { expect } from 'chai';
import fc from 'fast-check';
import { fieldType, parseOptions } from '../../server/fields/registry.js';
import type { ModelField } from '../../server/model/compile.js';
import { cellEncoder, slowEncode } from '../../server/import/cells.js';

function fieldOf(type: string, options: Record<string, unknown>): ModelField {
  const def = fieldType(type);
  return { meta: { type, name: type }, type: def, options: parseOptions(def, options) } as unknown as ModelField;
}

const outcome = (fn: () => string) => {
  try {
    return { ok: fn() };
  } catch (err) {
    return { error: (err as Error).message };
  }
};

const digits = fc.string({ unit: fc.constantFrom('0', '1', '5', '9'), minLength: 1, maxLength: 24 });
const numberish = fc.oneof(
  fc.tuple(fc.constantFrom('', '-', '+', ' '), digits, fc.constantFrom('', '.'), fc.string({ unit: fc.constantFrom('0', '3', '7'), maxLength: 14 }), fc.constantFrom('', ' ', 'e2', 'x')).map((p) => p.join('')),
  fc.double({ noNaN: true }).map(String),
  fc.bigInt().map(String),
);
const two = (a: number, b: number) => fc.integer({ min: a, max: b }).map((n) => String(n).padStart(2, '0'));
const dateish = fc.tuple(fc.integer({ min: 0, max: 10999 }).map((y) => String(y).padStart(4, '0')), two(0, 13), two(0, 32)).map(([y, m, d]) => `${y}-${m}-${d}`);
const datetimeish = fc
  .tuple(dateish, fc.constantFrom('T', ' ', 't'), two(0, 25), two(0, 61), two(0, 61), fc.constantFrom('', '.1', '.123456', '.1234567', '.'), fc.constantFrom('Z', 'z', '', '+01:00', 'ZZ'))
  .map(([d, t, h, mi, s, f, z]) => `${d}${t}${h}:${mi}:${s}${f}${z}`);

describe('the import cell encoder', () => {
  const cases: Array<[string, Record<string, unknown>, fc.Arbitrary<string>]> = [
    ['number', {}, numberish],
    ['number', { decimals: 2 }, numberish],
    ['number', { decimals: 8 }, numberish],
    ['number', { any_precision: true }, numberish],
    ['date', {}, dateish],
    ['datetime', {}, datetimeish],
    ['boolean', {}, fc.constantFrom('true', 'FALSE', 'yes', 'n', '1', '0', ' t ', 'maybe', '')],
    ['text', {}, fc.string({ unit: fc.constantFrom('a', '\\', '\t', '\n', '\0', '\ud800', 'é') })],
    ['long_text', { max_length: 4 }, fc.string({ unit: fc.constantFrom('a', '\\', '\r', '\n', '\0', '\udc00', 'é') })],
  ];
  for (const [type, options, arb] of cases) {
    it(`${type} ${JSON.stringify(options)}: the same COPY text or the same refusal as the parser, asked once or many times`, () => {
      const f = fieldOf(type, options);
      const parse = (cell: string) => f.type.parse(cell, f.options);
      const enc = cellEncoder(f, parse, true);
      fc.assert(
        fc.property(fc.array(arb.filter((s) => s !== ''), { minLength: 1, maxLength: 30 }), (cells) => {
          // each cell twice: the second answer may come from the memo
          for (const cell of [...cells, ...cells]) expect(outcome(() => enc(cell)), JSON.stringify(cell)).to.deep.equal(outcome(() => slowEncode(f, parse, cell)));
        }),
        { numRuns: 300 },
      );
    });
  }
});
