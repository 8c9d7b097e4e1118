// CsvRecordCounter gives an import job its total when it is queued, from the bytes as they
// stream past. It must agree with the import's own parser (csv-parse, skipping empty
// lines) however the file is cut into chunks. A file keeps to one kind of line break, as
// csv-parse expects (it takes the first it meets for the whole file).
import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import { CsvRecordCounter } from '../../server/model/csv.js';

function countIn(chunks: Buffer[]): number {
  const counter = new CsvRecordCounter();
  for (const c of chunks) counter.feed(c);
  return counter.total();
}

function cut(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

const FILES: Record<string, string> = {
  'plain, ending with a line break': 'name,qty\na,1\nb,2\n',
  'plain, no line break at the end': 'name,qty\na,1\nb,2',
  'CRLF': 'name,qty\r\na,1\r\nb,2\r\n',
  'empty lines between, before and after': '\nname,qty\n\na,1\n\nb,2\n\n\n',
  'empty lines with CRLF': '\r\nname,qty\r\n\r\na,1\r\n\r\n',
  'a quoted cell with line breaks': 'name,note\na,"first\nsecond\r\nthird"\nb,x\n',
  'escaped quotes inside a quoted cell': 'name,note\na,"say ""hi""\n, then go"\nb,"""quoted"""\n',
  'a quoted empty cell and a quoted line break alone': 'name,note\na,""\nb,"\n"\n',
  'a line break right after a closing quote, no final break': 'name,note\n"a","b"\n"c","d"',
  'a byte order mark': '\ufeffname,qty\na,1\n',
  'only a header': 'name,qty\n',
  'nothing': '',
  'one line of spaces (a record: one cell of spaces)': 'name\n   \na\n',
};

describe('CsvRecordCounter: an import job\'s total', () => {
  for (const [what, text] of Object.entries(FILES)) {
    it(`${what}: the records csv-parse reads, in one chunk and cut every 1, 2, 3 and 7 bytes`, () => {
      const buf = Buffer.from(text);
      const expected = (parse(buf, { bom: true, skip_empty_lines: true }) as string[][]).length;
      expect(countIn([buf]), 'whole').to.equal(expected);
      for (const size of [1, 2, 3, 7]) expect(countIn(cut(buf, size)), `cut every ${size}`).to.equal(expected);
    });
  }

  it('agrees with csv-parse on 200 random files of quoted, multi-line and empty records, cut at random', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const cells = ['a', '', '"x"', '"two\nlines"', '"say ""hi"""', '"\r\n"', 'b c', '"a,b"'];
    for (let f = 0; f < 200; f++) {
      const records = Array.from({ length: random(30) }, () => Array.from({ length: 2 }, () => cells[random(cells.length)]).join(','));
      // one kind of line break a file (csv-parse takes the first it meets for all), empty lines among them
      const eol = random(2) ? '\n' : '\r\n';
      const text = records.map((r) => r + eol.repeat(1 + random(2))).join('') + (random(2) ? 'last,row' : '');
      const buf = Buffer.from(text);
      const expected = (parse(buf, { bom: true, skip_empty_lines: true, relax_column_count: true }) as string[][]).length;
      const chunks: Buffer[] = [];
      for (let i = 0; i < buf.length; ) {
        const n = 1 + random(16);
        chunks.push(buf.subarray(i, i + n));
        i += n;
      }
      expect(countIn(chunks), JSON.stringify(text)).to.equal(expected);
    }
  });
});
