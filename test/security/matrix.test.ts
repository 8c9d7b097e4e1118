// The authorization matrix, generated from the route table: every route x {no
// credentials, viewer, editor, admin token, editor session}. A route added later is
// covered without touching this file, and one without a valid access rule fails here.
import { expect } from 'chai';
import { allows, type Role } from '../../server/auth/roles.js';
import type { Access } from '../../server/web/route.js';
import { allRoutes } from '../../server/web/routes/index.js';
import { createTestToken, startApp, type RequestOptions, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { addUser, sessionFor } from '../auth/lib.js';

const ACCESS: Access[] = ['public', 'viewer', 'editor', 'admin'];
type Who = 'nobody' | Role | 'editor session';
const WHO: Who[] = ['nobody', 'viewer', 'editor', 'admin', 'editor session'];

/** '/tables/:id/fields/:fid' -> '/tables/999999/fields/999999'; wildcards get a dummy segment. */
function concretePath(path: string): string {
  return path
    .replace(/[{}]/g, '')
    .replace(/:[A-Za-z_][A-Za-z0-9_]*/g, '999999')
    .replace(/\*[A-Za-z_][A-Za-z0-9_]*/g, 'x');
}

const roleOf = (who: Who): Role | undefined => (who === 'nobody' ? undefined : who === 'editor session' ? 'editor' : who);

describe('authorization matrix (every route x every role, from the route table)', () => {
  let db: TestDatabase;
  let app: TestApp;
  const tokens: Partial<Record<Role, string>> = {};
  let editorId: number;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    tokens.admin = app.adminToken;
    tokens.editor = await createTestToken(app, 'editor');
    tokens.viewer = await createTestToken(app, 'viewer');
    editorId = await addUser(app, 'editor@example.com', 'editor');
  });
  after(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('every route declares one of the four access rules, and no method + path appears twice', () => {
    const seen = new Set<string>();
    for (const r of allRoutes) {
      expect(ACCESS, `${r.method.toUpperCase()} ${r.path}`).to.include(r.access);
      const key = `${r.method} ${r.path}`;
      expect(seen.has(key), `${key} is declared twice`).to.equal(false);
      seen.add(key);
    }
  });

  for (const r of allRoutes) {
    for (const who of WHO) {
      const role = roleOf(who);
      const expected = r.access === 'public' ? 'allowed' : !role ? '401' : allows(role, r.access) ? 'allowed' : '403';
      it(`${r.method.toUpperCase()} ${r.path} (${r.access}) as ${who}: ${expected === 'allowed' ? 'let through to the handler' : expected}`, async () => {
        const opts: RequestOptions = {};
        if (who === 'nobody') opts.auth = false;
        else if (who === 'editor session') {
          // A fresh session per request: a route such as POST /logout may end it.
          const s = await sessionFor(app, editorId);
          opts.auth = { cookie: s.cookie };
          opts.headers = { 'X-CSRF-Token': s.csrf };
        } else opts.auth = { token: tokens[who]! };
        if (r.method !== 'get') opts.json = {};
        const res = await app.request(r.method.toUpperCase(), concretePath(r.path), opts);
        const code: string | undefined = res.body?.error?.code;
        const what = `${res.status} ${res.text.slice(0, 200)}`;
        if (expected === '401') {
          expect(res.status, what).to.equal(401);
          expect(code, what).to.equal('unauthenticated');
        } else if (expected === '403') {
          expect(res.status, what).to.equal(403);
          expect(code, what).to.equal('forbidden');
        } else {
          // The handler answered: any status (404 for the dummy id, 400/422 for the empty
          // body) except a refusal by the authorization layer.
          expect(res.status === 401 && code === 'unauthenticated', what).to.equal(false);
          expect(res.status === 403 && (code === 'forbidden' || code === 'csrf'), what).to.equal(false);
        }
      });
    }
  }
});
