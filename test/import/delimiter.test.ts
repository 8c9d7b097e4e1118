// A CSV file's separator (server/import/delimiter.ts): files from spreadsheets in many
// European locales are separated by semicolons (the comma is their decimal mark), others by
// tabs or pipes. Proven here: the reader reads back what csv-stringify writes with each
// separator, given or detected, however the bytes are cut; detection follows its rules on
// the files people have (decimal commas, quoted separators and line breaks, one column, a
// header alone); and the import routes read such files end to end, report the separator,
// and refuse an unknown one naming the parameter.
import { expect } from 'chai';
import fc from 'fast-check';
import { stringify } from 'csv-stringify/sync';
import { readCut } from './read_cut.js';
import { DELIMITERS, sniffDelimiter, type Delimiter } from '../../server/import/delimiter.js';
import { useApp, type TestApp } from '../helpers/app.js';
import type { Sql } from '../helpers/sql.js';
import { QUIET } from '../introspect/lib.js';
import { waitForJob } from '../helpers/jobs.js';

describe('CSV separators: comma, semicolon, tab, pipe', function () {
  this.timeout(60_000);

  it('reads back what csv-stringify writes with each separator, given or detected, however the bytes are cut', () => {
    // cells never empty: a record is then never an empty line
    const cell = fc.string({ unit: fc.constantFrom('a', 'é', '😀', ',', ';', '\t', '|', '"', '\n', '1', ' '), minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(
        fc.constantFrom(...DELIMITERS),
        fc.integer({ min: 2, max: 4 }),
        fc.array(fc.array(cell, { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        fc.boolean(),
        (sep, width, rows, cuts, auto) => {
          const recs = rows.map((r) => r.slice(0, width));
          // Detected, a file is only as clear as its lines: a bare comma in a tab file's every
          // line is a second candidate (the comma wins). Quoted cells hide their separators.
          const text = stringify(recs, { delimiter: sep, quoted_match: /[\n\r]/, quoted: auto });
          const got = readCut(Buffer.from(text), cuts, auto ? 'auto' : sep);
          expect(got.delimiter).to.equal(sep);
          expect(got.records.map((g) => g.cells)).to.deep.equal(recs);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('detects as its rules say', () => {
    const cases: Array<[string, Delimiter, string]> = [
      ['name,price\nfoo,1.5\nbar,2\n', ',', 'a plain CSV'],
      ['name;price\nfoo;1,5\nbar;2,25\n', ';', 'semicolons, with decimal commas in the values'],
      ['Price, EUR;Qty\n1,5;2\n3;4\n', ';', 'a comma in the header but not the same count on every line: the semicolon'],
      ['a\tb\tc\n1\t2\t3\n', '\t', 'tabs'],
      ['a|b\n1|2\n', '|', 'pipes'],
      ['a;b\n"x;y\nz";2\n3;4\n', ';', 'a quoted cell with the separator and a line break'],
      ['"a,b";c\n"1,2";3\n', ';', 'commas only inside quotes'],
      ['title\nhello world\n', ',', 'one column: the comma'],
      ['a;b', ';', 'a header alone, no line break'],
      ['a;b\n1;2;3\n4\n', ',', 'no separator on every line alike: the comma, and the import then names the line'],
      ['a,b;c\n1,2;3\n', ',', 'the comma first when it qualifies'],
      ['a;b;c|d\n1;2;3|4\n', ';', 'the other separator every line has most of'],
      ['', ',', 'nothing'],
    ];
    for (const [text, want, why] of cases) expect(sniffDelimiter(text, true), why).to.equal(want);
  });

  describe('through the import routes', () => {
    let app: TestApp;
    let sql: Sql;
    useApp((s) => ({ app, sql } = s), QUIET);
    const csv = (body: string) => ({ body, headers: { 'Content-Type': 'text/csv' } });

    it('a semicolon file from a European spreadsheet: the dry run says so, the table is typed, append takes a tab file', async () => {
      const file = 'Name;Amount;Day\nWidget;12.50;2024-03-01\n"Gadget; large";3;2024-03-02\nBolt;0.25;2024-03-03\n';
      const dry = await app.request('POST', '/tables/import?dry_run=1&name=Parts', csv(file));
      expect(dry.status, dry.text).to.equal(200);
      expect(dry.body.delimiter).to.equal(';');
      expect(dry.body.fields.map((f: { column: string; type: string }) => [f.column, f.type])).to.deep.equal([
        ['name', 'text'],
        ['amount', 'number'],
        ['day', 'date'],
      ]);
      const made = await app.request('POST', '/tables/import?name=Parts', csv(file));
      expect(made.status, made.text).to.equal(201);
      expect(made.body.delimiter).to.equal(';');
      expect(await sql.rows(`SELECT name, amount::text, day::text FROM data.parts ORDER BY id`)).to.deep.equal([
        { name: 'Widget', amount: '12.50', day: '2024-03-01' },
        { name: 'Gadget; large', amount: '3.00', day: '2024-03-02' },
        { name: 'Bolt', amount: '0.25', day: '2024-03-03' },
      ]);
      const id = made.body.table.id;
      const tab = await app.request('POST', `/tables/${id}/rows/import`, csv('name\tamount\tday\nNut\t1.5\t2024-04-01\n'));
      expect(tab.status, tab.text).to.equal(200);
      expect(tab.body).to.include({ imported: 1, delimiter: '\t' });
      const given = await app.request('POST', `/tables/${id}/rows/import?delimiter=|`, csv('name|amount|day\nWasher|0.1|2024-04-02\n'));
      expect(given.status, given.text).to.equal(200);
      expect((await sql.one(`SELECT count(*)::int AS n FROM data.parts`)).n).to.equal(5);
    });

    it('a big append runs as a job and reads the file with the separator detected again', async () => {
      const made = await app.request('POST', '/tables/import?name=Queued', csv('Label;Qty\na;1\nb;2\n'));
      expect(made.status, made.text).to.equal(201);
      const id = made.body.table.id;
      const queued = await app.request('POST', `/tables/${id}/rows/import?async=1`, csv('label;qty\nc;3\nd;4\n'));
      expect(queued.status, queued.text).to.equal(202);
      const job = await waitForJob(app, queued.body.id);
      expect(job.status, JSON.stringify(job)).to.equal('done');
      expect(await sql.rows(`SELECT label, qty::int FROM data.queued ORDER BY id`)).to.deep.equal([
        { label: 'a', qty: 1 },
        { label: 'b', qty: 2 },
        { label: 'c', qty: 3 },
        { label: 'd', qty: 4 },
      ]);
    });

    it('an unknown separator is a 400 naming delimiter, nothing created', async () => {
      for (const bad of ['x', ';;', 'comma']) {
        const res = await app.request('POST', `/tables/import?name=Nope&delimiter=${encodeURIComponent(bad)}`, csv('a;b\n1;2\n'));
        expect(res.status, res.text).to.equal(400);
        expect(res.body.error.field).to.equal('delimiter');
      }
      expect((await sql.one(`SELECT count(*)::int AS n FROM tablewright.tables WHERE name = 'Nope'`)).n).to.equal(0);
    });
  });
});
