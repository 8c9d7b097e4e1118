// API tokens: created from the shell or the console, shown once, stored hashed, usable
// at once (also before any account exists), revocable, with a last-used time.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';

function cliStdout(args: string[], env: Record<string, string>, stdin?: string) {
  const cli = runCli(args, env, stdin);
  let stdout = '';
  cli.child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  return cli.exited.then(({ code }) => ({ code, stdout, output: cli.output() }));
}

describe('API tokens', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  useApp((s) => ({ db, app } = s));

  it('`tablewright token create` prints only the token on stdout, and it works at once for JSON requests, with no account yet', async () => {
    const { code, stdout, output } = await cliStdout(['token', 'create', '--name', 'ci', '--role', 'admin'], { DATABASE_URL: db.url });
    expect(code, output).to.equal(0);
    expect(stdout).to.match(/^tw_[A-Za-z0-9_-]{43}\n$/);
    const token = stdout.trim();
    expect(output.split('\n').filter((l) => l.includes(token)), 'the token is not in the log').to.have.length(1);
    const users = await app.ctx.pool.query('SELECT count(*)::int AS n FROM tablewright.users');
    expect(users.rows[0].n).to.equal(0);
    const res = await app.request('GET', '/', { auth: { token } });
    expect(res.status).to.equal(200);
    expect(res.body).to.have.property('tables');
    const me = await app.request('GET', '/me', { auth: { token } });
    expect(me.body.caller).to.deep.include({ kind: 'token', name: 'ci', role: 'admin' });
  });

  it('the CLI refuses an unknown role with exit 2 and a message', async () => {
    const { code, stdout, output } = await cliStdout(['token', 'create', '--name', 'x', '--role', 'root'], { DATABASE_URL: db.url });
    expect(code).to.equal(2);
    expect(stdout).to.equal('');
    expect(output).to.include('role must be one of viewer, editor, admin');
  });

  it('POST /tokens answers 201 with the token once; the list shows its prefix and never the token or its hash', async () => {
    const res = await app.request('POST', '/tokens', { json: { name: 'reporting', role: 'viewer' } });
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ name: 'reporting', role: 'viewer' });
    expect(res.body.token).to.match(/^tw_/);
    const list = await app.request('GET', '/tokens');
    expect(list.status).to.equal(200);
    const row = list.body.tokens.find((t: { id: number }) => t.id === res.body.id);
    expect(row).to.include({ name: 'reporting', role: 'viewer', prefix: res.body.token.slice(0, 9), revoked_at: null });
    expect(list.text).not.to.include(res.body.token);
    expect(list.text).not.to.match(/token_hash/);
    const stored = await app.ctx.pool.query(`SELECT encode(token_hash, 'hex') AS h FROM tablewright.api_tokens WHERE id = $1`, [res.body.id]);
    expect(stored.rows[0].h).to.have.length(64);
    expect(stored.rows[0].h).not.to.include(res.body.token);
  });

  it('records when a token was last used', async () => {
    const created = await app.request('POST', '/tokens', { json: { name: 'used', role: 'viewer' } });
    const before = (await app.request('GET', '/tokens')).body.tokens.find((t: { id: number }) => t.id === created.body.id);
    expect(before.last_used_at).to.equal(null);
    expect((await app.request('GET', '/', { auth: { token: created.body.token } })).status).to.equal(200);
    const after = (await app.request('GET', '/tokens')).body.tokens.find((t: { id: number }) => t.id === created.body.id);
    expect(after.last_used_at).to.be.a('string');
  });

  it('a revoked token answers 401 at once', async () => {
    const created = await app.request('POST', '/tokens', { json: { name: 'short-lived', role: 'editor' } });
    const { token, id } = created.body;
    expect((await app.request('GET', '/', { auth: { token } })).status).to.equal(200);
    const revoked = await app.request('DELETE', `/tokens/${id}`);
    expect(revoked.status).to.equal(200);
    expect(revoked.body.token.revoked_at).to.be.a('string');
    const res = await app.request('GET', '/', { auth: { token } });
    expect(res.status).to.equal(401);
    expect(res.body.error.code).to.equal('unauthenticated');
    expect(res.body.error.message).to.match(/not valid/);
  });

  it('a form POST with _method=DELETE revokes too (plain HTML forms)', async () => {
    const created = await app.request('POST', '/tokens', { json: { name: 'form', role: 'viewer' } });
    const res = await app.request('POST', `/tokens/${created.body.id}`, { form: { _method: 'DELETE' }, headers: { Accept: 'text/html' } });
    expect(res.status).to.equal(303);
    expect(res.headers.get('location')).to.equal('/tokens');
    expect((await app.request('GET', '/me', { auth: { token: created.body.token } })).status).to.equal(401);
  });

  it('an unknown token, or another scheme than Bearer, answers 401 with a message saying why', async () => {
    const unknown = await app.request('GET', '/', { auth: { token: 'tw_nothing' } });
    expect(unknown.status).to.equal(401);
    const basic = await app.request('GET', '/', { auth: false, headers: { Authorization: 'Basic YTpi' } });
    expect(basic.status).to.equal(401);
    expect(basic.body.error.message).to.include('Bearer');
    // public routes still answer with bad credentials
    expect((await app.request('GET', '/healthz', { auth: { token: 'tw_nothing' } })).status).to.equal(200);
  });

  it('validates names and roles with 422 naming the field', async () => {
    const res = await app.request('POST', '/tokens', { json: { name: '', role: 'viewer' } });
    expect(res.status).to.equal(422);
    expect(res.body.error.field).to.equal('name');
    const role = await app.request('POST', '/tokens', { json: { name: 'x', role: 'superuser' } });
    expect(role.status).to.equal(422);
    expect(role.body.error.field).to.equal('role');
  });

  it('the console page shows a new token once, and lists tokens without it afterwards', async () => {
    const res = await app.request('POST', '/tokens', { form: { name: 'from the page', role: 'editor' }, headers: { Accept: 'text/html' } });
    expect(res.status).to.equal(200);
    const token = /class="secret"[^>]*>(tw_[^<]+)</.exec(res.text)?.[1];
    expect(token).to.be.a('string');
    const page = await app.request('GET', '/tokens', { headers: { Accept: 'text/html' } });
    expect(page.text).to.include('from the page');
    expect(page.text).not.to.include(token!);
  });
});

describe('`tablewright user add`', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  useApp((s) => ({ db, app } = s));

  it('reads the password from stdin, and the account can sign in', async () => {
    const { code, output } = await cliStdout(['user', 'add', '--email', 'ops@example.com', '--role', 'admin'], { DATABASE_URL: db.url }, 'hunter2hunter2\n');
    expect(code, output).to.equal(0);
    expect(output).not.to.include('hunter2hunter2');
    const res = await app.request('POST', '/login', { auth: false, json: { email: 'ops@example.com', password: 'hunter2hunter2' } });
    expect(res.status).to.equal(200);
    expect(res.body.user.role).to.equal('admin');
  });

  it('refuses a short password and a taken email with exit 2', async () => {
    const short = await cliStdout(['user', 'add', '--email', 'x@example.com', '--role', 'viewer'], { DATABASE_URL: db.url }, 'short\n');
    expect(short.code).to.equal(2);
    expect(short.output).to.include('at least 8 characters');
    const taken = await cliStdout(['user', 'add', '--email', 'OPS@example.com', '--role', 'viewer'], { DATABASE_URL: db.url }, 'longenough1\n');
    expect(taken.code).to.equal(2);
    expect(taken.output).to.include('already exists');
  });
});
