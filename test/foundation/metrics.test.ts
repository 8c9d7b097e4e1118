import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';

describe('GET /metrics', () => {
  let db: TestDatabase;
  let app: TestApp;
  useApp((s) => ({ db, app } = s));

  /** the value of one series in Prometheus text, or undefined */
  const series = (text: string, name: string, labels: Record<string, string> = {}) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  it('counts requests by route pattern (not raw URL), and reports the pool, the cache and the listener', async () => {
    const t = (await app.request('POST', '/tables', { json: { name: 'Metered' } })).body;
    for (let i = 0; i < 3; i++) await app.request('GET', `/tables/${t.id}/rows`);
    await app.request('GET', `/tables/${t.id}/rows/999`);
    const res = await app.request('GET', '/metrics');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    expect(series(res.text, 'tablewright_http_requests_total', { route: '/tables/:id/rows', status: '200' })).to.equal(3);
    expect(series(res.text, 'tablewright_http_requests_total', { route: '/tables/:id/rows/:rid', status: '404' })).to.equal(1);
    expect(res.text).to.not.include(`/tables/${t.id}/rows"`);
    expect(series(res.text, 'tablewright_http_request_duration_seconds_count', { route: '/tables/:id/rows' })).to.equal(3);
    expect(series(res.text, 'tablewright_model_cache_hits_total')).to.be.at.least(2);
    expect(series(res.text, 'tablewright_model_cache_misses_total')).to.be.at.least(1);
    expect(series(res.text, 'tablewright_listener_connected')).to.equal(1);
    expect(series(res.text, 'tablewright_pool_max')).to.equal(10);
    expect(series(res.text, 'tablewright_notifications_received_total', { channel: 'tablewright_schema' })).to.be.at.least(1);
    expect(res.text).to.include('tablewright_process_resident_memory_bytes');
    expect(series(res.text, 'tablewright_jobs', { status: 'queued' })).to.equal(0);
    // every request above carried the same admin token: one lookup, the rest from the cache
    expect(series(res.text, 'tablewright_token_cache_lookups_total')).to.equal(1);
    expect(series(res.text, 'tablewright_token_cache_hits_total')).to.be.at.least(5);
    expect(series(res.text, 'tablewright_token_cache_size')).to.equal(1);
  });

  it('needs credentials', async () => {
    expect((await app.request('GET', '/metrics', { auth: false })).status).to.equal(401);
  });
});
