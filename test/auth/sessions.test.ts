// Console sessions: login, cookies, two instances on one database, logout, expiry,
// and where browsers without credentials are sent.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { addUser, formToken, login, PASSWORD, sessionCookie } from './lib.js';

describe('sessions', () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    db = await freshDatabase();
    [a, b] = await Promise.all([startApp(db.url, {}, 'a'), startApp(db.url, {}, 'b')]);
    await addUser(a, 'ada@example.com', 'editor');
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it('a login sets an HttpOnly, SameSite=Lax session cookie (not Secure over plain HTTP) and stores only its hash', async () => {
    const res = await a.request('POST', '/login', { auth: false, json: { email: 'ADA@example.com', password: PASSWORD } });
    expect(res.status).to.equal(200);
    expect(res.body.user).to.deep.include({ email: 'ada@example.com', role: 'editor' });
    expect(res.body.csrf_token).to.be.a('string');
    const line = res.headers.getSetCookie().find((c) => c.startsWith('tw_session='))!;
    expect(line).to.match(/HttpOnly/i).and.match(/SameSite=Lax/i).and.match(/Path=\//);
    expect(line).not.to.match(/Secure/i);
    const id = line.split(';')[0]!.split('=')[1]!;
    const { rows } = await a.ctx.pool.query(
      `SELECT count(*)::int AS n FROM tablewright.sessions WHERE id_hash = sha256(convert_to($1, 'UTF8'))`,
      [decodeURIComponent(id)],
    );
    expect(rows[0].n, 'the table holds the SHA-256 of the cookie value').to.equal(1);
  });

  it('a session made on one instance works on the other, and logout on either ends it everywhere', async () => {
    const s = await login(a, 'ada@example.com');
    const onB = await b.request('GET', '/me', { auth: { cookie: s.cookie } });
    expect(onB.status).to.equal(200);
    expect(onB.body.caller).to.deep.include({ kind: 'user', name: 'ada@example.com', role: 'editor' });

    const out = await b.request('POST', '/logout', { auth: { cookie: s.cookie }, headers: { 'X-CSRF-Token': s.csrf } });
    expect(out.status).to.equal(200);
    expect(out.headers.getSetCookie().join()).to.match(/tw_session=;/);
    const afterOnA = await a.request('GET', '/me', { auth: { cookie: s.cookie } });
    expect(afterOnA.status).to.equal(401);
    expect(afterOnA.body.error.code).to.equal('unauthenticated');
  });

  it('a wrong password answers 401 invalid_credentials, the same as an unknown account', async () => {
    const wrong = await a.request('POST', '/login', { auth: false, json: { email: 'ada@example.com', password: 'nope-nope' } });
    const unknown = await a.request('POST', '/login', { auth: false, json: { email: 'who@example.com', password: 'nope-nope' } });
    for (const res of [wrong, unknown]) {
      expect(res.status).to.equal(401);
      expect(res.body.error.code).to.equal('invalid_credentials');
      expect(sessionCookie(res)).to.equal(undefined);
    }
  });

  it('an expired session is refused and its cookie cleared', async () => {
    const s = await login(a, 'ada@example.com');
    await a.ctx.pool.query(`UPDATE tablewright.sessions SET expires_at = now() - interval '1 second'`);
    const res = await a.request('GET', '/me', { auth: { cookie: s.cookie } });
    expect(res.status).to.equal(401);
    expect(res.headers.getSetCookie().join()).to.match(/tw_session=;/);
  });

  it('sends a browser without credentials to /login with the page to come back to; htmx gets 401 with HX-Redirect', async () => {
    const page = await a.request('GET', '/?x=1', { auth: false, headers: { Accept: 'text/html' } });
    expect(page.status).to.equal(303);
    expect(page.headers.get('location')).to.equal('/login?next=%2F%3Fx%3D1');
    const frag = await a.request('GET', '/', { auth: false, headers: { 'HX-Request': 'true' } });
    expect(frag.status).to.equal(401);
    expect(frag.headers.get('hx-redirect')).to.equal('/login?next=%2F');
  });

  it('a form login redirects (303) to a local `next` only, and a failed one shows the form again with the message', async () => {
    const pre = await formToken(a);
    const form = { email: 'ada@example.com', password: PASSWORD, next: '/tables?page=2', _csrf: pre.csrf };
    const asBrowser = { auth: { cookie: pre.cookie }, headers: { Accept: 'text/html' } };
    const ok = await a.request('POST', '/login', { ...asBrowser, form });
    expect(ok.status).to.equal(303);
    expect(ok.headers.get('location')).to.equal('/tables?page=2');
    expect(sessionCookie(ok)).to.match(/^tw_session=/);

    const evil = await a.request('POST', '/login', { ...asBrowser, form: { ...form, next: '//evil.example/x' } });
    expect(evil.headers.get('location')).to.equal('/');

    const bad = await a.request('POST', '/login', { ...asBrowser, form: { ...form, password: 'wrong-wrong' } });
    expect(bad.status).to.equal(401);
    expect(bad.text).to.include('the email or password is not right').and.include('name="email" value="ada@example.com"');
  });

  it('the signed-in page shows the user, a sign-out form with its CSRF token, and the token in a meta tag for htmx', async () => {
    const s = await login(a, 'ada@example.com');
    const res = await a.request('GET', '/', { auth: { cookie: s.cookie }, headers: { Accept: 'text/html' } });
    expect(res.status).to.equal(200);
    expect(res.text).to.include('ada@example.com');
    expect(res.text).to.include(`<meta name="csrf-token" content="${s.csrf}">`);
    expect(res.text).to.match(/<form[^>]*action="\/logout"[\s\S]*?name="_csrf" value="/);
    expect(res.text, 'an editor sees no admin links').not.to.include('href="/users"');
  });
});

describe('session cookie Secure flag', () => {
  let db: TestDatabase;
  const apps: TestApp[] = [];
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await Promise.all(apps.map((x) => x.stop()));
    await db?.drop();
  });

  it('is set with COOKIE_SECURE=true, and in auto mode when a trusted proxy says the request came over TLS', async () => {
    const forced = await startApp(db.url, { COOKIE_SECURE: 'true' }, 'secure');
    apps.push(forced);
    const proxied = await startApp(db.url, { TRUST_PROXY: 'true' }, 'proxied');
    apps.push(proxied);
    await addUser(forced, 'sec@example.com', 'viewer');
    const r1 = await forced.request('POST', '/login', { auth: false, json: { email: 'sec@example.com', password: PASSWORD } });
    expect(r1.headers.getSetCookie().join()).to.match(/Secure/);
    const r2 = await proxied.request('POST', '/login', {
      auth: false,
      json: { email: 'sec@example.com', password: PASSWORD },
      headers: { 'X-Forwarded-Proto': 'https' },
    });
    expect(r2.headers.getSetCookie().join()).to.match(/Secure/);
  });
});
