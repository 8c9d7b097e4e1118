// Login throttling: failures are counted per account and per address in PostgreSQL,
// so every instance on the database sees the same counts.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { addUser, formToken, PASSWORD } from './lib.js';

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

  it('100 concurrent attempts for one account, on two instances: at most LOGIN_RATE_LIMIT passwords are checked, then even the right one is refused', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => attempt(i % 2 ? a : b, 'one@example.com', `wrong password ${i}`)));
    const statuses = answers.map((r) => r.status);
    // a 401 is a password that was checked; a 429 one that never was
    expect(statuses.filter((s) => s === 401), 'passwords checked').to.have.length(3);
    expect(statuses.filter((s) => s === 429)).to.have.length(97);
    expect((await a.ctx.pool.query(`SELECT failures FROM tablewright.login_failures WHERE key = 'account:one@example.com'`)).rows[0].failures).to.equal(3);
    expect((await attempt(a, 'one@example.com', PASSWORD)).status).to.equal(429);
    expect((await attempt(b, 'one@example.com', PASSWORD)).status).to.equal(429);
  });

  it('100 concurrent attempts on 100 accounts from one address: at most LOGIN_RATE_LIMIT_ADDRESS are checked', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => attempt(i % 2 ? a : b, `nobody${i}@example.com`, 'wrong password')));
    expect(answers.filter((r) => r.status === 401), 'passwords checked').to.have.length(6);
    expect(answers.filter((r) => r.status === 429)).to.have.length(94);
    // the refused attempts took nothing from the accounts they named
    expect((await a.ctx.pool.query(`SELECT count(*)::int AS n FROM tablewright.login_failures WHERE key LIKE 'account:%'`)).rows[0].n).to.equal(6);
  });

  it('a right password among a burst of wrong ones signs in only if it was among the attempts checked', async () => {
    const passwords = Array.from({ length: 40 }, (_, i) => (i === 20 ? PASSWORD : `wrong ${i}`));
    const answers = await Promise.all(passwords.map((p, i) => attempt(i % 2 ? a : b, 'two@example.com', p)));
    const checked = answers.filter((r) => r.status === 401 || r.status === 200).length;
    // a success gives the account its attempts back, so a second round of 3 may follow it
    expect(checked).to.be.at.most(answers[20]!.status === 200 ? 6 : 3);
    expect(answers.filter((r) => r.status === 200).length).to.be.at.most(1);
  });

  it('a browser sees the sign-in form again with the message', async () => {
    for (let i = 0; i < 3; i++) await attempt(a, 'one@example.com', 'wrong-password');
    const pre = await formToken(a);
    const res = await a.request('POST', '/login', {
      auth: { cookie: pre.cookie },
      form: { email: 'one@example.com', password: PASSWORD, _csrf: pre.csrf },
      headers: { Accept: 'text/html' },
    });
    expect(res.status).to.equal(429);
    expect(res.text).to.include('too many failed logins').and.include('<form method="post" action="/login">');
  });
});
