// Type inference by property: generated columns of each type, edge cases included, get
// the type whose parser takes every value and stores it as the file says (fast-check).
import { expect } from 'chai';
import fc from 'fast-check';
import pg from 'pg';
import { fieldType, parseOptions } from '../../server/fields/registry.js';
import { anyPrecisionSupported, ColumnSample, inferColumn, choicesFor, MAX_DISTINCT } from '../../server/import/infer.js';
import { namesFor } from '../../server/import/infer_names.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

const sampleOf = (values: Array<string | null>) => {
  const s = new ColumnSample();
  for (const v of values) s.add(v);
  return s;
};
const withBlanks = (arb: fc.Arbitrary<string>) => fc.array(fc.oneof({ weight: 6, arbitrary: arb }, { weight: 1, arbitrary: fc.constantFrom('', null) as fc.Arbitrary<string> }), { minLength: 1, maxLength: 80 }).filter((vs) => vs.filter((v) => v).length >= 5);

/** Every non-empty value parses with the guessed type and options (what the import then does). */
function parsesAll(values: Array<string | null>, type: string, options: unknown) {
  const def = fieldType(type);
  const opts = parseOptions(def, options);
  for (const v of values) if (v) def.parse(v, opts);
}

const isoDate = fc.date({ min: new Date(Date.UTC(1, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)).filter((d) => /^\d{4}-/.test(d));
const isoDateTime = fc.date({ min: new Date(Date.UTC(1000, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true }).map((d) => d.toISOString()).filter((d) => /^\d{4}-/.test(d));

describe('type inference (property)', () => {
  it('whole numbers (bigint range, negatives) are number with 0 decimals', () => {
    fc.assert(fc.property(withBlanks(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String)), (vs) => {
      const distinct = new Set(vs.filter(Boolean).map((v) => v!.toLowerCase()));
      fc.pre(![...distinct].every((v) => v === '0' || v === '1'));
      const g = inferColumn(sampleOf(vs));
      expect(g.type).to.equal('number');
      expect(g.options).to.deep.equal({ decimals: 0 });
      parsesAll(vs, g.type, g.options);
    }));
  });

  it('decimals: the decimals the data needs (up to 10); more, or past numeric(30), needs any precision', () => {
    fc.assert(fc.property(withBlanks(fc.tuple(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), fc.integer({ min: 1, max: 14 }), fc.nat()).map(([w, d, f]) => `${w}.${String(f).padStart(d, '0').slice(0, d).replace(/0$/, '1')}`)), (vs) => {
      const need = Math.max(...vs.filter(Boolean).map((v) => v!.split('.')[1]!.length));
      const g = inferColumn(sampleOf(vs));
      if (need <= 10) {
        expect(g.type).to.equal('number');
        expect(g.options).to.deep.equal({ decimals: need });
        parsesAll(vs, g.type, g.options);
      } else if (anyPrecisionSupported()) {
        expect(g).to.deep.include({ type: 'number', options: { any_precision: true } });
        parsesAll(vs, g.type, g.options);
      } else {
        expect(g.type, 'kept as text, every digit').to.equal('text');
        expect(g.note).to.match(/any precision/);
      }
    }));
    const g = inferColumn(sampleOf(['0.016666666666666666', '0.5', '1']));
    expect(g.note).to.match(/18 decimal places/);
    expect(anyPrecisionSupported(), 'the number type has any_precision').to.equal(true);
    expect(g).to.deep.include({ type: 'number', options: { any_precision: true } });
    const huge = inferColumn(sampleOf(['123456789012345678901234567890123', '1', '2']));
    expect(huge.note).to.match(/any precision/);
  });

  it('leading zeros (zip codes), +signs and exponents stay text: a number field would change them', () => {
    fc.assert(fc.property(withBlanks(fc.integer({ min: 0, max: 99999 }).map((n) => String(n).padStart(5, '0'))), (vs) => {
      fc.pre(vs.some((v) => v && v.startsWith('0')));
      expect(['text', 'single_select']).to.include(inferColumn(sampleOf(vs)).type);
    }));
    expect(inferColumn(sampleOf(['+5', '6', '7', '8', '9'])).type).to.equal('text');
    expect(inferColumn(sampleOf(['1e3', '2', '3', '4', '5'])).type).to.equal('text');
  });

  it('booleans: words in any case; a column of 1 and 0 (both) is boolean, less surely; only 1s is a number', () => {
    const words = fc.constantFrom('true', 'false', 'TRUE', 'False', 'yes', 'no', 'Yes', 'NO');
    fc.assert(fc.property(withBlanks(words), (vs) => {
      const g = inferColumn(sampleOf(vs));
      expect(g.type).to.equal('boolean');
      parsesAll(vs, 'boolean', {});
    }));
    const bits = inferColumn(sampleOf(['1', '0', '1', '1', '0']));
    expect(bits.type).to.equal('boolean');
    expect(bits.confidence).to.be.below(0.8);
    expect(inferColumn(sampleOf(['1', '1', '1', '1', '1'])).type).to.equal('number');
  });

  it('ISO dates are date, ISO datetimes are datetime, a mix of both is datetime, other formats text', () => {
    fc.assert(fc.property(withBlanks(isoDate), (vs) => {
      fc.pre(new Set(vs.filter(Boolean)).size > 3);
      expect(inferColumn(sampleOf(vs)).type).to.equal('date');
    }));
    fc.assert(fc.property(withBlanks(isoDateTime), (vs) => {
      expect(inferColumn(sampleOf(vs)).type).to.equal('datetime');
    }));
    fc.assert(fc.property(withBlanks(fc.oneof(isoDate, isoDateTime)), (vs) => {
      fc.pre(vs.some((v) => v && v.includes('T')));
      expect(inferColumn(sampleOf(vs)).type).to.equal('datetime');
    }));
    expect(inferColumn(sampleOf(['03/01/2024', '04/01/2024', '05/01/2024'])).type).to.equal('text');
  });

  it('emails, URLs and JSON objects/arrays', () => {
    const email = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/), fc.stringMatching(/^[a-z]{1,8}$/)).map(([a, b]) => `${a}@${b}.com`);
    fc.assert(fc.property(withBlanks(email), (vs) => {
      fc.pre(new Set(vs.filter(Boolean)).size > 3);
      expect(inferColumn(sampleOf(vs)).type).to.equal('email');
    }));
    fc.assert(fc.property(withBlanks(fc.webUrl({ validSchemes: ['https'] })), (vs) => {
      fc.pre(new Set(vs.filter(Boolean)).size > 3);
      const g = inferColumn(sampleOf(vs));
      expect(['url', 'text']).to.include(g.type); // text when fast-check makes a URL the field refuses
      if (g.type === 'url') parsesAll(vs, 'url', {});
    }));
    fc.assert(fc.property(withBlanks(fc.json().filter((j) => /^[[{]/.test(j))), (vs) => {
      fc.pre(new Set(vs.filter(Boolean)).size > 3);
      const g = inferColumn(sampleOf(vs));
      expect(['json', 'long_text']).to.include(g.type);
    }));
  });

  it('single_select when few values repeat; the options are the labels as written', () => {
    const labels = fc.uniqueArray(fc.stringMatching(/^[A-Z][a-z]{2,8}$/), { minLength: 2, maxLength: 8, selector: (s) => s.toLowerCase() });
    fc.assert(fc.property(labels, fc.integer({ min: 40, max: 200 }), (ls, n) => {
      const vs = Array.from({ length: n }, (_, i) => ls[i % ls.length]!);
      const g = inferColumn(sampleOf(vs));
      expect(g.type).to.equal('single_select');
      expect((g.options.choices as Array<{ label: string }>).map((c) => c.label)).to.have.members(ls);
      parsesAll(vs, g.type, g.options);
    }));
    // "open" next to "Open" would come back as "Open": no single select then
    expect(inferColumn(sampleOf(['Open', 'open', 'Open', 'open', 'Open', 'open'])).type).to.equal('text');
    // all distinct: text
    expect(inferColumn(sampleOf(Array.from({ length: 30 }, (_, i) => `v${i}`))).type).to.equal('text');
  });

  it('text vs long_text, any Unicode; empty strings and NULLs are ignored; an all-empty column is text with no confidence', () => {
    fc.assert(fc.property(withBlanks(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 })), (vs) => {
      const g = inferColumn(sampleOf(vs));
      parsesAll(vs, g.type, g.options);
      if (vs.some((v) => v && /[\r\n]/.test(v))) expect(['long_text', 'json']).to.include(g.type);
    }));
    expect(inferColumn(sampleOf(['x'.repeat(300), 'y', 'z'])).type).to.equal('long_text');
    expect(inferColumn(sampleOf(['', null, ''])).type).to.equal('text');
    expect(inferColumn(sampleOf(['', null, ''])).confidence).to.equal(0);
    expect(inferColumn(sampleOf(['', '5', null, '6', '7', '8'])).type).to.equal('number');
  });

  it('past MAX_DISTINCT kept values, the rest are still checked one by one (no wrong guess on a big sample)', () => {
    const n = MAX_DISTINCT + 5000;
    const ids = sampleOf(Array.from({ length: n }, (_, i) => String(i)));
    expect(inferColumn(ids)).to.deep.include({ type: 'number', options: { decimals: 0 } });
    const mails = sampleOf(Array.from({ length: n }, (_, i) => `p${i}@example.com`));
    expect(inferColumn(mails).type).to.equal('email');
    const late = sampleOf([...Array.from({ length: n }, (_, i) => String(i)), 'x1', '1.25']);
    expect(inferColumn(late).type).to.equal('text');
    expect(choicesFor(late).find((c) => c.type === 'number')!.misfits).to.equal(1);
    const decimalsLate = sampleOf([...Array.from({ length: n }, (_, i) => String(i)), '7.125']);
    expect(inferColumn(decimalsLate).options).to.deep.equal({ decimals: 3 });
  });

  it('the picker counts, for every type, the values it would not take', () => {
    const s = sampleOf(['1', '2', 'x', '2024-01-01', '']);
    const by = Object.fromEntries(choicesFor(s).map((c) => [c.type, c.misfits]));
    expect(by.text).to.equal(0);
    expect(by.number).to.equal(2);
    expect(by.date).to.equal(3);
    expect(by.boolean).to.equal(3);
  });

  describe('names (with PostgreSQL reserved words)', () => {
    let db: TestDatabase;
    let pool: pg.Pool;
    before(async () => {
      db = await freshDatabase();
      pool = new pg.Pool({ connectionString: db.url, max: 1 });
    });
    after(async () => {
      await pool?.end();
      await db?.drop();
    });

    it('every header gets a unique display name and a unique valid column name (blank, repeated, Unicode, reserved)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constantFrom('', ' ', 'id', 'ID', 'select', 'Name', 'name', 'Café', '日本', '\t', '1st')), { minLength: 1, maxLength: 30 }), async (header) => {
          const names = await namesFor(pool, header);
          expect(names).to.have.length(header.length);
          const cols = names.map((n) => n.column);
          expect(new Set(cols).size).to.equal(cols.length);
          expect(new Set(names.map((n) => n.name.toLowerCase())).size).to.equal(names.length);
          for (const n of names) {
            expect(n.column).to.match(/^[a-z_][a-z0-9_]*$/);
            expect(Buffer.byteLength(n.column)).to.be.at.most(63);
            expect(['id', 'select']).to.not.include(n.column);
            expect(n.name.trim()).to.equal(n.name);
            expect(n.name.length).to.be.greaterThan(0);
            // eslint-disable-next-line no-control-regex
            expect(n.name).to.not.match(/[\u0000-\u001f]/);
          }
        }),
        { numRuns: 60 },
      );
      const long = await namesFor(pool, ['😀'.repeat(300), 'x'.repeat(300), 'x'.repeat(300)]);
      for (const n of long) expect(n.name.length).to.be.at.most(255);
      expect(long[0]!.name).to.not.match(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
      const names = await namesFor(pool, ['Name', '', 'name', 'Café', '日本', 'id']);
      expect(names.map((n) => [n.name, n.column])).to.deep.equal([['Name', 'name'], ['Column 2', 'column_2'], ['name 2', 'name_2'], ['Café', 'cafe'], ['日本', 'column_5'], ['id', 'id_']]);
    });
  });
});
