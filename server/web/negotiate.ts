// One URL, several answers (CONTRACT.md): JSON for scripts, an HTML fragment for htmx,
// a full page (or 303 after a form POST) for browsers without JavaScript.
import type { Request, Response } from 'express';
import { renderView } from './render.js';

export type Answer = 'json' | 'fragment' | 'page';

export function answerKind(req: Request): Answer {
  if (req.get('HX-Request') === 'true') return 'fragment';
  const accept = req.get('Accept') ?? '';
  if (accept.includes('application/json')) return 'json';
  if (req.is('application/json') && !accept.includes('text/html')) return 'json';
  return 'page';
}

export interface Reply {
  status?: number;
  json: unknown;
  /** views/partials/<fragment>.ejs: the piece htmx swaps in */
  fragment?: string;
  /** views/pages/<page>.ejs: the whole page */
  page?: string;
  /** after a successful form POST without JavaScript: 303 to here */
  redirect?: string;
  locals?: Record<string, unknown>;
}

export async function reply(req: Request, res: Response, r: Reply): Promise<void> {
  res.vary('Accept').vary('HX-Request');
  const kind = answerKind(req);
  const status = r.status ?? 200;
  if (kind === 'json' || (kind === 'fragment' && !r.fragment && !r.redirect) || (kind === 'page' && !r.page && !r.redirect)) {
    if (status === 204) {
      res.status(204).end();
      return;
    }
    res.status(status).json(r.json);
    return;
  }
  const locals = { ...res.locals, ...r.locals, data: r.json };
  if (kind === 'fragment' && !r.fragment && r.redirect) {
    // htmx follows HX-Redirect with a full navigation (after a create, to the new page).
    res.set('HX-Redirect', r.redirect).status(200).end();
    return;
  }
  if (kind === 'fragment') {
    res.status(status === 204 ? 200 : status).type('html').send(await renderView(`partials/${r.fragment}`, locals));
    return;
  }
  if (req.method !== 'GET' && r.redirect) {
    res.redirect(303, r.redirect);
    return;
  }
  res.status(status === 204 ? 200 : status).type('html').send(await renderView(`pages/${r.page}`, locals, { layout: true }));
}
