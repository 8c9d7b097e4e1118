// Account management by admins: add, change role or password, remove; never lose the
// last admin; names are escaped on the pages.
import { expect } from 'chai';
import { startApp, useApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { addUser, login } from './lib.js';

describe('user management', () => {
  let db: TestDatabase;
  let app: TestApp;
  useApp((s) => ({ db, app } = s));

  it('creates a user (201), never returns a password hash, and refuses a duplicate email regardless of case (409)', async () => {
    const res = await app.request('POST', '/users', { json: { email: 'Bea@example.com', role: 'editor', password: 'a good password' } });
    expect(res.status).to.equal(201);
    expect(res.body.user).to.include({ email: 'Bea@example.com', role: 'editor' });
    const list = await app.request('GET', '/users');
    expect(list.text).not.to.match(/password|scrypt/);
    const dup = await app.request('POST', '/users', { json: { email: 'bea@EXAMPLE.com', role: 'viewer', password: 'a good password' } });
    expect(dup.status).to.equal(409);
    expect(dup.body.error).to.include({ code: 'email_taken', field: 'email' });
  });

  it('validates email, role and password with 422 naming the field', async () => {
    for (const [body, field] of [
      [{ email: 'not an email', role: 'viewer', password: 'long enough' }, 'email'],
      [{ email: 'c@example.com', role: 'owner', password: 'long enough' }, 'role'],
      [{ email: 'c@example.com', role: 'viewer', password: 'short' }, 'password'],
    ] as const) {
      const res = await app.request('POST', '/users', { json: body });
      expect(res.status).to.equal(422);
      expect(res.body.error.field).to.equal(field);
    }
  });

  it('a new password ends the user\'s sessions; a role change applies at the next request', async () => {
    const id = await addUser(app, 'dan@example.com', 'viewer');
    const s = await login(app, 'dan@example.com');
    expect((await app.request('GET', '/me', { auth: { cookie: s.cookie } })).body.caller.role).to.equal('viewer');
    expect((await app.request('PATCH', `/users/${id}`, { json: { role: 'editor' } })).status).to.equal(200);
    expect((await app.request('GET', '/me', { auth: { cookie: s.cookie } })).body.caller.role).to.equal('editor');
    expect((await app.request('PATCH', `/users/${id}`, { json: { password: 'a brand new one' } })).status).to.equal(200);
    expect((await app.request('GET', '/me', { auth: { cookie: s.cookie } })).status).to.equal(401);
    await login(app, 'dan@example.com', 'a brand new one');
  });

  it('refuses to demote or remove the last admin (409), and removing a user ends their sessions', async () => {
    const adminId = await addUser(app, 'only-admin@example.com', 'admin');
    const demote = await app.request('PATCH', `/users/${adminId}`, { json: { role: 'viewer' } });
    expect(demote.status).to.equal(409);
    expect(demote.body.error.code).to.equal('last_admin');
    expect((await app.request('DELETE', `/users/${adminId}`)).status).to.equal(409);

    const id = await addUser(app, 'gone@example.com', 'viewer');
    const s = await login(app, 'gone@example.com');
    expect((await app.request('DELETE', `/users/${id}`)).status).to.equal(200);
    expect((await app.request('GET', '/me', { auth: { cookie: s.cookie } })).status).to.equal(401);
    expect((await app.request('DELETE', `/users/${id}`)).status).to.equal(404);
    expect((await app.request('DELETE', '/users/abc')).status).to.equal(404);
  });

  it('escapes token names and emails on the pages', async () => {
    const hostile = '<script>alert(1)</script>"\'&';
    await app.request('POST', '/tokens', { json: { name: hostile, role: 'viewer' } });
    const page = await app.request('GET', '/tokens', { headers: { Accept: 'text/html' } });
    expect(page.text).not.to.include('<script>alert(1)');
    expect(page.text).to.include('&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;');
  });

  it('a form re-shows the users page with the message when the input is wrong', async () => {
    const res = await app.request('POST', '/users', {
      form: { email: 'e@example.com', role: 'viewer', password: 'short' },
      headers: { Accept: 'text/html' },
    });
    expect(res.status).to.equal(422);
    expect(res.text).to.include('at least 8 characters').and.include('value="e@example.com"');
  });
});

describe('the last-admin guard across two instances', () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    db = await freshDatabase();
    [a, b] = await Promise.all([startApp(db.url, {}, 'a'), startApp(db.url, {}, 'b')]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  const admins = async () => (await a.ctx.pool.query(`SELECT count(*)::int AS n FROM tablewright.users WHERE role = 'admin'`)).rows[0].n as number;

  it('two admins demoted or removed at the same moment on two instances: one change goes through, the other answers 409 last_admin, every time', async () => {
    const rounds: Array<[string, string]> = [['PATCH', 'PATCH'], ['DELETE', 'DELETE'], ['PATCH', 'DELETE'], ['DELETE', 'PATCH']];
    for (let round = 0; round < 12; round++) {
      await a.ctx.pool.query(`DELETE FROM tablewright.users`);
      const one = await addUser(a, `one${round}@example.com`, 'admin');
      const two = await addUser(a, `two${round}@example.com`, 'admin');
      const [m1, m2] = rounds[round % rounds.length]!;
      const send = (app: TestApp, method: string, id: number) => app.request(method, `/users/${id}`, method === 'PATCH' ? { json: { role: 'editor' } } : {});
      const answers = await Promise.all([send(a, m1, one), send(b, m2, two)]);
      expect(answers.map((r) => r.status).sort(), `round ${round} (${m1}, ${m2}): ${answers.map((r) => r.text).join(' | ')}`).to.deep.equal([200, 409]);
      expect(answers.find((r) => r.status === 409)!.body.error.code).to.equal('last_admin');
      expect(await admins(), `round ${round}: an admin is left`).to.equal(1);
    }
  });
});
