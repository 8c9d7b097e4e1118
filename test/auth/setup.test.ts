// First run: no account yet. The daemon logs a one-time setup link; until it is used,
// browsers are sent to a page that says so, while API tokens already work.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli, type Cli } from '../helpers/process.js';
import { formToken, sessionCookie } from './lib.js';

describe('first-run setup', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let cli: Cli | undefined;
  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
  });
  after(async () => {
    if (cli && cli.child.exitCode === null) {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
    await app?.stop();
    await db?.drop();
  });

  it('with no account, browsers are sent to /setup, which says to use the link from the log; tokens work', async () => {
    const home = await app.request('GET', '/', { auth: false, headers: { Accept: 'text/html' } });
    expect(home.status).to.equal(303);
    expect(home.headers.get('location')).to.equal('/setup');
    const login = await app.request('GET', '/login', { auth: false, headers: { Accept: 'text/html' } });
    expect(login.headers.get('location')).to.equal('/setup');
    const page = await app.request('GET', '/setup', { auth: false, headers: { Accept: 'text/html' } });
    expect(page.status).to.equal(200);
    expect(page.text).to.include('setup link').and.not.include('name="password"');
    const json = await app.request('GET', '/', { auth: false });
    expect(json.status).to.equal(401);
    expect(json.body.error.message).to.include('setup link');
    expect((await app.request('GET', '/')).status, 'the admin token works').to.equal(200);
  });

  it('`serve` logs a one-time link; it creates the first admin, signs them in, and then stops working', async () => {
    cli = runCli(['serve'], { DATABASE_URL: db.url, PORT: '0' });
    const line = await cli.waitFor(/\/setup\?token=/);
    const link = /(http:\/\/[^\s"]+\/setup\?token=[A-Za-z0-9_-]+)/.exec(line)![1]!;
    const token = new URL(link).searchParams.get('token')!;

    const bad = await app.request('GET', '/setup?token=wrong', { auth: false, headers: { Accept: 'text/html' } });
    expect(bad.text).to.include('not valid').and.not.include('name="password"');
    const badPost = await app.request('POST', '/setup', { auth: false, json: { token: 'wrong', email: 'x@example.com', password: 'longenough' } });
    expect(badPost.status).to.equal(403);
    expect(badPost.body.error.code).to.equal('invalid_setup_token');

    const form = await fetch(link, { headers: { Accept: 'text/html' } });
    expect(form.status).to.equal(200);
    expect(await form.text()).to.include('name="password"');

    // the form's token comes with the page: without it, a form POST is refused (login CSRF)
    const pre = await formToken(app, `/setup?token=${token}`);
    const naked = await app.request('POST', '/setup', { auth: false, form: { token, email: 'root@example.com', password: 'first admin password' }, headers: { Accept: 'text/html' } });
    expect(naked.status).to.equal(403);
    const asBrowser = { auth: { cookie: pre.cookie }, headers: { Accept: 'text/html' } };
    const short = await app.request('POST', '/setup', { ...asBrowser, form: { token, email: 'root@example.com', password: 'short', _csrf: pre.csrf } });
    expect(short.status).to.equal(422);
    expect(short.text).to.include('at least 8 characters');

    const done = await app.request('POST', '/setup', { ...asBrowser, form: { token, email: 'root@example.com', password: 'first admin password', _csrf: pre.csrf } });
    expect(done.status).to.equal(303);
    expect(done.headers.get('location')).to.equal('/');
    const cookie = sessionCookie(done)!;
    const me = await app.request('GET', '/me', { auth: { cookie } });
    expect(me.body.caller).to.deep.include({ kind: 'user', name: 'root@example.com', role: 'admin' });

    const again = await app.request('POST', '/setup', { auth: false, json: { token, email: 'evil@example.com', password: 'second admin' } });
    expect(again.status).to.equal(409);
    expect(again.body.error.code).to.equal('setup_done');
    const { rows } = await app.ctx.pool.query('SELECT email, role FROM tablewright.users');
    expect(rows).to.deep.equal([{ email: 'root@example.com', role: 'admin' }]);

    // now browsers without a session go to the login page
    const home = await app.request('GET', '/', { auth: false, headers: { Accept: 'text/html' } });
    expect(home.headers.get('location')).to.equal('/login?next=%2F');
  });
});
