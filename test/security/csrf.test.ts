// CSRF: a cookie-authenticated change needs the session's token (form field or header);
// bearer requests need none; a cross-site POST is refused even with a valid session.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { addUser, formToken, login, PASSWORD, type Session } from '../auth/lib.js';

describe('CSRF protection', () => {
  let db: TestDatabase;
  let app: TestApp;
  let admin: Session;
  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    await addUser(app, 'root@example.com', 'admin');
    admin = await login(app, 'root@example.com');
  });
  after(async () => {
    await app?.stop();
    await db?.drop();
  });

  const tokenCount = async () => (await app.ctx.pool.query('SELECT count(*)::int AS n FROM tablewright.api_tokens')).rows[0].n as number;

  it('refuses a cross-site form POST with a valid session cookie but no token (403 csrf), and changes nothing', async () => {
    const before = await tokenCount();
    // What a hostile page's auto-submitting form sends: the cookie rides along, the token cannot.
    const res = await app.request('POST', '/tokens', {
      auth: { cookie: admin.cookie },
      form: { name: 'stolen', role: 'admin' },
      headers: { Accept: 'text/html', Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
    });
    expect(res.status).to.equal(403);
    expect(await tokenCount()).to.equal(before);
    // and without the Sec-Fetch-Site hint (older browsers): the missing token alone refuses it
    const plain = await app.request('POST', '/tokens', { auth: { cookie: admin.cookie }, form: { name: 'stolen', role: 'admin' } });
    expect(plain.status).to.equal(403);
    expect(plain.body.error.code).to.equal('csrf');
    expect(await tokenCount()).to.equal(before);
  });

  it('refuses a wrong token, and a token from another session', async () => {
    const other = await login(app, 'root@example.com');
    for (const csrf of ['x'.repeat(43), other.csrf]) {
      const res = await app.request('POST', '/tokens', { auth: { cookie: admin.cookie }, form: { name: 'n', role: 'viewer', _csrf: csrf } });
      expect(res.status).to.equal(403);
      expect(res.body.error.code).to.equal('csrf');
    }
  });

  it('accepts the token from the _csrf form field (which handlers never see) or the X-CSRF-Token header', async () => {
    const form = await app.request('POST', '/users', {
      auth: { cookie: admin.cookie },
      form: { email: 'form@example.com', role: 'viewer', password: 'long enough', _csrf: admin.csrf },
    });
    expect(form.status).to.equal(201);
    const header = await app.request('POST', '/tokens', {
      auth: { cookie: admin.cookie },
      json: { name: 'via header', role: 'viewer' },
      headers: { 'X-CSRF-Token': admin.csrf },
    });
    expect(header.status).to.equal(201);
  });

  it('needs no token for reads, nor for bearer requests', async () => {
    expect((await app.request('GET', '/tokens', { auth: { cookie: admin.cookie } })).status).to.equal(200);
    const bearer = await app.request('POST', '/tokens', { json: { name: 'script', role: 'viewer' } });
    expect(bearer.status).to.equal(201);
  });

  it('refuses a cross-site login form (login CSRF) before checking anything', async () => {
    const res = await app.request('POST', '/login', {
      auth: false,
      json: { email: 'root@example.com', password: 'whatever' },
      headers: { 'Sec-Fetch-Site': 'cross-site' },
    });
    expect(res.status).to.equal(403);
    expect(res.body.error.code).to.equal('csrf');
  });

  it('login CSRF without Sec-Fetch-Site (older browsers): a sign-in form POST needs the token its page set in a pre-session cookie', async () => {
    const attempts = async () => (await app.ctx.pool.query('SELECT count(*)::int AS n FROM tablewright.login_failures')).rows[0].n as number;
    const sessions = async () => (await app.ctx.pool.query('SELECT count(*)::int AS n FROM tablewright.sessions')).rows[0].n as number;
    const before = { attempts: await attempts(), sessions: await sessions() };
    const page = await app.request('GET', '/login', { auth: false, headers: { Accept: 'text/html' } });
    const setCookie = page.headers.getSetCookie().find((c) => c.startsWith('tw_presession='))!;
    expect(setCookie).to.match(/HttpOnly/i).and.match(/SameSite=Lax/i);
    const cookie = setCookie.split(';')[0]!;
    const token = cookie.slice('tw_presession='.length);
    expect(page.text).to.include(`name="_csrf" value="${token}"`);
    const form = { email: 'root@example.com', password: PASSWORD };
    const other = await formToken(app); // another browser's cookie and token
    // what a hostile page's form sends: no cookie (SameSite) or no matching token
    for (const [label, opts] of [
      ['no cookie, no token', { auth: false as const, form }],
      ['no cookie, a guessed token', { auth: false as const, form: { ...form, _csrf: token } }],
      ['the cookie, no token', { auth: { cookie }, form }],
      ['the cookie, another browser\'s token', { auth: { cookie }, form: { ...form, _csrf: other.csrf } }],
    ] as const) {
      const res = await app.request('POST', '/login', { ...opts, headers: { Accept: 'text/html' } });
      expect(res.status, label).to.equal(403);
      expect(res.text, label).to.include('reload the page');
    }
    // routing ignores case and a trailing slash: so does the check
    expect((await app.request('POST', '/LOGIN/', { auth: false, form, headers: { Accept: 'text/html' } })).status).to.equal(403);
    expect(await attempts(), 'no password was checked').to.equal(before.attempts);
    expect(await sessions(), 'nobody was signed in').to.equal(before.sessions);
    // the page's own form goes through, and the pre-session cookie is dropped
    const ok = await app.request('POST', '/login', { auth: { cookie }, form: { ...form, _csrf: token }, headers: { Accept: 'text/html' } });
    expect(ok.status).to.equal(303);
    expect(ok.headers.getSetCookie().some((c) => /^tw_presession=;/.test(c))).to.equal(true);
    // scripts sign in with JSON, which no other site can make a browser send: no token needed
    expect((await app.request('POST', '/login', { auth: false, json: form })).status).to.equal(200);
  });

  it('refuses a logout without the token (a forced sign-out is a CSRF too)', async () => {
    const s = await login(app, 'root@example.com');
    const res = await app.request('POST', '/logout', { auth: { cookie: s.cookie } });
    expect(res.status).to.equal(403);
    expect((await app.request('GET', '/me', { auth: { cookie: s.cookie } })).status).to.equal(200);
  });
});
