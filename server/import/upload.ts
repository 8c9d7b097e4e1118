// The bytes of POST /tables/import: a CSV body (text/csv), an .xlsx body, or a multipart
// form's part "file" (busboy, streamed; fields sent before the file are read on the way,
// and `types[col]` / `options[col]` fields are gathered into objects).
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import type { Request } from 'express';
import { AppError, badRequest } from '../errors.js';
import { checkMultipartCsrf } from '../web/csrf.js';
import { ByteLimit, tooLarge } from '../web/routes/csv.js';
import type { FileFormat } from './files.js';

export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

export interface Upload {
  stream: Readable;
  fields: Record<string, unknown>;
  filename: string;
  format: FileFormat;
}

const formatOf = (filename: string, mime: string): FileFormat => (/\.xlsx$/i.test(filename) || mime === XLSX_TYPE ? 'xlsx' : 'csv');

function setField(fields: Record<string, unknown>, name: string, value: string): void {
  const m = /^(types|options)\[(.+)\]$/.exec(name);
  if (!m) {
    fields[name] = value;
    return;
  }
  const map = (fields[m[1]!] ??= Object.create(null)) as Record<string, unknown>;
  map[m[2]!] = value;
}

export async function fileUpload(req: Request, max: number): Promise<Upload> {
  if (req.is('multipart/form-data')) {
    const fields: Record<string, unknown> = {};
    const bb = busboy({ headers: req.headers, limits: { files: 1, fields: 2000, fileSize: max } });
    const file = new Promise<Upload>((resolve, reject) => {
      bb.on('field', (name, value) => setField(fields, name, value));
      bb.on('file', (name, stream, info) => {
        try {
          checkMultipartCsrf(req, fields as Record<string, string>);
        } catch (err) {
          stream.resume();
          reject(err);
          return;
        }
        if (name !== 'file') {
          stream.resume();
          return;
        }
        const limited = new ByteLimit(max);
        limited.on('error', () => undefined);
        stream.on('limit', () => limited.destroy(tooLarge(max)));
        stream.on('error', (err) => limited.destroy(err));
        const filename = info.filename ?? '';
        resolve({ stream: stream.pipe(limited), fields, filename, format: formatOf(filename, info.mimeType) });
      });
      bb.on('close', () => reject(badRequest('the form has no file named "file"', 'file')));
      bb.on('error', (err) => reject(badRequest(`the upload could not be read: ${(err as Error).message}`, 'file')));
    });
    req.pipe(bb);
    return file;
  }
  if (req.is(['text/csv', 'application/csv', 'text/plain', XLSX_TYPE])) {
    const declared = Number(req.get('Content-Length') ?? 0);
    if (declared > max) throw tooLarge(max);
    const limited = new ByteLimit(max);
    limited.on('error', () => undefined);
    req.on('error', (err) => limited.destroy(err));
    return { stream: req.pipe(limited), fields: {}, filename: '', format: req.is(XLSX_TYPE) ? 'xlsx' : 'csv' };
  }
  throw new AppError(415, 'unsupported_media_type', `send the file as Content-Type: text/csv or ${XLSX_TYPE}, or as a multipart form with a part named "file"`);
}
