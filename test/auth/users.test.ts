// Account management by admins: add, change role or password, remove; never lose the
// last admin; names are escaped on the pages.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
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
