import { expect } from 'chai';
import type { TestDatabase } from '../helpers/db.js';
import { useApp, type TestApp } from '../helpers/app.js';

describe('HTTP foundation', () => {
  let db: TestDatabase;
  let app: TestApp;
  useApp((s) => ({ db, app } = s));

  it('GET /healthz answers {ok:true}', async () => {
    const res = await app.request('GET', '/healthz');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ ok: true });
  });

  it('GET /readyz reports the database reachable', async () => {
    const res = await app.request('GET', '/readyz');
    expect(res.status).to.equal(200);
    expect(res.body.checks.database).to.equal(true);
  });

  it('GET / renders the layout with our stylesheet, htmx from our own server, and the empty state', async () => {
    const res = await app.request('GET', '/', { headers: { Accept: 'text/html' } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/text\/html/);
    expect(res.text).to.include('<script src="/vendor/htmx.min.js"');
    expect(res.text).to.include('/public/css/app.css');
    expect(res.text).to.include('No tables yet');
    expect(res.text).not.to.match(/https?:\/\/(unpkg|cdn|jsdelivr)/);
  });

  it('serves htmx and the stylesheet itself', async () => {
    const htmx = await app.request('GET', '/vendor/htmx.min.js');
    expect(htmx.status).to.equal(200);
    expect(htmx.text).to.include('htmx');
    const css = await app.request('GET', '/public/css/app.css');
    expect(css.status).to.equal(200);
    expect(css.headers.get('content-type')).to.match(/text\/css/);
  });

  it('answers malformed JSON with 400 and the error shape, never 500', async () => {
    const res = await fetch(new URL('/tables', app.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: '{"name": ',
    });
    expect(res.status).to.equal(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).to.equal('bad_request');
    expect(body.error.message).to.match(/not valid JSON/);
  });

  it('answers an unknown route with a 404 in the error shape', async () => {
    const res = await app.request('GET', '/no/such/thing');
    expect(res.status).to.equal(404);
    expect(res.body.error.code).to.equal('not_found');
  });

  it('gives every response a request id, and keeps a sane incoming one', async () => {
    const fresh = await app.request('GET', '/healthz');
    expect(fresh.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    const kept = await app.request('GET', '/healthz', { headers: { 'X-Request-Id': 'abc-123' } });
    expect(kept.headers.get('x-request-id')).to.equal('abc-123');
    const replaced = await app.request('GET', '/healthz', { headers: { 'X-Request-Id': 'bad id\twith spaces' } });
    expect(replaced.headers.get('x-request-id')).to.not.equal('bad id\twith spaces');
  });
});
