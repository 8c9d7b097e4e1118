// Login throttling: failures are counted per account and per address in PostgreSQL,
// so every instance on the database sees the same counts.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { addUser, PASSWORD } from './lib.js';

describe('login rate limiting', () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  const env = { LOGIN_RATE_LIMIT: '3', LOGIN_RATE_LIMIT_ADDRESS: '6', LOGIN_RATE_WINDOW_S: '600' };
  before(async () => {
    db = await freshDatabase();
    [a, b] = await Promise.all([startApp(db.url, env, 'a'), startApp(db.url, env, 'b')]);
    for (const who of ['one', 'two', 'three']) await addUser(a, `${who}@example.com`, 'viewer');
  });
  beforeEach(async () => {
    await a.ctx.pool.query('DELETE FROM tablewright.login_failures');
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  const attempt = (app: TestApp, email: string, password: string) => app.request('POST', '/login', { auth: false, json: { email, password } });

  it('after LOGIN_RATE_LIMIT failures for one account, even the right password answers 429 with Retry-After, on every instance', async () => {
    for (let i = 0; i < 3; i++) expect((await attempt(i % 2 ? a : b, 'one@example.com', 'wrong-password')).status).to.equal(401);
    for (const app of [a, b]) {
      const res = await attempt(app, 'one@example.com', PASSWORD);
      expect(res.status).to.equal(429);
      expect(res.body.error.code).to.equal('rate_limited');
      expect(Number(res.headers.get('retry-after'))).to.be.within(1, 600);
    }
    // another account from the same address is not locked by that
    expect((await attempt(a, 'two@example.com', PASSWORD)).status).to.equal(200);
  });

  it('after LOGIN_RATE_LIMIT_ADDRESS failures from one address, every account is refused from there', async () => {
    for (let i = 0; i < 6; i++) expect((await attempt(a, `nobody${i}@example.com`, 'wrong-password')).status).to.equal(401);
    const res = await attempt(a, 'three@example.com', PASSWORD);
    expect(res.status).to.equal(429);
  });

  it('a successful login starts the account count over', async () => {
    for (let i = 0; i < 2; i++) await attempt(a, 'one@example.com', 'wrong-password');
    expect((await attempt(a, 'one@example.com', PASSWORD)).status).to.equal(200);
    for (let i = 0; i < 2; i++) expect((await attempt(a, 'one@example.com', 'wrong-password')).status).to.equal(401);
    expect((await attempt(a, 'one@example.com', PASSWORD)).status).to.equal(200);
  });

  it('the count ends with its window', async () => {
    for (let i = 0; i < 3; i++) await attempt(a, 'one@example.com', 'wrong-password');
    expect((await attempt(a, 'one@example.com', PASSWORD)).status).to.equal(429);
    await a.ctx.pool.query(`UPDATE tablewright.login_failures SET window_start = now() - interval '601 seconds'`);
    expect((await attempt(a, 'one@example.com', PASSWORD)).status).to.equal(200);
  });

  it('a browser sees the sign-in form again with the message', async () => {
    for (let i = 0; i < 3; i++) await attempt(a, 'one@example.com', 'wrong-password');
    const res = await a.request('POST', '/login', {
      auth: false,
      form: { email: 'one@example.com', password: PASSWORD },
      headers: { Accept: 'text/html' },
    });
    expect(res.status).to.equal(429);
    expect(res.text).to.include('too many failed logins').and.include('<form method="post" action="/login">');
  });
});
