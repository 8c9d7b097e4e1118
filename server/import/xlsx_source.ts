// What exceljs reads of an uploaded .xlsx: the upload passed through a stream of ours, so
// that two things exceljs cannot do are done here.
//
// - A source that fails (a client that goes away, an upload past IMPORT_MAX_BYTES): exceljs
//   pipes its input into its zip reader, and a pipe does not pass an error on, so the reader
//   waited for the rest of the file forever (with the import's connection and locks). Here
//   the stream exceljs reads is ended instead, and the source's error is the import's.
// - A zip bomb: a few megabytes that unzip to many gigabytes of sheet XML, which exceljs
//   writes to temporary files (a sheet stored before the shared strings) or keeps in memory
//   (the shared strings). The same bytes go through a second zip reader (unzipper, the one
//   exceljs uses) that only counts what each entry unzips to; past `maxUnzipped` in all the
//   import stops with 413, before the disk or the memory fill.
import { PassThrough, type Readable } from 'node:stream';
import unzipper from 'unzipper';
import { AppError } from '../errors.js';

export interface GuardedXlsx {
  /** what exceljs reads */
  stream: Readable;
  /** why the file was cut short (the source's error, or too much unzipped), if it was */
  problem(): Error | undefined;
  /** stops the counting reader (after the import, or when it stops early) */
  close(): void;
  /**
   * `p`, or the problem as soon as there is one. Every wait on exceljs goes through this:
   * after a cut exceljs may wait forever (a sheet's zip entry that never ends), so the
   * import stops waiting for it.
   */
  race<T>(p: Promise<T>): Promise<T>;
}

const mb = (n: number) => `${Math.round(n / 1024 / 1024)} MB`;

export function guardXlsx(source: Readable, maxUnzipped: number): GuardedXlsx {
  const out = new PassThrough();
  const counter = unzipper.Parse();
  let problem: Error | undefined;
  let unzipped = 0;
  let fail!: (err: Error) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {}); // raced, or nobody was waiting

  const stop = (err: Error) => {
    if (problem) return;
    problem = err;
    fail(err);
    source.unpipe(out);
    source.unpipe(counter);
    counter.destroy();
    out.end(); // exceljs sees the file end where it can (and what it waits on is raced)
  };

  counter.on('entry', (entry: Readable) => {
    entry.on('data', (chunk: Buffer) => {
      unzipped += chunk.length;
      if (unzipped > maxUnzipped) {
        stop(new AppError(413, 'too_large', `the workbook unzips to more than ${mb(maxUnzipped)} (IMPORT_XLSX_MAX_UNZIPPED_BYTES): refused as a zip bomb`, 'file'));
      }
    });
    entry.on('error', () => {});
  });
  // A file the counter cannot read is exceljs's to report (it says what is wrong with it).
  counter.on('error', () => source.unpipe(counter));
  source.on('error', (err) => stop(err));
  source.pipe(out);
  source.pipe(counter);
  return {
    stream: out,
    problem: () => problem,
    close: () => {
      source.unpipe(counter);
      counter.destroy();
    },
    race: (p) => Promise.race([p, failed]),
  };
}
