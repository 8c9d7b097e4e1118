// The .xlsx reader (server/import/xlsx.ts, xlsx_source.ts) around exceljs's streaming one.
// Proves that an upload cut short fails the read with its own error (it used to wait
// forever), that a zip bomb is refused with 413 before it is unzipped, and, as exceljs
// keeps every sheet stored before the shared strings (the usual order in a file Excel or
// exceljs writes) in a temporary file until it is read, that reading a
// workbook however an import does (the first sheet, a chosen one, an unknown one, stopping
// after a sample) leaves none of those files behind and raises no stray error: before the
// fix, a sheet skipped unread had its file deleted while its stream was still opening (an
// 'error' event with no listener: the process ended), and a sample that stopped early left
// the file of every sheet in the temporary directory for as long as the process lived.
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { xlsxRecords } from '../../server/import/xlsx.js';

const ours = () => readdirSync(tmpdir()).filter((f) => f.startsWith(`tmp-${process.pid}-`)).length;

/** A workbook of one sheet: a header, then `rows` rows of `text` (a repeated text zips to almost nothing). */
async function workbook(rows: number, text: (i: number) => string): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Data');
  ws.addRow(['Label', 'N']);
  for (let i = 0; i < rows; i++) ws.addRow([text(i), i]);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/** Reads every record, or the error; fails the test past `ms` (a reader that waits forever). */
async function readAll(source: Readable, maxUnzipped?: number, ms = 20_000): Promise<{ n: number; err?: { code?: string; status?: number; message: string } }> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the reader was still waiting after ${ms} ms`)), ms)));
  const read = (async () => {
    let n = 0;
    try {
      for await (const _r of xlsxRecords(source, undefined, maxUnzipped)) n++;
      return { n };
    } catch (err) {
      return { n, err: err as { code?: string; status?: number; message: string } };
    }
  })();
  try {
    return await Promise.race([read, hung]);
  } finally {
    clearTimeout(timer);
  }
}

describe('xlsx: the streaming reader and its input', () => {
  it('an upload that fails halfway (a client gone, past IMPORT_MAX_BYTES) fails the read with its error, instead of waiting forever', async () => {
    // exceljs pipes its input into its zip reader, and a pipe does not pass an error on:
    // before the guard (server/import/xlsx_source.ts) this read never ended.
    const buf = await workbook(20_000, (i) => `row ${i} ${(i * 7919) % 104729}`);
    for (const at of [0.3, 0.6, 0.9]) {
      const source = new Readable({ read() {} });
      source.push(buf.subarray(0, Math.floor(buf.length * at)));
      setTimeout(() => source.destroy(Object.assign(new Error('the client went away'), { code: 'aborted' })), 30);
      const got = await readAll(source);
      expect(got.err?.code, `cut at ${at}`).to.equal('aborted');
    }
  });

  it('a zip bomb (a small file that unzips past IMPORT_XLSX_MAX_UNZIPPED_BYTES) is refused with 413, early; under the limit the same file reads whole', async () => {
    const long = 'x'.repeat(2000);
    const buf = await workbook(20_000, (i) => long + i); // about 40 MB of shared strings
    expect(buf.length, 'the file is small').to.be.below(2 * 1024 * 1024);
    const before = ours();
    const t0 = Date.now();
    const bomb = await readAll(Readable.from([buf]), 4 * 1024 * 1024);
    expect(bomb.err?.status).to.equal(413);
    expect(bomb.err?.code).to.equal('too_large');
    expect(bomb.err?.message).to.match(/unzips to more than 4 MB/);
    expect(bomb.n, 'stopped before the rows').to.equal(0);
    const whole = await readAll(Readable.from([buf]), 100 * 1024 * 1024);
    expect(whole.err).to.equal(undefined);
    expect(whole.n).to.equal(20_001);
    await new Promise((r) => setTimeout(r, 300));
    expect(ours() - before, 'temporary files left behind').to.be.at.most(1); // a bomb's half-written sheet file may wait for the process's exit
    expect(Date.now() - t0).to.be.below(60_000);
  });

  it('many reads (first, chosen, unknown sheet; whole or a sample) leave no file and no stray error', async () => {
    const wb = new ExcelJS.Workbook();
    for (const name of ['Front', 'Data', 'Back']) {
      const ws = wb.addWorksheet(name);
      ws.addRow(['Label', 'N']);
      for (let i = 0; i < 50; i++) ws.addRow([`${name} ${i}`, i]);
    }
    const buf = Buffer.from(await wb.xlsx.writeBuffer());
    const stray: unknown[] = [];
    const onStray = (err: unknown) => stray.push(err);
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onStray);
    const before = ours();
    const counts: number[] = [];
    try {
      for (let round = 0; round < 8; round++) {
        await Promise.all(
          Array.from({ length: 8 }, async (_, k) => {
            const sheet = [undefined, 'Data', 'Back', '2', 'Nope'][k % 5];
            const stopAfter = k % 2 ? 3 : Infinity;
            let n = 0;
            try {
              for await (const _r of xlsxRecords(Readable.from([buf]), sheet)) if (++n >= stopAfter) break;
              counts.push(n);
            } catch (err) {
              expect((err as { code?: string }).code).to.equal('unknown_sheet');
            }
          }),
        );
      }
      await new Promise((r) => setTimeout(r, 300)); // a late stream error would come by now
    } finally {
      process.removeListener('uncaughtException', onStray);
      for (const l of listeners) process.on('uncaughtException', l);
    }
    expect(stray.map(String)).to.deep.equal([]);
    expect(ours() - before, 'temporary files left behind').to.equal(0);
    expect(counts).to.include(51).and.include(3); // whole sheets (header + 50) and samples were read
  });
});
