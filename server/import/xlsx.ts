// .xlsx files through exceljs's streaming reader (WorkbookReader): the zip is read as it
// streams in, and each sheet's rows are parsed as they come, so memory holds one row and
// the shared strings (not the sheet). A sheet stored before the shared strings waits in a
// temporary file (exceljs), never in memory.
//
// Cells become the text a CSV of the sheet would hold: numbers as JavaScript writes the
// double Excel stores (0.016666666666666666), dates as YYYY-MM-DD (or ISO 8601 in UTC with
// a time of day), booleans as true/false, rich text as its text, a formula as its result.
import type { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import { AppError } from '../errors.js';
import type { SourceRecord } from './records.js';
import { guardXlsx } from './xlsx_source.js';

/** Default of IMPORT_XLSX_MAX_UNZIPPED_BYTES: what a workbook may unzip to (xlsx_source.ts). */
export const DEFAULT_MAX_UNZIPPED = 2 * 1024 * 1024 * 1024;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function dateText(d: Date): string {
  if (Number.isNaN(d.getTime())) return '';
  const day = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  if (d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0 && d.getUTCMilliseconds() === 0) return day;
  return d.toISOString();
}

export function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Date) return dateText(v);
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.richText)) return (o.richText as Array<{ text?: string }>).map((r) => r.text ?? '').join('');
    if ('result' in o) return cellText(o.result);
    if ('formula' in o || 'sharedFormula' in o) return '';
    if (typeof o.text === 'string') return o.text;
    if (typeof o.error === 'string') return o.error;
  }
  return String(v);
}

export const xlsxInvalid = (message: string) => new AppError(422, 'invalid_xlsx', message, 'file');

type SheetReader = ExcelJS.stream.xlsx.WorksheetReader & { name: string; iterator?: unknown };

/**
 * A sheet that sits in one of exceljs's temporary files: its `iterator` is a file stream
 * (exceljs puts a sheet stored before the shared strings, the usual order, in a temporary
 * file, and opens it when the sheet is reached).
 */
const tempFileStream = (ws: SheetReader): (NodeJS.ReadableStream & { path: unknown; destroy(): void }) | null => {
  const it = ws.iterator as { path?: unknown; destroy?: unknown; on?: unknown } | undefined;
  return it && typeof it.path === 'string' && typeof it.destroy === 'function' && typeof it.on === 'function' ? (it as never) : null;
};

/**
 * Lets go of a sheet that is not read (or not to the end). exceljs deletes a sheet's
 * temporary file as soon as it moves to the next sheet, while that file's stream may still
 * be opening: unread, its "no such file" error had no listener and ended the process. The
 * stream is closed here, its late error ignored.
 */
function letGo(ws: SheetReader): void {
  const file = tempFileStream(ws);
  if (!file) return;
  file.on('error', () => {});
  file.destroy();
}

/**
 * The rows of one sheet (the first, or the one named `sheet`, or numbered from 1), header
 * first, each with its row number as `line`. Empty rows are skipped, as in a CSV.
 * Stopping early (a sample) is fine: the sheets still waiting in temporary files are let
 * go one by one, so exceljs deletes every one of its files.
 */
export async function* xlsxRecords(source: Readable, sheet?: string, maxUnzipped = DEFAULT_MAX_UNZIPPED): AsyncGenerator<SourceRecord> {
  const guard = guardXlsx(source, maxUnzipped);
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(guard.stream, {
    sharedStrings: 'cache',
    hyperlinks: 'ignore',
    styles: 'cache', // dates are numbers with a date style: the styles say which
    worksheets: 'emit',
    entries: 'ignore',
  } as ExcelJS.stream.xlsx.WorkbookStreamReaderOptions);
  const sheets = (reader as unknown as AsyncIterable<SheetReader>)[Symbol.asyncIterator]();
  const names: string[] = [];
  let found = false;
  let index = 0;
  let last: SheetReader | null = null;
  try {
    for (;;) {
      const next = await guard.race(sheets.next());
      if (next.done) break;
      const ws = (last = next.value);
      index++;
      names.push(ws.name);
      const wanted = sheet === undefined || sheet === '' ? index === 1 : ws.name === sheet || String(index) === sheet;
      if (!wanted) {
        letGo(ws);
        continue;
      }
      found = true;
      let width = 0;
      const rows = (ws as AsyncIterable<ExcelJS.Row>)[Symbol.asyncIterator]();
      for (;;) {
        const step = await guard.race(rows.next());
        if (step.done) break;
        const row = step.value;
        const values = row.values as unknown[];
        const record: string[] = [];
        for (let i = 1; i < values.length; i++) record.push(cellText(values[i]));
        if (width === 0) width = record.length;
        // Every row as wide as the header (a CSV's records are); cells past it must be empty.
        while (record.length < width) record.push('');
        if (record.length > width && record.slice(width).some((c) => c !== '')) {
          throw xlsxInvalid(`row ${row.number}: a value in column ${width + 1 + record.slice(width).findIndex((c) => c !== '')}, past the header's ${width} columns`);
        }
        record.length = width;
        if (record.every((c) => c === '')) continue;
        yield { cells: record, line: row.number };
      }
      break;
    }
  } catch (err) {
    // A cut-short file makes exceljs fail somehow: the reason it was cut short comes first.
    const cut = guard.problem();
    if (cut) throw cut;
    if (err instanceof AppError) throw err;
    throw xlsxInvalid(`the file is not a readable .xlsx workbook (${(err as Error).message.slice(0, 200)})`);
  } finally {
    // After a cut, exceljs may never answer again: it is left to the garbage collector.
    if (guard.problem()) void sheets.return?.(undefined).catch(() => undefined);
    else await release(sheets, last);
    guard.close();
    source.destroy();
  }
  const cut = guard.problem();
  if (cut) throw cut;
  if (!found) {
    throw new AppError(422, 'unknown_sheet', `the workbook has no sheet "${String(sheet).slice(0, 60)}"${names.length ? `; its sheets: ${names.slice(0, 20).join(', ')}` : ''}`, 'sheet');
  }
}

/**
 * After the chosen sheet (read whole or not): when sheets are being read from temporary
 * files (the upload is read to its end by then), the rest are let go in turn so that exceljs
 * deletes each file; a sheet read straight from the upload needs nothing (the upload is
 * closed). A failure here is not the import's: it is ignored.
 */
async function release(sheets: AsyncIterator<SheetReader>, last: SheetReader | null): Promise<void> {
  if (!last || !tempFileStream(last)) {
    await sheets.return?.(undefined).catch(() => undefined);
    return;
  }
  letGo(last);
  try {
    for (;;) {
      const next = await sheets.next();
      if (next.done) return;
      letGo(next.value);
    }
  } catch {
    await sheets.return?.(undefined).catch(() => undefined);
  }
}

/** Whether the first bytes are a zip (an .xlsx is one). */
export const isZip = (first: Buffer) => first.length >= 4 && first[0] === 0x50 && first[1] === 0x4b && first[2] === 0x03 && first[3] === 0x04;
