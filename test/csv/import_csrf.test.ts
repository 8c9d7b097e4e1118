// The console's import form without JavaScript: a multipart upload with a session cookie.
// Its CSRF token travels as a form field that must come before the file, and is checked
// before the upload is read.
import { expect } from 'chai';
import { addUser, sessionFor } from '../auth/lib.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('CSV import from a plain HTML form (session cookie, multipart)', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;
  let cookie: string;
  let csrf: string;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    tableId = (await app.request('POST', '/tables', { json: { name: 'Uploads' } })).body.id;
    const session = await sessionFor(app, await addUser(app, 'editor@example.com', 'editor'));
    cookie = session.cookie;
    csrf = session.csrf;
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const upload = (parts: Array<[string, string | Blob]>) => {
    const form = new FormData();
    for (const [name, value] of parts) form.append(name, value as Blob);
    return fetch(new URL(`/tables/${tableId}/rows/import`, app.url), { method: 'POST', headers: { Cookie: cookie, Accept: 'text/html' }, body: form, redirect: 'manual' });
  };
  const csv = () => new Blob(['name\nfrom a form\n'], { type: 'text/csv' });
  const count = async () => (await sql.one(`SELECT count(*)::int AS n FROM data.uploads`)).n;

  it('imports when the _csrf field comes before the file, and answers 303 back to the table', async () => {
    const res = await upload([['_csrf', csrf], ['file', csv()]]);
    expect(res.status).to.equal(303);
    expect(await count()).to.equal(1);
  });

  it('refuses the upload with 403 when the token is missing, wrong, or sent after the file; nothing is written', async () => {
    for (const parts of [
      [['file', csv()]],
      [['_csrf', 'wrong'], ['file', csv()]],
      [['file', csv()], ['_csrf', csrf]],
    ] as Array<Array<[string, string | Blob]>>) {
      const res = await upload(parts);
      expect(res.status).to.equal(403);
    }
    expect(await count()).to.equal(1);
  });

  it('any other route refuses a multipart mutation without the header token', async () => {
    const form = new FormData();
    form.append('_csrf', csrf);
    const res = await fetch(new URL(`/tables/${tableId}`, app.url), { method: 'DELETE', headers: { Cookie: cookie, Accept: 'application/json' }, body: form });
    expect(res.status).to.equal(403);
    expect((await sql.one(`SELECT trashed_at FROM tablewright.tables WHERE id = $1`, [tableId])).trashed_at).to.equal(null);
  });
});
