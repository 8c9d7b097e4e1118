// Hostile input on every name and value, generated from data: a list of hostile strings
// x the input slots of every route that takes input (table, field, row, grid, cell, CSV
// import, token, user, login, trash and drift routes), plus hostile ids in every path
// parameter and wrong-shaped bodies on every route of the route table.
//
// What it proves:
// - every hostile request that must be refused answers a 4xx with the error shape
//   {error:{code,message,field?}}, `field` naming the input where there is one; never a
//   5xx, never a hang;
// - a catalog + metadata + data snapshot (relations, columns, constraints, indexes and
//   comments; every schema, function, role, trigger and extension; the metadata tables,
//   the audit, tokens and users; the rows of the user tables) is equal before and after
//   each batch of refused requests: nothing changed;
// - hostile strings that are VALID (display names, option labels, text values, defaults
//   and token names are free text) are stored verbatim, get safe physical names (a slug
//   that is a valid, unreserved identifier), change exactly what was intended and
//   render escaped;
// - no request pollutes Object.prototype in the server process.
import http from 'node:http';
import { expect } from 'chai';
import { parseColumnComment } from '../../server/schema/comments.js';
import { IDENTIFIER_RE } from '../../server/db/ident.js';
import { allRoutes } from '../../server/web/routes/index.js';
import { startApp, type RequestOptions, type TestApp, type TestResponse } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { addUser, formToken } from '../auth/lib.js';

/** The hostile strings, by what they try. */
const HOSTILE: Record<string, string> = {
  'single quote': "O'Brien",
  'double quote': 'say "hi"',
  semicolon: 'a; b',
  'drop table': '"; DROP TABLE x; --',
  'drop metadata': "'); DROP TABLE tablewright.tables; --",
  'bind parameter': '$1',
  'dollar quote': '$$; DROP SCHEMA data CASCADE; $$',
  backslash: 'C:\\new\\table\\',
  'NUL byte': 'a\u0000b',
  newline: 'line\nbreak',
  '10,000 characters': 'x'.repeat(10_000),
  'RTL marks': 'abc\u202Eevil\u200F',
  emoji: '🦄 Unicorns 🎉',
  'combining chars': 'Cafe\u0301 Z\u0336a\u0337l\u0338g\u0335o',
  'reserved select': 'select',
  'reserved user': 'user',
  'reserved table': 'table',
  'system column xmin': 'xmin',
  'system column ctid': 'ctid',
  'system column tableoid': 'tableoid',
  'metadata table': 'tablewright.tables',
  'catalog table': 'pg_catalog.pg_class',
  'primary key id': 'id',
  'path traversal': '../../etc/passwd',
  'percent escapes': '%00%27%22',
  html: '<b>bold</b>',
  'prototype __proto__': '__proto__',
  'prototype constructor': 'constructor',
  'prototype toString': 'toString',
  empty: '',
  blank: '   ',
};
const ALL = Object.entries(HOSTILE);
/** Values of the wrong JSON shape where a string goes. */
const WRONG_SHAPES: Array<[string, unknown]> = [
  ['an array', ['a']],
  ['a nested object', { $gt: '' }],
  ['a number', 123],
  ['a boolean', true],
];
/** Whole bodies of the wrong shape where an object goes. */
const WRONG_BODIES: Array<[string, unknown]> = [
  ['an array body', ['name']],
  ['a string body', 'name'],
  ['a number body', 42],
  ['a null body', null],
];
/** Ids that are not ids, for every path parameter (raw: sent byte for byte). */
const HOSTILE_IDS: Array<[string, string]> = [
  ['negative', '-1'],
  ['exponent', '1e3'],
  ['hex', '0x10'],
  ['beyond bigint', '9999999999999999999999'],
  ['zero', '0'],
  ['decimal', '1.5'],
  ['dot-dot segment', '..'],
  ['dot segment', '.'],
  ['encoded dot-dot', '%2e%2e'],
  ['encoded traversal', '..%2F..%2Fetc%2Fpasswd'],
  ['SQL', encodeURIComponent("1; DROP TABLE x; --")],
  ['quote', encodeURIComponent("1' OR '1'='1")],
  ['NUL', '1%00'],
  ['malformed escape', '%E0%A4%A'],
  ['fullwidth digit', encodeURIComponent('１')],
  ['system column', 'xmin'],
  ['qualified name', 'pg_catalog.pg_class'],
  ['10,000 characters', '9'.repeat(10_000)],
];

const CONTROL = /[\u0000-\u001f\u007f]/;
/** The documented display-name rule: text, trimmed, 1 to 255 characters, no control characters. */
const validDisplay = (s: string) => s.trim().length > 0 && s.trim().length <= 255 && !CONTROL.test(s);
const validLabel = (s: string) => s.trim().length > 0 && s.trim().length <= 100 && !s.includes('\0');
const validTokenName = (s: string) => s.trim().length > 0 && s.trim().length <= 100 && !s.includes('\0');
const isBlank = (s: string) => s.trim() === '';
const ejsEscape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
const RESERVED_COLUMNS = ['id', 'oid', 'tableoid', 'xmin', 'xmax', 'cmin', 'cmax', 'ctid'];
/**
 * A physical name a caller may choose: an identifier that is no reserved word (of those
 * in HOSTILE), not __proto__ (a JSON key of every row), and for columns no system column.
 * `constructor` is one (an ordinary own key in row JSON); `xmin` names a table fine.
 */
const validPhysical = (kind: 'table' | 'column', s: string) =>
  IDENTIFIER_RE.test(s) && !['select', 'user', 'table', '__proto__'].includes(s) && (kind === 'table' || !RESERVED_COLUMNS.includes(s));
/** Sort and filter keys the listing knows: the id and the fixture's columns. */
const knownKey = (s: string) => s === 'id' || isBlank(s);

interface Case {
  /** the route table entry, 'METHOD /path' */
  route: string;
  label: string;
  method: string;
  path: string;
  opts?: RequestOptions;
  /** send the path byte for byte (no URL normalisation of `..`) */
  raw?: { json?: unknown; text?: string; contentType?: string };
  /** the error's `field`: exact, or a pattern */
  field?: string | RegExp;
  /** allowed statuses (default: any 4xx but 401 and 403) */
  status?: number[];
  /** a read that may answer 200 (search, grid with a problem shown); never 5xx */
  read?: boolean;
}

/** A request sent byte for byte (fetch would resolve `..` segments before sending). */
function rawRequest(base: string, method: string, path: string, token: string, body?: { json?: unknown; text?: string; contentType?: string }): Promise<TestResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const payload = body?.text ?? (body && 'json' in body ? JSON.stringify(body.json) : undefined);
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: {
          Accept: 'application/json',
          Authorization: `Bearer ${token}`,
          ...(payload !== undefined ? { 'Content-Type': body?.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: new Headers(res.headers as Record<string, string>), text, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (a hang)`)), ms);
    }),
  ]);
}

async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** Own enumerable keys that leaked onto Object.prototype (prototype pollution). */
function pollution(): string[] {
  const keys: string[] = [];
  // eslint-disable-next-line guard-for-in
  for (const k in {}) keys.push(k);
  return keys;
}

describe('hostile input on every name and value (generated: hostile strings x input slots)', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  // fixtures
  let target: number;
  let other: number;
  let binned: number;
  let rowId: number;
  let userId: number;
  const f: Record<string, number> = {};
  let goneField: number;

  /** Everything a request could change, as comparable data (Sql.snapshot() and more). */
  async function snapshot(): Promise<Record<string, unknown>> {
    const live = await sql.rows<{ table_name: string }>(`SELECT table_name FROM tablewright.tables WHERE trashed_at IS NULL ORDER BY id`);
    const data: Record<string, unknown> = {};
    for (const t of live) data[t.table_name] = await sql.rows(`SELECT to_jsonb(r) AS row FROM data.${sql.raw.escapeIdentifier(t.table_name)} r ORDER BY id`);
    return {
      ...(await sql.snapshot()),
      namespaces: await sql.rows(`SELECT nspname, nspowner::regrole::text AS owner, nspacl::text AS acl FROM pg_namespace ORDER BY 1`),
      allRelations: await sql.rows(
        `SELECT n.nspname, c.relname, c.relkind, c.relacl::text AS acl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2`,
      ),
      functions: await sql.rows(
        `SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) AS args, md5(p.prosrc) AS src FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3`,
      ),
      roles: await sql.rows(`SELECT rolname, rolsuper, rolcanlogin, rolcreaterole, rolcreatedb FROM pg_roles ORDER BY 1`),
      // Every managed table has our two row-history triggers (and only those, calling our own functions).
      triggers: await sql.rows(
        `SELECT tgrelid::regclass::text AS rel, tgname FROM pg_trigger
          WHERE NOT tgisinternal AND NOT (tgname IN ('tablewright_history', 'tablewright_history_truncate') AND tgfoid IN ('tablewright.record_row_change'::regproc, 'tablewright.record_truncate'::regproc))
          ORDER BY 1, 2`,
      ),
      eventTriggers: await sql.rows(`SELECT evtname, evtevent FROM pg_event_trigger ORDER BY 1`),
      extensions: await sql.rows(`SELECT extname FROM pg_extension ORDER BY 1`),
      tokens: await sql.rows(`SELECT id, name, role, revoked_at FROM tablewright.api_tokens ORDER BY id`),
      users: await sql.rows(`SELECT id, email, role, password_hash FROM tablewright.users ORDER BY id`),
      setupTokens: await sql.rows(`SELECT count(*)::int AS n FROM tablewright.setup_tokens`),
      data,
    };
  }

  async function send(c: Case): Promise<TestResponse> {
    const what = `${c.method} ${c.path.slice(0, 100)} [${c.label}]`;
    const p = c.raw ? rawRequest(app.url, c.method, c.path, app.adminToken, c.raw) : app.request(c.method, c.path, c.opts ?? {});
    return within(15_000, p, what).catch((err: Error) => {
      throw new Error(`${what}: ${err.message}${err.cause ? ` (${String((err.cause as Error).message ?? err.cause)})` : ''}`);
    });
  }

  /** Why a response is not a proper refusal (undefined when it is). */
  function problem(c: Case, res: TestResponse): string | undefined {
    const where = `${c.route} <- ${c.label}: ${res.status} ${res.text.slice(0, 160)}`;
    if (res.status >= 500) return `5xx: ${where}`;
    // Node refuses request lines past its header size limit itself (431), before the app.
    if (res.status === 431 || res.status === 414) return undefined;
    if (c.read && res.status < 400) return undefined;
    if (res.status < 400) return `accepted: ${where}`;
    if (c.status ? !c.status.includes(res.status) : res.status === 401 || res.status === 403) return `unexpected status: ${where}`;
    const accept = c.opts?.headers?.Accept ?? '';
    if (c.opts?.headers?.['HX-Request'] === 'true' || accept.includes('text/html')) {
      // htmx and browsers get the error as HTML (a fragment or a page): a visible alert.
      return /role="alert"/.test(res.text) ? undefined : `no error shown in the HTML: ${where}`;
    }
    const e = res.body?.error;
    if (!e || typeof e.code !== 'string' || typeof e.message !== 'string' || e.message.trim() === '') return `not the error shape: ${where}`;
    if (e.message.length > 1500) return `a message of ${e.message.length} characters (it echoes the input): ${where}`;
    if (c.field !== undefined) {
      const ok = typeof c.field === 'string' ? e.field === c.field : typeof e.field === 'string' && c.field.test(e.field);
      if (!ok) return `field is ${JSON.stringify(e.field)}, expected ${String(c.field)}: ${where}`;
    }
    return undefined;
  }

  /** Runs the cases against a snapshot: all refused properly, and nothing changed. */
  async function refusedAgainstSnapshot(cases: Case[], concurrency = 8): Promise<void> {
    expect(cases.length).to.be.greaterThan(0);
    const before = await snapshot();
    const problems: string[] = [];
    await eachLimited(cases, concurrency, async (c) => {
      const res = await send(c);
      const p = problem(c, res);
      if (p) problems.push(p);
    });
    expect(problems, `${problems.length} of ${cases.length} requests were not refused properly:\n${problems.join('\n')}`).to.deep.equal([]);
    expect(await snapshot(), 'the catalog, metadata and data after the refused requests').to.deep.equal(before);
    expect(pollution(), 'Object.prototype was polluted').to.deep.equal([]);
  }

  const json = (method: string, path: string, route: string, label: string, body: unknown, field?: string | RegExp, extra: Partial<Case> = {}): Case => ({
    route,
    label,
    method,
    path,
    opts: { json: body },
    field,
    ...extra,
  });

  before(async () => {
    db = await freshDatabase();
    // Hostile logins are many: the rate limit would answer 429 (also a proper 4xx) and hide the 401s.
    app = await startApp(db.url, { LOGIN_RATE_LIMIT: '100000', LOGIN_RATE_LIMIT_ADDRESS: '100000' });
    sql = await Sql.connect(db.url);
    const o = await app.request('POST', '/tables', { json: { name: 'Other' } });
    expect(o.status, o.text).to.equal(201);
    other = o.body.id;
    const t = await app.request('POST', '/tables', {
      json: {
        name: 'Target',
        table_name: 'target',
        fields: [
          { name: 'Title', type: 'text', column: 'title' },
          { name: 'Notes', type: 'long_text', column: 'notes' },
          { name: 'Amount', type: 'number', column: 'amount', options: { decimals: 2 } },
          { name: 'Count', type: 'number', column: 'count' },
          { name: 'Done', type: 'boolean', column: 'done' },
          { name: 'Day', type: 'date', column: 'day' },
          { name: 'When', type: 'datetime', column: 'at' },
          { name: 'Meta', type: 'json', column: 'meta' },
          { name: 'Mail', type: 'email', column: 'mail' },
          { name: 'Site', type: 'url', column: 'site' },
          { name: 'Status', type: 'single_select', column: 'status', options: { choices: [{ label: 'Open' }, { label: 'Closed' }] } },
          { name: 'Parent', type: 'link', column: 'parent', options: { table_id: other } },
        ],
      },
    });
    expect(t.status, t.text).to.equal(201);
    target = t.body.id;
    for (const x of t.body.fields) f[x.column] = x.id;
    const r = await app.request('POST', `/tables/${target}/rows`, { json: { title: 'first', amount: '1.50', count: 2, done: true, day: '2024-01-02', status: 'Open' } });
    expect(r.status, r.text).to.equal(201);
    rowId = r.body.id;
    const g = await app.request('POST', `/tables/${target}/fields`, { json: { name: 'Gone', type: 'text', column: 'gone' } });
    goneField = g.body.id;
    expect((await app.request('DELETE', `/tables/${target}/fields/${goneField}`)).status).to.equal(200);
    binned = (await app.request('POST', '/tables', { json: { name: 'Binned' } })).body.id;
    expect((await app.request('DELETE', `/tables/${binned}`)).status).to.equal(200);
    userId = await addUser(app, 'user@example.com', 'editor');
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  // ------------------------------------------------------------- valid hostile strings

  it('hostile strings that are valid display names, labels, defaults, values and token names are stored verbatim, with safe physical names, changing only what was intended', async () => {
    const reserved = new Set((await sql.rows<{ word: string }>(`SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')`)).map((r) => r.word));
    const safe = (name: string) => IDENTIFIER_RE.test(name) && Buffer.byteLength(name) <= 63 && !reserved.has(name) && !name.startsWith('_tw_');
    const names = ALL.map(([, s]) => s).filter(validDisplay);
    expect(names.length).to.be.greaterThan(20);
    const before = await snapshot();

    // Tables named with every valid hostile string.
    const created: Array<{ id: number; name: string; table_name: string }> = [];
    for (const name of names) {
      const res = await app.request('POST', '/tables', { json: { name } });
      expect(res.status, `${JSON.stringify(name)}: ${res.text}`).to.equal(201);
      expect(res.body.name, 'stored verbatim').to.equal(name);
      expect(safe(res.body.table_name), `physical name ${res.body.table_name} of ${JSON.stringify(name)}`).to.equal(true);
      created.push(res.body);
    }
    for (const t of created) {
      const rel = await sql.rows(`SELECT obj_description(c.oid, 'pg_class') AS comment FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'data' AND c.relname = $1`, [t.table_name]);
      expect(rel, t.table_name).to.have.length(1);
      expect(rel[0].comment, 'the comment (a DDL literal) holds the name verbatim').to.equal(`${t.name} (tablewright table ${t.id})`);
      expect((await sql.one(`SELECT name FROM tablewright.tables WHERE id = $1`, [t.id])).name).to.equal(t.name);
    }

    // Fields named with them on one table, each with the string as its DDL default.
    const holder = created.find((t) => t.name === '<b>bold</b>')!;
    const fields: Array<{ id: number; name: string; column: string }> = [];
    for (const name of names) {
      const res = await app.request('POST', `/tables/${holder.id}/fields`, { json: { name, type: 'text', default: name } });
      expect(res.status, `${JSON.stringify(name)}: ${res.text}`).to.equal(201);
      expect(res.body.name).to.equal(name);
      expect(safe(res.body.column) && !RESERVED_COLUMNS.includes(res.body.column), `column ${res.body.column} of ${JSON.stringify(name)}`).to.equal(true);
      fields.push(res.body);
    }
    const row = await app.request('POST', `/tables/${holder.id}/rows`, { json: {} });
    expect(row.status, row.text).to.equal(201);
    for (const x of fields) {
      expect(row.body[x.column], `the default of ${x.column} round-trips through the DDL literal`).to.equal(x.name);
      const c = await sql.one(
        `SELECT col_description(c.oid, a.attnum) AS comment FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'data' AND c.relname = $1 AND a.attname = $2`,
        [holder.table_name, x.column],
      );
      expect(c.comment).to.equal(`${x.name} (tablewright field ${x.id} of table ${holder.id}) {"type":"text","options":{}}`);
      expect(parseColumnComment(c.comment), 'the comment reads back').to.deep.equal({ name: x.name, fieldId: x.id, tableId: holder.id, meta: { type: 'text', options: {} } });
    }

    // Option labels, chosen by label in rows.
    const labels = ALL.map(([, s]) => s).filter(validLabel);
    const sel = await app.request('POST', `/tables/${holder.id}/fields`, { json: { name: 'Hostile options', type: 'single_select', column: 'pick', options: { choices: labels.map((label) => ({ label })) } } });
    expect(sel.status, sel.text).to.equal(201);
    expect(sel.body.options.choices.map((c: { label: string }) => c.label)).to.deep.equal(labels);
    const picked = await app.request('POST', `/tables/${holder.id}/rows`, { json: labels.map((label) => ({ pick: label })) });
    expect(picked.status, picked.text).to.equal(201);
    expect(picked.body.rows.map((r: { pick: { label: string } }) => r.pick.label)).to.deep.equal(labels);

    // Text, long text and JSON values: every string but the NUL byte, verbatim.
    const values = ALL.map(([, s]) => s).filter((s) => !s.includes('\0') && !isBlank(s));
    const vr = await app.request('POST', `/tables/${target}/rows`, { json: values.map((s) => ({ title: s, notes: s, meta: { k: s } })) });
    expect(vr.status, vr.text).to.equal(201);
    const ids: number[] = vr.body.rows.map((r: { id: number }) => r.id);
    const stored = await sql.rows(`SELECT title, notes, meta FROM data.target WHERE id = ANY($1) ORDER BY id`, [ids]);
    expect(stored.map((s) => s.title)).to.deep.equal(values);
    expect(stored.map((s) => s.notes)).to.deep.equal(values);
    expect(stored.map((s) => s.meta.k)).to.deep.equal(values);
    expect((await sql.rows(`DELETE FROM data.target WHERE id = ANY($1) RETURNING id`, [ids])).length).to.equal(values.length);

    // Token names.
    const tokenNames = ALL.map(([, s]) => s).filter(validTokenName);
    for (const name of tokenNames) {
      const res = await app.request('POST', '/tokens', { json: { name, role: 'viewer' } });
      expect(res.status, `${JSON.stringify(name)}: ${res.text}`).to.equal(201);
      expect(res.body.name).to.equal(name.trim());
    }

    // A rename and a restore under hostile display names.
    const renamed = await app.request('PATCH', `/tables/${holder.id}`, { json: { name: `${holder.name} "; DROP TABLE y; --` } });
    expect(renamed.status, renamed.text).to.equal(200);
    expect(renamed.body.name).to.equal(`${holder.name} "; DROP TABLE y; --`);
    expect(safe(renamed.body.table_name)).to.equal(true);
    const victim = created.find((t) => t.name === '"; DROP TABLE x; --')!;
    expect((await app.request('DELETE', `/tables/${victim.id}`)).status).to.equal(200);
    const restored = await app.request('POST', `/tables/${victim.id}/restore`, { json: { name: "'); DROP TABLE tablewright.fields; -- (restored)" } });
    expect(restored.status, restored.text).to.equal(200);
    expect(restored.body.name).to.equal("'); DROP TABLE tablewright.fields; -- (restored)");

    // Exactly the intended change: the new tables (each with its id-named sequence and
    // primary key index), the columns, and nothing in any other schema, function or role.
    const after = await snapshot();
    for (const key of ['namespaces', 'functions', 'roles', 'triggers', 'eventTriggers', 'extensions', 'users']) {
      expect(after[key], key).to.deep.equal(before[key]);
    }
    const relKey = (r: { nspname: string; relname: string }) => `${r.nspname}.${r.relname}`;
    const beforeRels = new Set((before.allRelations as Array<{ nspname: string; relname: string }>).map(relKey));
    const added = (after.allRelations as Array<{ nspname: string; relname: string }>).map(relKey).filter((k) => !beforeRels.has(k)).sort();
    const renamedName = renamed.body.table_name as string;
    const expected = created
      .flatMap((t) => [`data.${t.id === holder.id ? renamedName : t.table_name}`, `data.seq_t${t.id}`, `data.pk_t${t.id}`])
      .sort();
    expect(added, 'the relations added').to.deep.equal(expected);
    const removed = [...beforeRels].filter((k) => !(after.allRelations as Array<{ nspname: string; relname: string }>).some((r) => relKey(r) === k));
    expect(removed, 'no relation was dropped').to.deep.equal([]);
    expect((after.tokens as unknown[]).length - (before.tokens as unknown[]).length).to.equal(tokenNames.length);

    // And every one renders escaped: the tables page, the table page, the tokens page.
    const pages = [
      (await app.request('GET', '/tables', { headers: { Accept: 'text/html' } })).text,
      (await app.request('GET', `/tables/${holder.id}`, { headers: { Accept: 'text/html' } })).text,
      (await app.request('GET', '/tokens', { headers: { Accept: 'text/html' } })).text,
    ];
    for (const s of [...names, ...tokenNames]) {
      const special = /[&<>"']/.test(s);
      const where = pages.map((p) => p.includes(ejsEscape(s)));
      expect(where.some(Boolean), `${JSON.stringify(s)} is shown (escaped)`).to.equal(true);
      if (special) for (const p of pages) expect(p.includes(s), `${JSON.stringify(s)} appears raw`).to.equal(false);
    }
    expect(pollution()).to.deep.equal([]);
  });

  // ------------------------------------------------------------- refused: tables

  it('POST /tables: hostile names, physical names, field lists, field types, columns and options are refused, nothing changes', async () => {
    const R = 'POST /tables';
    const cases: Case[] = [];
    for (const [label, s] of ALL) {
      if (!validDisplay(s)) cases.push(json('POST', '/tables', R, `name: ${label}`, { name: s }, 'name'));
      if (s !== '' && !validPhysical('table', s)) cases.push(json('POST', '/tables', R, `table_name: ${label}`, { name: 'Never created', table_name: s }, 'table_name'));
      if (!validDisplay(s)) cases.push(json('POST', '/tables', R, `fields[0].name: ${label}`, { name: 'Never created', fields: [{ name: s, type: 'text' }] }, 'fields.0.name'));
      cases.push(json('POST', '/tables', R, `fields[0].type: ${label}`, { name: 'Never created', fields: [{ name: 'A', type: s }] }, 'fields.0.type'));
      if (s !== '' && !validPhysical('column', s)) cases.push(json('POST', '/tables', R, `fields[0].column: ${label}`, { name: 'Never created', fields: [{ name: 'A', type: 'text', column: s }] }, 'fields.0.column'));
      if (!validLabel(s)) {
        cases.push(json('POST', '/tables', R, `option label: ${label}`, { name: 'Never created', fields: [{ name: 'A', type: 'single_select', options: { choices: [{ label: s }] } }] }, /^fields\.0\.options/));
      }
      if (!isBlank(s)) {
        cases.push(json('POST', '/tables', R, `option colour: ${label}`, { name: 'Never created', fields: [{ name: 'A', type: 'single_select', options: { choices: [{ label: 'a', color: s }] } }] }, /^fields\.0\.options/));
        cases.push(json('POST', '/tables', R, `number default: ${label}`, { name: 'Never created', fields: [{ name: 'A', type: 'number', default: s }] }, 'fields.0.default'));
      }
    }
    for (const [label, v] of [...WRONG_SHAPES, ['null', null] as [string, unknown]]) {
      cases.push(json('POST', '/tables', R, `name as ${label}`, { name: v }, 'name'));
      // null for an optional name means "not given" (derived from the display name).
      if (v !== null) cases.push(json('POST', '/tables', R, `table_name as ${label}`, { name: 'Never created', table_name: v }, 'table_name'));
      cases.push(json('POST', '/tables', R, `fields[0] as ${label}`, { name: 'Never created', fields: [v] }, /^fields\.0(\.|$)/));
      cases.push(json('POST', '/tables', R, `options as ${label}`, { name: 'Never created', fields: [{ name: 'A', type: 'single_select', options: { choices: [{ label: v }] } }] }, /^fields\.0\.options/));
    }
    for (const [label, v] of [['a string', 'Name'], ['a number', 1], ['an object', { a: { name: 'A', type: 'text' } }]] as Array<[string, unknown]>) {
      cases.push(json('POST', '/tables', R, `fields as ${label}`, { name: 'Never created', fields: v }, 'fields'));
    }
    for (const [label, v] of WRONG_BODIES) cases.push(json('POST', '/tables', R, label, v, undefined));
    // Names differing only by case are the same name.
    cases.push(json('POST', '/tables', R, 'name differing only by case', { name: 'TARGET' }, 'name', { status: [409] }));
    cases.push(json('POST', '/tables', R, 'field names differing only by case', { name: 'Never created', fields: [{ name: 'A', type: 'text' }, { name: 'a', type: 'text' }] }, 'fields.1.name', { status: [409] }));
    cases.push(json('POST', '/tables', R, 'physical name of another table', { name: 'Never created', table_name: 'target' }, 'table_name', { status: [409] }));
    // Form bodies: arrays and nested objects where strings go.
    cases.push({ route: R, label: 'form name[]', method: 'POST', path: '/tables', opts: { form: { 'name[]': 'x' } }, field: 'name' });
    cases.push({ route: R, label: 'form name[a]', method: 'POST', path: '/tables', opts: { form: { 'name[a]': 'x' } }, field: 'name' });
    cases.push({ route: R, label: 'form table_name[__proto__]', method: 'POST', path: '/tables', opts: { form: { name: 'Never created', 'table_name[__proto__]': 'x' } }, field: 'table_name' });
    await refusedAgainstSnapshot(cases);
  });

  it('PATCH /tables/:id and the restore routes: hostile names and physical names are refused, nothing changes', async () => {
    const cases: Case[] = [];
    const P = 'PATCH /tables/:id';
    for (const [label, s] of ALL) {
      if (!validDisplay(s)) cases.push(json('PATCH', `/tables/${target}`, P, `name: ${label}`, { name: s }, 'name'));
      if (s !== '' && !validPhysical('table', s)) cases.push(json('PATCH', `/tables/${target}`, P, `table_name: ${label}`, { name: 'Target', table_name: s }, 'table_name'));
      for (const [route, path] of [['POST /tables/:id/restore', `/tables/${binned}/restore`], ['POST /trash/tables/:id/restore', `/trash/tables/${binned}/restore`]]) {
        if (s !== '' && !validDisplay(s)) cases.push(json('POST', path!, route!, `name: ${label}`, { name: s }, 'name'));
        if (s !== '' && !validPhysical('table', s)) cases.push(json('POST', path!, route!, `table_name: ${label}`, { table_name: s }, 'table_name'));
      }
    }
    for (const [label, v] of WRONG_SHAPES) {
      cases.push(json('PATCH', `/tables/${target}`, P, `name as ${label}`, { name: v }, 'name'));
      cases.push(json('POST', `/tables/${binned}/restore`, 'POST /tables/:id/restore', `name as ${label}`, { name: v }, 'name'));
      cases.push(json('POST', `/tables/${binned}/restore`, 'POST /tables/:id/restore', `table_name as ${label}`, { table_name: v }, 'table_name'));
    }
    for (const [label, v] of WRONG_BODIES) {
      cases.push(json('PATCH', `/tables/${target}`, P, label, v));
      cases.push(json('POST', `/tables/${binned}/restore`, 'POST /tables/:id/restore', label, v));
      cases.push(json('POST', `/trash/tables/${binned}/restore`, 'POST /trash/tables/:id/restore', label, v));
    }
    cases.push(json('PATCH', `/tables/${target}`, P, 'name differing only by case from another table', { name: 'OTHER' }, 'name', { status: [409] }));
    cases.push(json('POST', `/tables/${binned}/restore`, 'POST /tables/:id/restore', 'name differing only by case', { name: 'other' }, 'name', { status: [409] }));
    await refusedAgainstSnapshot(cases);
  });

  // ------------------------------------------------------------- refused: fields

  it('fields: hostile names, types, columns, options, defaults, flags and orders on add, change, restore and reorder are refused, nothing changes', async () => {
    const cases: Case[] = [];
    const A = 'POST /tables/:id/fields';
    const U = 'PATCH /tables/:id/fields/:fid';
    const add = `/tables/${target}/fields`;
    const title = `/tables/${target}/fields/${f.title}`;
    for (const [label, s] of ALL) {
      if (!validDisplay(s)) cases.push(json('POST', add, A, `name: ${label}`, { name: s, type: 'text' }, 'name'));
      cases.push(json('POST', add, A, `type: ${label}`, { name: 'Never', type: s }, 'type'));
      if (s !== '' && !validPhysical('column', s)) cases.push(json('POST', add, A, `column: ${label}`, { name: 'Never', type: 'text', column: s }, 'column'));
      if (!isBlank(s)) cases.push(json('POST', add, A, `number default: ${label}`, { name: 'Never', type: 'number', default: s }, 'default'));
      if (!isBlank(s)) cases.push(json('POST', add, A, `not_null: ${label}`, { name: 'Never', type: 'text', not_null: s }, 'not_null'));
      if (!validLabel(s)) cases.push(json('POST', add, A, `option label: ${label}`, { name: 'Never', type: 'single_select', options: { choices: [{ label: s }] } }, /^options/));
      cases.push(json('POST', add, A, `link table_id: ${label}`, { name: 'Never', type: 'link', options: { table_id: s } }, /^options/));
      // Form-encoded, where options arrive as strings and the type picks which are kept.
      cases.push({ route: A, label: `form type: ${label}`, method: 'POST', path: add, opts: { form: { name: 'Never', type: s, 'options[decimals]': '2' } }, field: 'type' });

      if (s !== '' && !validDisplay(s)) cases.push(json('PATCH', title, U, `name: ${label}`, { name: s }, 'name'));
      if (s !== '' && !validPhysical('column', s)) cases.push(json('PATCH', title, U, `column: ${label}`, { column: s }, 'column'));
      if (s !== '') cases.push(json('PATCH', title, U, `type: ${label}`, { type: s }, 'type'));
      if (s !== '') cases.push(json('PATCH', title, U, `dry run to type: ${label}`, { type: s, dry_run: true }, 'type'));
      if (!isBlank(s)) cases.push(json('PATCH', `/tables/${target}/fields/${f.amount}`, U, `number default: ${label}`, { default: s }, 'default'));
      if (!isBlank(s)) cases.push(json('PATCH', title, U, `unique: ${label}`, { unique: s }, 'unique'));
      if (!isBlank(s)) cases.push(json('PATCH', title, U, `dry_run: ${label}`, { type: 'number', dry_run: s }, 'dry_run'));
      if (!validLabel(s)) cases.push(json('PATCH', `/tables/${target}/fields/${f.status}`, U, `option label: ${label}`, { options: { choices: [{ label: 'Open' }, { label: s }] } }, /^options/));
      if (s !== '') cases.push({ route: U, label: `form options_json: ${label}`, method: 'PATCH', path: title, opts: { form: { type: 'single_select', options_json: s } }, field: /^options/ });

      for (const [route, path] of [['POST /tables/:id/fields/:fid/restore', `/tables/${target}/fields/${goneField}/restore`], ['POST /trash/fields/:fid/restore', `/trash/fields/${goneField}/restore`]]) {
        if (s !== '' && !validDisplay(s)) cases.push(json('POST', path!, route!, `name: ${label}`, { name: s }, 'name'));
        if (s !== '' && !validPhysical('column', s)) cases.push(json('POST', path!, route!, `column: ${label}`, { column: s }, 'column'));
      }
      cases.push(json('POST', `/tables/${target}/fields/order`, 'POST /tables/:id/fields/order', `order: ${label}`, { order: s }, 'order'));
      cases.push(json('POST', `/tables/${target}/fields/order`, 'POST /tables/:id/fields/order', `order: [${label}]`, { order: [s] }, 'order'));
    }
    for (const [label, v] of WRONG_SHAPES) {
      cases.push(json('POST', add, A, `name as ${label}`, { name: v, type: 'text' }, 'name'));
      cases.push(json('POST', add, A, `type as ${label}`, { name: 'Never', type: v }, 'type'));
      cases.push(json('POST', add, A, `column as ${label}`, { name: 'Never', type: 'text', column: v }, 'column'));
      cases.push(json('POST', add, A, `options as ${label}`, { name: 'Never', type: 'text', options: v }, /^options/));
      cases.push(json('PATCH', title, U, `name as ${label}`, { name: v }, 'name'));
      cases.push(json('PATCH', title, U, `type as ${label}`, { type: v }, 'type'));
      cases.push(json('PATCH', title, U, `options as ${label}`, { options: v }, /^options/));
    }
    for (const [label, v] of [['a negative id', [-1]], ['a fraction', [1.5]], ['an unknown id', [999999]], ['an id twice', [f.title, f.title]], ['an object', { a: f.title }], ['a nested list', [[f.title]]], ['nothing', []]] as Array<[string, unknown]>) {
      cases.push(json('POST', `/tables/${target}/fields/order`, 'POST /tables/:id/fields/order', `order as ${label}`, { order: v }, 'order'));
    }
    for (const [label, v] of WRONG_BODIES) {
      cases.push(json('POST', add, A, label, v));
      cases.push(json('PATCH', title, U, label, v));
      cases.push(json('POST', `/tables/${target}/fields/${goneField}/restore`, 'POST /tables/:id/fields/:fid/restore', label, v));
      cases.push(json('POST', `/tables/${target}/fields/order`, 'POST /tables/:id/fields/order', label, v));
    }
    cases.push(json('POST', add, A, 'name differing only by case', { name: 'TITLE', type: 'text' }, 'name', { status: [409] }));
    cases.push(json('PATCH', title, U, 'rename to another field by case', { name: 'notes' }, 'name', { status: [409] }));
    cases.push(json('POST', add, A, 'column of another field', { name: 'Never', type: 'text', column: 'amount' }, 'column', { status: [409] }));
    cases.push(json('POST', add, A, 'link to a table that does not exist', { name: 'Never', type: 'link', options: { table_id: 999999 } }, 'options.table_id'));
    cases.push(json('POST', add, A, 'options with an unknown key', { name: 'Never', type: 'text', options: { evil: 1 } }, /^options/));
    cases.push(json('POST', add, A, 'options __proto__', JSON.parse('{"name":"Never","type":"text","options":{"__proto__":{"polluted":1}}}'), /^options/));
    await refusedAgainstSnapshot(cases);
  });

  // ------------------------------------------------------------- refused: rows

  it('rows API: hostile keys, values, bulk bodies, sort and filter keys (other tables, system columns) are refused, nothing changes', async () => {
    const cases: Case[] = [];
    const C = 'POST /tables/:id/rows';
    const U = 'PATCH /tables/:id/rows/:rid';
    const rows = `/tables/${target}/rows`;
    const one = `${rows}/${rowId}`;
    const typed = ['amount', 'count', 'done', 'day', 'at', 'meta', 'mail', 'site', 'status', 'parent'];
    for (const [label, s] of ALL) {
      // A key that names no field: system columns, other tables, the catalog, the id.
      const keyField = s === '' ? undefined : s.slice(0, 60);
      cases.push(json('POST', rows, C, `key: ${label}`, { [s]: 'x' }, keyField, { status: [400, 422] }));
      if (s !== 'id') cases.push(json('PATCH', one, U, `key: ${label}`, { [s]: 'x' }, keyField, { status: [400, 422] }));
      if (!isBlank(s)) {
        for (const col of typed) {
          cases.push(json('POST', rows, C, `${col}: ${label}`, { [col]: s }, col, { status: [422] }));
          cases.push(json('PATCH', one, U, `${col}: ${label}`, { [col]: s }, col, { status: [422] }));
        }
        cases.push(json('PATCH', rows, 'PATCH /tables/:id/rows', `bulk ${'amount'}: ${label}`, [{ id: rowId, amount: s }], 'amount', { status: [422] }));
        cases.push(json('PATCH', rows, 'PATCH /tables/:id/rows', `bulk id: ${label}`, [{ id: s, title: 'x' }], 'id', { status: [422] }));
        cases.push(json('DELETE', rows, 'DELETE /tables/:id/rows', `ids: [${label}]`, { ids: [s] }, 'ids'));
      }
      if (s.includes('\0')) for (const col of ['title', 'notes', 'meta']) cases.push(json('POST', rows, C, `${col}: ${label}`, { [col]: s }, col, { status: [422] }));
      // Listing: sort and filter keys that name no field, operators that do not exist, bad values.
      const q = (params: Record<string, string>) => `${rows}?${new URLSearchParams(params)}`;
      const L = 'GET /tables/:id/rows';
      if (!knownKey(s)) {
        cases.push({ route: L, label: `sort: ${label}`, method: 'GET', path: q({ sort: s }), field: 'sort' });
        cases.push({ route: L, label: `sort: -${label}`, method: 'GET', path: q({ sort: `-${s}` }), field: 'sort' });
        // The query parser drops a __proto__ key (filter[__proto__]... is no filter): a read.
        cases.push({ route: L, label: `filter key: ${label}`, method: 'GET', path: q({ [`filter[${s}][eq]`]: '1' }), field: /^filter/, read: s === '__proto__' });
        cases.push({ route: 'GET /tables/:id/rows.csv', label: `sort: ${label}`, method: 'GET', path: `${rows}.csv?${new URLSearchParams({ sort: s })}`, field: 'sort' });
      }
      if (s !== '') {
        cases.push({ route: L, label: `filter op: ${label}`, method: 'GET', path: q({ 'filter[title][x]': '1' }).replace('%5Bx%5D', `%5B${encodeURIComponent(s)}%5D`), field: /^filter/, read: s === '__proto__' });
        cases.push({ route: L, label: `size: ${label}`, method: 'GET', path: q({ size: s }), field: 'size' });
        cases.push({ route: L, label: `page: ${label}`, method: 'GET', path: q({ page: s }), field: 'page' });
        cases.push({ route: L, label: `after: ${label}`, method: 'GET', path: q({ after: s }), field: 'after' });
      }
      if (!isBlank(s)) {
        for (const [col, op] of [['amount', 'gt'], ['count', 'eq'], ['day', 'lt'], ['at', 'gte'], ['id', 'eq'], ['status', 'eq'], ['parent', 'in'], ['done', 'eq']]) {
          cases.push({ route: L, label: `filter ${col} ${op}: ${label}`, method: 'GET', path: q({ [`filter[${col}][${op}]`]: s }), field: /^filter/ });
        }
      }
      // Text filters and search are valid reads: they answer (no rows), or refuse a NUL byte.
      cases.push({ route: L, label: `search: ${label}`, method: 'GET', path: q({ search: s }), read: true });
      cases.push({ route: L, label: `filter title eq: ${label}`, method: 'GET', path: q({ 'filter[title][eq]': s }), read: true });
      cases.push({ route: L, label: `filter title contains: ${label}`, method: 'GET', path: q({ 'filter[title][contains]': s }), read: true });
    }
    // Cursors that decode but do not fit the sort (a text value for the id, too many keys).
    const cursor = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const [label, c, sort] of [
      ['text for the id', cursor(['abc']), ''],
      ['beyond bigint', cursor(['99999999999999999999999']), ''],
      ['SQL in a cursor', cursor(["1; DROP TABLE x; --"]), ''],
      ['a bad date', cursor(['not a date', '1']), 'day'],
      ['a bad number', cursor(['1e999999', '1']), 'amount'],
      ['too many keys', cursor(['1', '2', '3']), ''],
      ['an object', cursor({ a: 1 }), ''],
    ] as Array<[string, string, string]>) {
      cases.push({ route: 'GET /tables/:id/rows', label: `after: ${label}`, method: 'GET', path: `${rows}?${new URLSearchParams({ after: c, ...(sort ? { sort } : {}) })}`, field: 'after' });
    }
    // Datetime values at the edges of what PostgreSQL stores.
    for (const v of ['9999-12-31T23:59:59-14:00', '0001-01-01T00:00:00+14:00']) {
      cases.push(json('POST', rows, C, `datetime ${v}`, { at: v }, 'at', { status: [422] }));
      cases.push({ route: 'GET /tables/:id/rows', label: `filter datetime ${v}`, method: 'GET', path: `${rows}?${new URLSearchParams({ 'filter[at][gt]': v })}`, read: true });
    }
    for (const [label, v] of [['an object for text', { a: 1 }], ['a list for text', ['a']], ['a list for a number', [1]], ['an object for a date', { y: 2024 }], ['a huge number', '9'.repeat(400)], ['beyond bigint', '9999999999999999999999'], ['hex', '0x10'], ['NaN', 'NaN'], ['Infinity', 'Infinity']] as Array<[string, unknown]>) {
      const col = /text/.test(label) ? 'title' : /date/.test(label) ? 'day' : 'count';
      cases.push(json('POST', rows, C, `${col}: ${label}`, { [col]: v }, col, { status: [422] }));
    }
    for (const [label, v] of [...WRONG_BODIES, ['a list of numbers', [1, 2]], ['an empty list', []], ['rows as a string', { rows: 'x' }]] as Array<[string, unknown]>) {
      cases.push(json('POST', rows, C, label, v));
      cases.push(json('PATCH', rows, 'PATCH /tables/:id/rows', label, v));
      cases.push(json('DELETE', rows, 'DELETE /tables/:id/rows', label, v));
      if (label !== 'rows as a string') cases.push(json('PATCH', one, U, label, v));
    }
    cases.push(json('DELETE', rows, 'DELETE /tables/:id/rows', 'ids of no rows', { ids: [999999] }, 'ids', { status: [404] }));
    cases.push(json('POST', rows, C, 'a key __proto__', JSON.parse('{"__proto__":{"polluted":1}}'), '__proto__', { status: [422] }));
    await refusedAgainstSnapshot(cases);
  });

  // ------------------------------------------------------------- refused: grid, cells, CSV

  it('grid, cells and CSV import: hostile filters, columns, values and header names are refused (or shown as a problem), nothing changes', async () => {
    const cases: Case[] = [];
    const base = `/tables/${target}`;
    const HX = { Accept: 'text/html', 'HX-Request': 'true' };
    for (const [label, s] of ALL) {
      const enc = encodeURIComponent(s);
      if (s !== '') {
        // The grid shows a query it refuses as a problem beside the rows (200), never a 5xx.
        const grids: Array<Record<string, string>> = [{ fc: s, fo: 'eq', fv: '1' }, { fc: 'title', fo: s, fv: '1' }, { fc: 'amount', fo: 'gt', fv: s }, { sort: s }, { size: s }, { page: s }, { 'filter[__proto__][eq]': s }];
        for (const params of grids) {
          cases.push({ route: 'GET /tables/:id/grid', label: `${Object.keys(params).join('/')}: ${label}`, method: 'GET', path: `${base}/grid?${new URLSearchParams(params)}`, opts: { headers: HX }, read: true });
        }
        cases.push({ route: 'GET /tables/:id/grid', label: `fc=__proto__ fo=${label}`, method: 'GET', path: `${base}/grid?${new URLSearchParams({ fc: '__proto__', fo: s, fv: '1' })}`, opts: { headers: HX }, read: true });
        cases.push({ route: 'GET /tables/:id', label: `page fc: ${label}`, method: 'GET', path: `${base}?${new URLSearchParams({ fc: s, fo: 'eq', fv: s.slice(0, 100) })}`, opts: { headers: { Accept: 'text/html' } }, read: true });
        // Cells of columns that are no field's: system columns, other tables, the catalog.
        if (s.length < 5000) {
          cases.push({ route: 'GET /tables/:id/rows/:rid/cells/:column', label: `column: ${label}`, method: 'GET', path: `${base}/rows/${rowId}/cells/${enc}`, opts: { headers: HX }, status: [400, 404] });
          cases.push({ route: 'GET /tables/:id/rows/:rid/cells/:column/edit', label: `column: ${label}`, method: 'GET', path: `${base}/rows/${rowId}/cells/${enc}/edit`, opts: { headers: HX }, status: [400, 404] });
          cases.push({ route: 'PATCH /tables/:id/rows/:rid/cells/:column', label: `column: ${label}`, method: 'PATCH', path: `${base}/rows/${rowId}/cells/${enc}`, opts: { json: { value: 'x' } }, status: [400, 404] });
        }
      }
      if (!isBlank(s)) {
        for (const col of ['amount', 'day', 'status', 'parent', 'mail', 'site']) {
          cases.push({ route: 'PATCH /tables/:id/rows/:rid/cells/:column', label: `${col} value: ${label}`, method: 'PATCH', path: `${base}/rows/${rowId}/cells/${col}`, opts: { json: { value: s } }, status: [422] });
          cases.push({ route: 'POST /tables/:id/grid/rows', label: `${col}: ${label}`, method: 'POST', path: `${base}/grid/rows`, opts: { json: { [col]: s } }, status: [422], field: col });
        }
        // (The form parser drops a __proto__ key: that form is an empty one, which adds an empty row.)
        if (s !== '__proto__') cases.push({ route: 'POST /tables/:id/grid/rows', label: `form key: ${label}`, method: 'POST', path: `${base}/grid/rows`, opts: { form: { [s]: 'x' } }, status: [422] });
      }
      // CSV headers that name no field (system columns, other tables, the id is the export's own).
      if (s !== 'id') {
        const header = `title,"${s.replace(/"/g, '""')}"\r\nx,y\r\n`;
        cases.push({ route: 'POST /tables/:id/rows/import', label: `header: ${label}`, method: 'POST', path: `${base}/rows/import`, raw: { text: header, contentType: 'text/csv' }, status: [422], field: 'header' });
      }
      if (!isBlank(s)) {
        const body = `title,amount\r\nx,"${s.replace(/"/g, '""')}"\r\n`;
        cases.push({ route: 'POST /tables/:id/rows/import', label: `amount value: ${label}`, method: 'POST', path: `${base}/rows/import`, raw: { text: body, contentType: 'text/csv' }, status: [422], field: 'amount' });
      }
    }
    for (const [label, v] of [['an object', { a: 1 }], ['a list', ['1', { a: 1 }]]] as Array<[string, unknown]>) {
      cases.push({ route: 'PATCH /tables/:id/rows/:rid/cells/:column', label: `amount value as ${label}`, method: 'PATCH', path: `${base}/rows/${rowId}/cells/amount`, opts: { json: { value: v } }, status: [422] });
    }
    for (const [label, v] of WRONG_BODIES) {
      cases.push({ route: 'PATCH /tables/:id/rows/:rid/cells/:column', label, method: 'PATCH', path: `${base}/rows/${rowId}/cells/title`, opts: { json: v } });
      cases.push({ route: 'POST /tables/:id/grid/rows', label, method: 'POST', path: `${base}/grid/rows`, opts: { json: v } });
    }
    cases.push({ route: 'POST /tables/:id/rows/import', label: 'not CSV', method: 'POST', path: `${base}/rows/import`, raw: { json: [{ title: 'x' }] }, status: [415] });
    cases.push({ route: 'POST /tables/:id/rows/import', label: 'a broken quote', method: 'POST', path: `${base}/rows/import`, raw: { text: 'title\r\n"x\r\n', contentType: 'text/csv' }, status: [422] });
    cases.push({ route: 'POST /tables/:id/rows/import', label: 'a header naming one field twice', method: 'POST', path: `${base}/rows/import`, raw: { text: 'title,TITLE\r\nx,y\r\n', contentType: 'text/csv' }, status: [422] });
    const before = pollution();
    await refusedAgainstSnapshot(cases);
    // The grid answers what it refuses as a visible problem, escaped.
    const res = await app.request('GET', `${base}/grid?${new URLSearchParams({ fc: '<b>bold</b>', fo: 'eq', fv: '1' })}`, { headers: HX });
    expect(res.status).to.equal(200);
    expect(res.text).to.match(/class="error[^"]*" role="alert"/);
    expect(res.text).not.to.include('<b>bold</b>');
    expect(before).to.deep.equal([]);
  });

  // ------------------------------------------------------------- refused: accounts

  it('tokens, users, login and setup: hostile names, roles, emails and passwords are refused, nothing changes', async () => {
    const cases: Case[] = [];
    const validPassword = (s: string) => s.length >= 8 && s.length <= 1024 && !s.includes('\0');
    const pre = await formToken(app);
    for (const [label, s] of ALL) {
      if (!validTokenName(s)) cases.push(json('POST', '/tokens', 'POST /tokens', `name: ${label}`, { name: s, role: 'viewer' }, 'name', { status: [422] }));
      cases.push(json('POST', '/tokens', 'POST /tokens', `role: ${label}`, { name: 'never', role: s }, 'role', { status: [422] }));
      cases.push(json('POST', '/users', 'POST /users', `email: ${label}`, { email: s, role: 'viewer', password: 'long enough' }, 'email', { status: [422] }));
      cases.push(json('POST', '/users', 'POST /users', `role: ${label}`, { email: 'never@example.com', role: s, password: 'long enough' }, 'role', { status: [422] }));
      if (!validPassword(s) && s !== '') cases.push(json('POST', '/users', 'POST /users', `password: ${label}`, { email: 'never@example.com', role: 'viewer', password: s }, 'password', { status: [422] }));
      if (s !== '') cases.push(json('PATCH', `/users/${userId}`, 'PATCH /users/:id', `role: ${label}`, { role: s }, 'role', { status: [422] }));
      if (!validPassword(s) && s !== '') cases.push(json('PATCH', `/users/${userId}`, 'PATCH /users/:id', `password: ${label}`, { password: s }, 'password', { status: [422] }));
      cases.push({ route: 'POST /login', label: `email: ${label}`, method: 'POST', path: '/login', opts: { auth: false, json: { email: s, password: 'whatever it is' } }, status: [400, 401] });
      // Passwords never reach SQL (only their scrypt hash does, ~50 ms each): the ones that test a limit.
      if (s.length === 0 || isBlank(s) || s.includes('\0') || s.length > 1024 || s.includes("'")) {
        cases.push({ route: 'POST /login', label: `password: ${label}`, method: 'POST', path: '/login', opts: { auth: false, json: { email: 'user@example.com', password: s } }, status: [400, 401] });
        cases.push({ route: 'POST /login', label: `form next: ${label}`, method: 'POST', path: '/login', opts: { auth: { cookie: pre.cookie }, form: { email: 'user@example.com', password: 'wrong password', next: s, _csrf: pre.csrf } }, status: [400, 401] });
      }
      cases.push({ route: 'POST /setup', label: `token: ${label}`, method: 'POST', path: '/setup', opts: { auth: false, json: { token: s, email: 'never@example.com', password: 'long enough' } }, status: [403, 409] });
    }
    for (const [label, v] of WRONG_SHAPES) {
      cases.push(json('POST', '/tokens', 'POST /tokens', `name as ${label}`, { name: v, role: 'viewer' }, 'name', { status: [422] }));
      cases.push(json('POST', '/users', 'POST /users', `email as ${label}`, { email: v, role: 'viewer', password: 'long enough' }, 'email', { status: [422] }));
      cases.push({ route: 'POST /login', label: `email as ${label}`, method: 'POST', path: '/login', opts: { auth: false, json: { email: v, password: 'x' } }, field: 'email', status: [400] });
      cases.push({ route: 'POST /login', label: `password as ${label}`, method: 'POST', path: '/login', opts: { auth: false, json: { email: 'user@example.com', password: v } }, field: 'password', status: [400] });
    }
    for (const [label, v] of WRONG_BODIES) {
      cases.push(json('POST', '/tokens', 'POST /tokens', label, v));
      cases.push(json('POST', '/users', 'POST /users', label, v));
      cases.push(json('PATCH', `/users/${userId}`, 'PATCH /users/:id', label, v));
      cases.push({ route: 'POST /login', label, method: 'POST', path: '/login', opts: { auth: false, json: v } });
      cases.push({ route: 'POST /setup', label, method: 'POST', path: '/setup', opts: { auth: false, json: v } });
    }
    cases.push(json('POST', '/users', 'POST /users', 'an email differing only by case', { email: 'USER@example.com', role: 'viewer', password: 'long enough' }, 'email', { status: [409] }));
    await refusedAgainstSnapshot(cases);
  });

  it('trash and drift actions: hostile confirmations, items, actions and flags are refused, nothing changes', async () => {
    const cases: Case[] = [];
    for (const [label, s] of ALL) {
      cases.push(json('POST', `/trash/tables/${binned}/purge`, 'POST /trash/tables/:id/purge', `confirm: ${label}`, { confirm: s }, undefined, { status: [400, 422] }));
      cases.push(json('POST', `/trash/fields/${goneField}/purge`, 'POST /trash/fields/:fid/purge', `confirm: ${label}`, { confirm: s }, undefined, { status: [400, 422] }));
      if (!isBlank(s)) cases.push(json('POST', '/trash/cleanup', 'POST /trash/cleanup', `dry_run: ${label}`, { dry_run: s }, 'dry_run'));
      cases.push(json('POST', '/reconcile/actions', 'POST /reconcile/actions', `item: ${label}`, { item: s, action: 'adopt' }));
      cases.push(json('POST', '/reconcile/actions', 'POST /reconcile/actions', `action: ${label}`, { item: 'x', action: s }));
    }
    for (const [label, v] of WRONG_BODIES) {
      cases.push(json('POST', `/trash/tables/${binned}/purge`, 'POST /trash/tables/:id/purge', label, v));
      cases.push(json('POST', '/trash/cleanup', 'POST /trash/cleanup', label, v));
      cases.push(json('POST', '/reconcile/actions', 'POST /reconcile/actions', label, v));
    }
    await refusedAgainstSnapshot(cases);
  });

  // ------------------------------------------------------------- every route of the route table

  it('every route with a path parameter refuses hostile ids (negative, 1e3, 0x10, beyond bigint, `..`, SQL, NUL, malformed escapes) with 400 or 404, nothing changes', async () => {
    const cases: Case[] = [];
    for (const r of allRoutes) {
      if (!/:[A-Za-z_]/.test(r.path)) continue;
      for (const [label, id] of HOSTILE_IDS) {
        // The 10,000-character id in the first parameter only: three of them pass Node's
        // 16 KB header limit, which closes the connection before the app sees anything.
        let first = true;
        const path = r.path.replace(/:[A-Za-z_][A-Za-z0-9_]*/g, () => (first || id.length < 100 ? ((first = false), id) : '1'));
        cases.push({ route: `${r.method.toUpperCase()} ${r.path}`, label: `ids: ${label}`, method: r.method.toUpperCase(), path, raw: { json: {} }, status: [400, 404] });
      }
    }
    const routesWithParams = allRoutes.filter((r) => r.path.includes(':')).length;
    expect(new Set(cases.map((c) => c.route)).size).to.equal(routesWithParams);
    await refusedAgainstSnapshot(cases);
  });

  it('every route that takes a body refuses a body of the wrong shape (a list, a string, a number, null) on real ids, nothing changes', async () => {
    // Routes that read no body (they act on the path alone) are not asked.
    const bodyless = new Set(['DELETE /tables/:id', 'DELETE /tables/:id/fields/:fid', 'DELETE /tables/:id/rows/:rid', 'DELETE /tables/:id/grid/rows/:rid', 'DELETE /tokens/:id', 'DELETE /users/:id', 'POST /logout']);
    const idsFor = (path: string): Record<string, string> => {
      if (/^\/tables\/:id\/restore$|^\/trash\/tables\//.test(path)) return { id: String(binned) };
      if (/\/fields\/:fid\/restore$|^\/trash\/fields\//.test(path)) return { id: String(target), fid: String(goneField) };
      if (path.startsWith('/users/')) return { id: String(userId) };
      return { id: String(target), fid: String(f.title), rid: String(rowId), column: 'title' };
    };
    const cases: Case[] = [];
    for (const r of allRoutes) {
      const key = `${r.method.toUpperCase()} ${r.path}`;
      if (r.method === 'get' || bodyless.has(key)) continue;
      const ids = idsFor(r.path);
      const path = r.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => ids[name] ?? '999999');
      const auth = r.access === 'public' ? { auth: false as const } : {};
      for (const [label, v] of [...WRONG_BODIES, ['a list of numbers', [1, 2]]] as Array<[string, unknown]>) {
        // The row routes take lists of rows: a list of numbers is their wrong shape.
        if (Array.isArray(v) && v.length === 1 && /\/rows$/.test(r.path)) continue;
        cases.push({ route: key, label, method: r.method.toUpperCase(), path, opts: { ...auth, json: v } });
      }
    }
    await refusedAgainstSnapshot(cases);
  });

  it('every GET route answers hostile query strings without a 5xx or a hang, and changes nothing', async () => {
    const cases: Case[] = [];
    const variants: Array<Record<string, string>> = [{}, { Accept: 'text/html' }, { Accept: 'text/html', 'HX-Request': 'true' }];
    for (const r of allRoutes) {
      if (r.method !== 'get') continue;
      const path = r.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => ({ id: String(target), fid: String(f.title), rid: String(rowId), column: 'title' })[name] ?? '1');
      ALL.forEach(([label, s], i) => {
        if (s.length > 1000) return;
        const q = new URLSearchParams({ sort: s, search: s, size: s, page: s, after: s, trashed: s, excel: s, next: s, token: s, [`filter[${s}][eq]`]: s, fc: s, fo: s, fv: s });
        // JSON, page and fragment in turn: each string meets each answer kind on some route.
        const headers = variants[i % variants.length]!;
        cases.push({ route: `GET ${r.path}`, label: `${label} ${JSON.stringify(headers)}`, method: 'GET', path: `${path}?${q}`, opts: { headers }, read: true, status: [400, 404, 422] });
      });
    }
    // The drift report (also behind /trash) one at a time: concurrent ones starve the pool
    // (see the pool test below).
    const heavy = (c: Case) => c.route === 'GET /reconcile' || c.route === 'GET /trash';
    await refusedAgainstSnapshot(cases.filter((c) => !heavy(c)));
    await refusedAgainstSnapshot(cases.filter(heavy), 1);
  });

  // takeSnapshot() holds one connection while it waits for two more: several at once
  // used to take the whole pool and wait for each other. Snapshots are now taken one at
  // a time per pool.
  it('concurrent drift reports do not starve the pool (snapshots are taken one at a time per pool)', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => app.request('GET', '/reconcile')));
    expect(answers.map((a) => a.status)).to.deep.equal(Array(8).fill(200));
  });
});
