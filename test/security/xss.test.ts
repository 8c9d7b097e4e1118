// Stored XSS: payloads stored in every place a user can name or fill (table name, field
// name, option label, cell values of every text-like type, link labels, token name,
// user email, objects made behind our back in the managed schema, error messages that
// echo input), then every GET route of the route table (from allRoutes, with the ids
// made here) requested as a page and as an htmx fragment, plus the forms and fragments
// that answer changes.
//
// What it proves, on every HTML answer: no raw payload; no tag a payload could bring
// (img, iframe, svg...), no on* attribute, no inline or foreign <script>; no href, src,
// action or hx-* URL holding javascript:, vbscript: or data: (entities decoded); the
// template payloads are shown as text, not evaluated; a Content-Security-Policy whose
// script-src has no 'unsafe-inline' or 'unsafe-eval'. Answers that carry a payload raw are
// never text/html (JSON, CSV, plain text, with nosniff). Each payload was actually shown
// (escaped) somewhere, so the sweep is not vacuous.
import { expect } from 'chai';
import { allRoutes } from '../../server/web/routes/index.js';
import { startApp, type RequestOptions, type TestApp, type TestResponse } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { addUser, formToken, sessionFor } from '../auth/lib.js';

const SCRIPT = '<script>alert(1)</script>';
const IMG = '"><img src=x onerror=alert(1)>';
const JS_URL = 'javascript:alert(1)';
const MUSTACHE = '{{7*7}}';
const EJS = '<%= 7*7 %>';
const PAYLOADS = [SCRIPT, IMG, JS_URL, MUSTACHE, EJS];
/** What must never appear raw in HTML (the others are harmless as text, and are checked as URLs and templates). */
const RAW_FORBIDDEN = [SCRIPT, IMG, EJS, '<img', '<script>'];
const ejsEscape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'hx-get', 'hx-post', 'hx-put', 'hx-patch', 'hx-delete', 'xlink:href', 'poster', 'data', 'background', 'hx-push-url', 'hx-redirect']);
const FORBIDDEN_TAGS = new Set(['img', 'iframe', 'object', 'embed', 'svg', 'math', 'base', 'frame', 'frameset', 'video', 'audio', 'source', 'link-evil']);

function decodeEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);?/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);?/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&(quot|apos|lt|gt|amp|colon|tab|newline);/gi, (_, n: string) => ({ quot: '"', apos: "'", lt: '<', gt: '>', amp: '&', colon: ':', tab: '\t', newline: '\n' })[n.toLowerCase()]!);
}

interface Tag {
  name: string;
  attrs: Array<[string, string]>;
  raw: string;
}

/** The start tags of an HTML text, with their attributes (values entity-decoded). */
function tagsOf(html: string): Tag[] {
  const out: Tag[] = [];
  for (const m of html.matchAll(/<([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>/g)) {
    const attrs: Array<[string, string]> = [];
    for (const a of m[2]!.matchAll(/([^\s"'>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
      attrs.push([a[1]!.toLowerCase(), decodeEntities(a[2] ?? a[3] ?? a[4] ?? '')]);
    }
    out.push({ name: m[1]!.toLowerCase(), attrs, raw: m[0] });
  }
  return out;
}

/** What is wrong with one HTML answer (empty when nothing). */
function htmlProblems(res: TestResponse): string[] {
  const problems: string[] = [];
  const html = res.text;
  for (const p of RAW_FORBIDDEN) if (html.includes(p)) problems.push(`raw ${JSON.stringify(p)} at …${html.slice(Math.max(0, html.indexOf(p) - 80), html.indexOf(p) + 40)}…`);
  if (/<%[=-]?\s*7\s*\*\s*7/.test(html)) problems.push('an EJS tag reached the output raw');
  for (const t of tagsOf(html)) {
    if (FORBIDDEN_TAGS.has(t.name)) problems.push(`a <${t.name}> tag: ${t.raw.slice(0, 120)}`);
    if (t.name === 'script') {
      const src = t.attrs.find(([n]) => n === 'src')?.[1];
      if (!src || !/^\/(vendor|public)\//.test(src)) problems.push(`a script that is not ours: ${t.raw.slice(0, 120)}`);
    }
    for (const [name, value] of t.attrs) {
      if (/^on/.test(name)) problems.push(`an event handler attribute: ${t.raw.slice(0, 160)}`);
      if (name === 'style' || name === 'srcdoc') problems.push(`a ${name} attribute: ${t.raw.slice(0, 160)}`);
      // eslint-disable-next-line no-control-regex
      const url = value.replace(/[\u0000-\u0020]/g, '').toLowerCase();
      if ((URL_ATTRS.has(name) || name.startsWith('hx-') || name.startsWith('data-url')) && /^(javascript|vbscript|data):/.test(url)) {
        problems.push(`a ${name} holding a ${url.split(':')[0]}: URL: ${t.raw.slice(0, 160)}`);
      }
    }
  }
  // Inline script content (a <script> with a body).
  if (/<script\b[^>]*>\s*[^<\s]/i.test(html)) problems.push('an inline script body');
  return problems;
}

function cspProblems(res: TestResponse): string[] {
  const csp = res.headers.get('content-security-policy');
  if (!csp) return ['no Content-Security-Policy'];
  const directives = new Map(csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => [d.split(/\s+/)[0]!, d] as const));
  const scriptSrc = directives.get('script-src') ?? directives.get('default-src');
  if (!scriptSrc) return [`no script-src or default-src in ${csp}`];
  const problems: string[] = [];
  if (/'unsafe-inline'|'unsafe-eval'|\*|https?:|data:/.test(scriptSrc)) problems.push(`script-src allows inline, eval or foreign scripts: ${scriptSrc}`);
  const attr = directives.get('script-src-attr');
  if (attr && /'unsafe-inline'/.test(attr)) problems.push(`script-src-attr allows inline handlers: ${attr}`);
  return problems;
}

describe('stored XSS: payloads in every name and value, every page and fragment escaped', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let cookie: string;
  let csrf: string;
  const ids: { table: number; linked: number; trashedTable: number; rows: number[]; fields: number[]; trashedField: number; columns: string[] } = {
    table: 0, linked: 0, trashedTable: 0, rows: [], fields: [], trashedField: 0, columns: [],
  };
  /** Every answer checked, for the "each payload was shown" check. */
  const seen: string[] = [];

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    // A console session too: the layout shows the caller's name, forms carry CSRF tokens.
    const adminId = await addUser(app, 'admin@example.com', 'admin');
    ({ cookie, csrf } = await sessionFor(app, adminId));

    const ok = (res: TestResponse, status = 201) => {
      expect(res.status, res.text.slice(0, 300)).to.equal(status);
      return res.body;
    };
    // The linked table: its first text field is the label other tables show for a link.
    const linked = ok(await app.request('POST', '/tables', { json: { name: IMG, fields: [{ name: SCRIPT, type: 'text', column: 'label' }] } }));
    ids.linked = linked.id;
    const linkedRow = ok(await app.request('POST', `/tables/${linked.id}/rows`, { json: { label: SCRIPT } }));
    const t = ok(
      await app.request('POST', '/tables', {
        json: {
          name: SCRIPT,
          fields: [
            { name: IMG, type: 'text', column: 'txt' },
            { name: JS_URL, type: 'long_text', column: 'long' },
            { name: MUSTACHE, type: 'json', column: 'doc' },
            { name: EJS, type: 'url', column: 'site' },
            { name: `${SCRIPT} mail`, type: 'email', column: 'mail' },
            { name: `${IMG} pick`, type: 'single_select', column: 'pick', options: { choices: PAYLOADS.map((label) => ({ label })) } },
            { name: `${SCRIPT} link`, type: 'link', column: 'ref', options: { table_id: linked.id } },
            { name: `${EJS} default`, type: 'text', column: 'dflt', default: IMG },
          ],
        },
      }),
    );
    ids.table = t.id;
    ids.fields = t.fields.map((x: { id: number }) => x.id);
    ids.columns = t.fields.map((x: { column: string }) => x.column);
    const rows = PAYLOADS.map((p, i) => ({
      txt: p,
      long: `${p} ${'padding '.repeat(i === 0 ? 30 : 0)}${p}`,
      doc: i % 2 ? { [p]: p } : JSON.stringify(p),
      site: `https://example.com/${encodeURIComponent(p)}?q=${i === 0 ? '%22%3E%3Cscript%3E' : 'x'}`,
      mail: i === 2 ? 'javascript:alert(1)@example.com' : '<script>alert(1)</script>@example.com',
      pick: p,
      ref: linkedRow.id,
    }));
    const created = ok(await app.request('POST', `/tables/${t.id}/rows`, { json: rows }));
    ids.rows = created.rows.map((r: { id: number }) => r.id);
    // A deleted row full of payloads: the row trash, its row page and the recent changes show its values.
    const deleted = ok(await app.request('POST', `/tables/${t.id}/rows`, { json: rows[0] }));
    expect((await app.request('DELETE', `/tables/${t.id}/rows/${deleted.id}`)).status).to.equal(204);
    ids.rows.push(deleted.id);
    // A javascript: URL is refused as a URL value: it can never become a link.
    expect((await app.request('POST', `/tables/${t.id}/rows`, { json: { site: JS_URL } })).status).to.equal(422);
    // A trashed field and a trashed table, for the trash lists.
    const gone = ok(await app.request('POST', `/tables/${t.id}/fields`, { json: { name: `${IMG} gone`, type: 'text' } }));
    ids.trashedField = gone.id;
    ok(await app.request('DELETE', `/tables/${t.id}/fields/${gone.id}`), 200);
    const binned = ok(await app.request('POST', '/tables', { json: { name: `${EJS} ${MUSTACHE} binned` } }));
    ids.trashedTable = binned.id;
    ok(await app.request('DELETE', `/tables/${binned.id}`), 200);
    // Tokens and users with payloads (user emails refuse < > " ' by rule).
    for (const name of PAYLOADS) ok(await app.request('POST', '/tokens', { json: { name, role: 'viewer' } }));
    expect((await app.request('POST', '/users', { json: { email: `${SCRIPT}@example.com`, role: 'viewer', password: 'long enough' } })).status).to.equal(422);
    for (const email of ['javascript:alert(1)@example.com', '{{7*7}}@example.com']) ok(await app.request('POST', '/users', { json: { email, role: 'viewer', password: 'long enough' } }));
    // Objects made behind our back, named with payloads: the drift report and trash list them.
    await sql.exec(`CREATE TABLE data.${sql.raw.escapeIdentifier(SCRIPT)} (x text)`);
    await sql.exec(`ALTER TABLE data.${sql.raw.escapeIdentifier(t.table_name)} ADD COLUMN ${sql.raw.escapeIdentifier(IMG)} text`);
    await sql.exec(`COMMENT ON TABLE data.${sql.raw.escapeIdentifier(SCRIPT)} IS ${sql.raw.escapeLiteral(EJS)}`);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  async function check(label: string, method: string, path: string, opts: RequestOptions, problems: string[]): Promise<void> {
    const res = await app.request(method, path, opts);
    const where = `${method} ${path.slice(0, 140)} ${label} -> ${res.status}`;
    if (res.status >= 500) problems.push(`${where}: a 5xx ${res.text.slice(0, 200)}`);
    const type = res.headers.get('content-type') ?? '';
    if (type.startsWith('text/html')) {
      seen.push(res.text);
      for (const p of htmlProblems(res)) problems.push(`${where}: ${p}`);
      for (const p of cspProblems(res)) problems.push(`${where}: ${p}`);
    } else if (RAW_FORBIDDEN.some((p) => res.text.includes(p))) {
      // A payload raw is fine in JSON or CSV, as long as no browser reads it as HTML.
      if (!/^(application\/json|text\/csv|text\/plain)/.test(type) || res.headers.get('x-content-type-options') !== 'nosniff') {
        problems.push(`${where}: a raw payload in a ${type} answer without nosniff`);
      }
    }
    for (const h of ['location', 'hx-redirect', 'hx-push-url', 'hx-location']) {
      const v = res.headers.get(h);
      if (v && /^\s*(javascript|vbscript|data):/i.test(decodeURIComponent(v))) problems.push(`${where}: ${h} holds ${v}`);
    }
  }

  /** Every GET route with its params filled by the ids made here (all combinations, capped). */
  function concretePaths(path: string): string[] {
    const values: Record<string, string[]> = {
      id: [String(ids.table), String(ids.linked), String(ids.trashedTable)],
      fid: ids.fields.slice(0, 3).map(String),
      rid: ids.rows.map(String),
      column: ids.columns,
    };
    let paths = [path];
    for (const m of path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)) {
      const name = m[1]!;
      const vs = values[name] ?? ['1'];
      paths = paths.flatMap((p) => vs.map((v) => p.replace(`:${name}`, v)));
    }
    return paths.slice(0, 60);
  }

  const asPage = (extra: Record<string, string> = {}): RequestOptions => ({ auth: { cookie }, headers: { Accept: 'text/html', ...extra } });
  const asFragment = (extra: Record<string, string> = {}): RequestOptions => ({ auth: { cookie }, headers: { Accept: 'text/html', 'HX-Request': 'true', ...extra } });

  it('the checker itself catches what it looks for (raw payloads, injected tags and handlers, javascript: URLs behind entities, inline script, a weak CSP)', () => {
    const fake = (text: string, csp = "default-src 'self'; script-src 'self'") => ({ status: 200, text, body: undefined, headers: new Headers({ 'content-security-policy': csp }) });
    expect(htmlProblems(fake(`<p>${SCRIPT}</p>`))).to.not.be.empty;
    expect(htmlProblems(fake('<p title="x" onmouseover="alert(1)">'))).to.not.be.empty;
    expect(htmlProblems(fake('<a href="&#106;avascript:alert(1)">x</a>'))).to.not.be.empty;
    expect(htmlProblems(fake('<a href=" JaVaScRiPt:alert(1)">x</a>'))).to.not.be.empty;
    expect(htmlProblems(fake('<form action="javascript&colon;alert(1)">'))).to.not.be.empty;
    expect(htmlProblems(fake('<script>alert(1)</script>'))).to.not.be.empty;
    expect(htmlProblems(fake('<script src="https://evil.example/x.js"></script>'))).to.not.be.empty;
    expect(cspProblems(fake('', "script-src 'self' 'unsafe-inline'"))).to.not.be.empty;
    expect(cspProblems({ ...fake(''), headers: new Headers() })).to.not.be.empty;
    // and lets the escaped forms through
    expect(htmlProblems(fake(`<p title="${ejsEscape(IMG)}">${ejsEscape(SCRIPT)} ${ejsEscape(EJS)} ${MUSTACHE} ${JS_URL}</p><script src="/vendor/htmx.min.js"></script>`))).to.deep.equal([]);
  });

  it('every GET route, as a page and as an htmx fragment, with stored payloads: all escaped, no javascript: URL, CSP on every HTML answer', async () => {
    const problems: string[] = [];
    let requests = 0;
    for (const r of allRoutes.filter((x) => x.method === 'get')) {
      for (const path of concretePaths(r.path)) {
        for (const [label, opts] of [['page', asPage()], ['fragment', asFragment()]] as Array<[string, RequestOptions]>) {
          await check(label, 'GET', path, opts, problems);
          requests++;
        }
      }
    }
    expect(requests).to.be.greaterThan(100);
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });

  it('payloads in query strings and paths (filters, search, sort, next, unknown columns, 404s) are escaped in pages, fragments and error messages', async () => {
    const problems: string[] = [];
    for (const r of allRoutes.filter((x) => x.method === 'get')) {
      const path = concretePaths(r.path)[0]!;
      for (const p of PAYLOADS) {
        const q = new URLSearchParams({ fc: 'txt', fo: 'eq', fv: p, search: p, sort: p, next: p, token: p, page: p });
        await check('page', 'GET', `${path}?${q}`, asPage(), problems);
        await check('fragment', 'GET', `${path}?${q}`, asFragment(), problems);
      }
    }
    for (const p of PAYLOADS) {
      const enc = encodeURIComponent(p);
      await check('page', 'GET', `/tables/${ids.table}?${new URLSearchParams({ fc: p, fo: p, fv: p })}`, asPage(), problems);
      await check('fragment', 'GET', `/tables/${ids.table}/grid?${new URLSearchParams({ fc: p, fo: 'eq', fv: '1' })}`, asFragment(), problems);
      await check('fragment', 'GET', `/tables/${ids.table}/rows/${ids.rows[0]}/cells/${enc}`, asFragment(), problems);
      await check('page', 'GET', `/tables/${ids.table}/rows/${ids.rows[0]}/cells/${enc}/edit`, asPage(), problems);
      await check('page', 'GET', `/no/such/${enc}`, asPage(), problems);
      await check('page', 'GET', `/login?next=${enc}`, { auth: false, headers: { Accept: 'text/html' } }, problems);
    }
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });

  it('the answers to changes (forms re-rendered with what was typed, error messages, notices, the conversion report, the created token) are escaped', async () => {
    const problems: string[] = [];
    const t = ids.table;
    const r = ids.rows[0]!;
    const withCsrf = { 'X-CSRF-Token': csrf };
    const pre = await formToken(app);
    for (const p of PAYLOADS) {
      // A cell that refuses the value: the editor again, with the value and the message.
      await check('fragment', 'PATCH', `/tables/${t}/rows/${r}/cells/mail`, { ...asFragment(withCsrf), form: { value: p } }, problems);
      await check('page', 'PATCH', `/tables/${t}/rows/${r}/cells/site`, { ...asPage(withCsrf), form: { value: p } }, problems);
      // The add-row form again, with what was typed.
      await check('fragment', 'POST', `/tables/${t}/grid/rows`, { ...asFragment(withCsrf), form: { txt: p, site: p, mail: p } }, problems);
      // Creating and renaming things named with payloads: the panels with their notices.
      await check('fragment', 'POST', '/tables', { ...asFragment(withCsrf), form: { name: `${p} new` } }, problems);
      await check('fragment', 'POST', `/tables/${t}/fields`, { ...asFragment(withCsrf), form: { name: `${p} added`, type: 'text' } }, problems);
      await check('fragment', 'POST', `/tables/${t}/fields`, { ...asFragment(withCsrf), form: { name: IMG, type: 'text' } }, problems);
      await check('page', 'POST', '/tokens', { ...asPage(withCsrf), form: { name: `${p} once`, role: 'viewer' } }, problems);
      await check('page', 'POST', '/users', { ...asPage(withCsrf), form: { email: p, role: 'viewer', password: 'long enough' } }, problems);
      await check('page', 'POST', '/login', { auth: { cookie: pre.cookie }, headers: { Accept: 'text/html' }, form: { email: p, password: 'wrong password', next: p, _csrf: pre.csrf } }, problems);
    }
    // The conversion report: values that would be lost, shown as examples.
    await check('fragment', 'PATCH', `/tables/${t}/fields/${ids.fields[0]}`, { ...asFragment(withCsrf), form: { type: 'number', dry_run: '1' } }, problems);
    await check('page', 'PATCH', `/tables/${t}/fields/${ids.fields[0]}`, { ...asPage(withCsrf), form: { type: 'number', dry_run: '1' } }, problems);
    // The drift panel and trash panel after an action.
    await check('fragment', 'POST', '/trash/cleanup', { ...asFragment(withCsrf), form: { dry_run: '1' } }, problems);
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });

  it('every payload was actually shown, escaped (the sweep is not vacuous), and the template payloads as text, not evaluated', () => {
    const all = seen.join('\n');
    for (const p of PAYLOADS) expect(all.includes(ejsEscape(p)), `${p} shown escaped`).to.equal(true);
    // In each place it was stored: table name, field name, option label, cell, token, user, drift.
    for (const [what, text] of [
      ['a table name', `<h1>${ejsEscape(SCRIPT)}`],
      ['a field name', ejsEscape(IMG)],
      ['an option label', `>${ejsEscape(EJS)}</span>`],
      ['a cell value', `>${ejsEscape(SCRIPT)}</td>`],
      ['a token name', `<td>${ejsEscape(MUSTACHE)}</td>`],
      ['a user email', `${ejsEscape('javascript:alert(1)@example.com')}`],
      ['a column made behind our back (drift)', ejsEscape(IMG)],
    ]) {
      expect(all.includes(text!), `${what} shown escaped (${text})`).to.equal(true);
    }
    expect(all).to.include(MUSTACHE);
    expect(all).to.include(ejsEscape(EJS));
  });
});
