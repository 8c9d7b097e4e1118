// A notice after a redirect, without a session store: the redirect names one of these
// messages (?flash=row_saved&n=12) and the layout shows it in the flash area. Only known
// keys show, with a number at most, so a crafted link cannot put words on the page.
import type { NextFunction, Request, Response } from 'express';

const MESSAGES: Record<string, (n: string) => string> = {
  row_saved: (n) => `Row ${n} saved.`,
  row_unchanged: (n) => `Row ${n}: nothing changed.`,
  row_deleted: (n) => `Row ${n} deleted: it is in the row trash (Deleted rows).`,
  rows_deleted: (n) => `${n} ${n === '1' ? 'row' : 'rows'} deleted: they are in the row trash (Deleted rows).`,
  rows_set: (n) => `${n} ${n === '1' ? 'row' : 'rows'} changed.`,
  view_saved: () => 'View saved.',
  view_deleted: () => 'View deleted.',
};

export type FlashKey = keyof typeof MESSAGES;

/** `url` with the flash parameters added. */
export function withFlash(url: string, key: FlashKey, n?: number): string {
  return `${url}${url.includes('?') ? '&' : '?'}flash=${key}${n === undefined ? '' : `&n=${n}`}`;
}

export function flashText(query: Record<string, unknown>): string | undefined {
  const key = query.flash;
  if (typeof key !== 'string' || !Object.hasOwn(MESSAGES, key)) return undefined;
  const n = typeof query.n === 'string' && /^\d{1,18}$/.test(query.n) ? query.n : '';
  return MESSAGES[key]!(n);
}

export function flashLocals(req: Request, res: Response, next: NextFunction): void {
  if (req.method === 'GET') res.locals.flash = flashText(req.query as Record<string, unknown>);
  next();
}
