// Security headers: a Content-Security-Policy that allows scripts and styles from this
// server only, and pages that need nothing else (no inline script, no CDN).
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { addUser, login } from '../auth/lib.js';

describe('security headers', () => {
  let db: TestDatabase;
  let app: TestApp;
  useApp((s) => ({ db, app } = s));

  it('sends a CSP with script-src and style-src limited to self, no inline, no eval, no framing', async () => {
    const res = await app.request('GET', '/', { headers: { Accept: 'text/html' } });
    const csp = res.headers.get('content-security-policy')!;
    const directive = (name: string) => csp.split(';').map((d) => d.trim()).find((d) => d.startsWith(`${name} `));
    expect(directive('script-src')).to.equal("script-src 'self'");
    expect(directive('style-src')).to.equal("style-src 'self'");
    expect(directive('default-src')).to.equal("default-src 'self'");
    expect(directive('frame-ancestors')).to.equal("frame-ancestors 'none'");
    expect(csp).not.to.match(/unsafe-inline|unsafe-eval/);
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(res.headers.get('x-frame-options')).to.equal('SAMEORIGIN');
    expect(res.headers.get('referrer-policy')).to.equal('same-origin');
  });

  it('also on static files, on errors and on public pages', async () => {
    for (const path of ['/public/css/app.css', '/no/such/page', '/healthz']) {
      const res = await app.request('GET', path, { auth: false });
      expect(res.headers.get('content-security-policy'), path).to.include("script-src 'self'");
    }
  });

  it('every page uses external scripts only (no inline <script>, no on* handlers), and serves the htmx CSRF hook', async () => {
    await addUser(app, 'root@example.com', 'admin');
    const s = await login(app, 'root@example.com');
    const pages = ['/', '/users', '/tokens', '/no/such/page'];
    for (const path of pages) {
      const res = await app.request('GET', path, { auth: { cookie: s.cookie }, headers: { Accept: 'text/html' } });
      const scripts = res.text.match(/<script\b[^>]*>/g) ?? [];
      expect(scripts.length, path).to.be.greaterThan(0);
      for (const tag of scripts) expect(tag, path).to.match(/\ssrc="\/(vendor|public)\//);
      expect(res.text, path).not.to.match(/<script\b[^>]*>\s*[^<\s]/);
      expect(res.text, path).not.to.match(/\son[a-z]+=/i);
      expect(res.text, path).not.to.match(/\sstyle=/i);
    }
    for (const path of ['/login', '/setup']) {
      const res = await app.request('GET', path, { auth: false, headers: { Accept: 'text/html' } });
      expect(res.text, path).not.to.match(/<script\b[^>]*>\s*[^<\s]/);
    }
    const js = await app.request('GET', '/public/js/app.js', { auth: false });
    expect(js.status).to.equal(200);
    expect(js.text).to.include('htmx:configRequest').and.include('X-CSRF-Token');
  });
});
