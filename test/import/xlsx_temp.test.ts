// exceljs keeps every sheet stored before the shared strings (the usual order in a file
// Excel or exceljs writes) in a temporary file until it is read. Proves that reading a
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

describe('xlsx: temporary files of the streaming reader', () => {
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
