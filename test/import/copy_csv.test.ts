// The import's CSV reader (server/import/copy_csv.ts) against csv-stringify's writing, by
// property: any cells (commas, quotes, CR, LF, BOM-like and astral characters), CRLF or LF,
// cut into chunks anywhere (inside a quote pair, a CRLF, a UTF-8 sequence) read back as the
// same records, each with the line it starts on.
import { expect } from 'chai';
import fc from 'fast-check';
import { stringify } from 'csv-stringify/sync';
import { CsvReader, CsvSyntaxError, type CsvRecord } from '../../server/import/copy_csv.js';

function readAll(bytes: Buffer, cuts: number[]): CsvRecord[] {
  const r = new CsvReader(64 * 1024 * 1024);
  const out: CsvRecord[] = [];
  let at = 0;
  for (const c of [...cuts.map((x) => Math.floor(x * bytes.length))].sort((a, b) => a - b).concat(bytes.length)) {
    out.push(...r.feed(bytes.subarray(at, Math.max(at, c))));
    at = Math.max(at, c);
  }
  out.push(...r.end());
  return out;
}

describe('the import CSV reader', () => {
  it('reads back what csv-stringify writes, with start lines, however the bytes are cut', () => {
    const cell = fc.string({ unit: fc.constantFrom('a', 'é', '😀', ',', '"', '\n', '\r', '\r\n', ' ', '\ufeff', 'x'), maxLength: 12 });
    fc.assert(
      fc.property(
        fc.array(fc.array(cell, { minLength: 2, maxLength: 2 }), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        (records, crlf, cuts) => {
          // a record of one empty cell is written as an empty line, which is no record
          const recs = records.filter((r) => !(r.length === 1 && r[0] === ''));
          const text = stringify(recs, { record_delimiter: crlf ? 'windows' : 'unix', quoted_match: /\r|\n|^\ufeff/ });
          const got = readAll(Buffer.from(text), cuts);
          expect(got.map((g) => g.cells)).to.deep.equal(recs);
          let line = 1;
          const lines = recs.map((r) => {
            const start = line;
            line += 1 + r.join(',').split('\n').length - 1;
            return start;
          });
          expect(got.map((g) => g.line)).to.deep.equal(lines);
          expect(got.every((g) => g.error === undefined)).to.equal(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('skips a BOM and empty lines, keeps a last record without a line break, spoils only a record with a stray quote', () => {
    const got = readAll(Buffer.from('\ufeffa,b\r\n\r\n1,2\nx"y,3\n"",\n4,5'), [0.5]);
    expect(got).to.deep.equal([
      { cells: ['a', 'b'], line: 1 },
      { cells: ['1', '2'], line: 3 },
      { cells: ['x"y', '3'], line: 4, error: 'a quote inside a cell that does not start with one (put the whole cell in quotes, and double the quotes in it)' },
      { cells: ['', ''], line: 5 },
      { cells: ['4', '5'], line: 6 },
    ]);
  });

  it('ends the file at a quote never closed or text after a closing quote, naming the line', () => {
    expect(() => readAll(Buffer.from('a\n"open\nstill open'), [])).to.throw(CsvSyntaxError, /line 2 is never closed/);
    try {
      readAll(Buffer.from('a\nb\n"x"y\n'), []);
      expect.fail('no error');
    } catch (err) {
      expect(err).to.be.instanceOf(CsvSyntaxError);
      expect((err as CsvSyntaxError).line).to.equal(3);
    }
  });

  it('refuses a record past its size limit instead of growing without end', () => {
    const r = new CsvReader(1000);
    expect(() => r.feed(Buffer.from(`a\n${'x'.repeat(2000)}`))).to.throw(CsvSyntaxError, /longer than/);
  });
});
