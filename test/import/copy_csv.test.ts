// The import's CSV reader (server/import/copy_csv.ts) against csv-stringify's writing, by
// property: any cells (commas, quotes, CR, LF, BOM-like and astral characters), CRLF or LF,
// cut into chunks anywhere (inside a quote pair, a CRLF, a UTF-8 sequence) read back as the
// same records, each with the line it starts on.
import { expect } from 'chai';
import fc from 'fast-check';
import { stringify } from 'csv-stringify/sync';
import { CsvReader, CsvSyntaxError, type CsvRecord } from '../../server/import/copy_csv.js';
import { readCut } from './read_cut.js';

const readAll = (bytes: Buffer, cuts: number[]): CsvRecord[] => readCut(bytes, cuts).records;

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

describe('the import CSV reader and bytes that are not UTF-8', () => {
  // Before: a StringDecoder read them as U+FFFD, so a file in Latin-1 was imported with its
  // accented letters replaced, silently. Now the file is refused, naming the line.
  const BAD = [[0xff], [0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe9, 0x74], [0xf5, 0x80, 0x80, 0x80], [0xf0, 0x28, 0x8c, 0x28]];
  it('any invalid sequence on any line, the bytes cut anywhere: refused with that line; valid text around it never is', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom('a', 'é', '😀', ' ', 'x', '€'), maxLength: 10 }), { minLength: 1, maxLength: 15 }),
        fc.nat(),
        fc.constantFrom(...BAD),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        (lines, pick, bad, cuts) => {
          const at = pick % lines.length;
          const parts = lines.map((l, i) => (i === at ? Buffer.concat([Buffer.from(`${l},`), Buffer.from(bad), Buffer.from(',z')]) : Buffer.from(`${l},y`)));
          const bytes = Buffer.concat(parts.flatMap((p, i) => (i ? [Buffer.from('\n'), p] : [p])));
          let caught: unknown;
          try {
            readAll(bytes, cuts);
          } catch (err) {
            caught = err;
          }
          expect(caught).to.be.instanceOf(CsvSyntaxError);
          expect((caught as CsvSyntaxError).message).to.match(/not UTF-8/);
          // the line of the bad bytes, wherever the chunks were cut (a cut inside them too)
          expect((caught as CsvSyntaxError).line).to.equal(at + 1);
          expect(readAll(Buffer.concat(parts.filter((_, i) => i !== at).flatMap((p, i) => (i ? [Buffer.from('\n'), p] : [p]))), cuts).length).to.equal(lines.length - 1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a file cut inside a UTF-8 character is refused at its end', () => {
    expect(() => readAll(Buffer.from([0x61, 0x2c, 0x62, 0x0a, 0x63, 0x2c, 0xe2, 0x82]), [])).to.throw(CsvSyntaxError, /ends inside a UTF-8 character/);
  });
});
