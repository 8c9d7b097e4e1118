// The console's own log (LOG_FORMAT=pretty, the default outside production): one line per
// request an operator can read (method, path, status, time), not a block of objects.
import { expect } from 'chai';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';

describe('request log', function () {
  this.timeout(90_000);
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  it('LOG_FORMAT=pretty writes one line per request: "GET /login 303 3ms"; JSON keeps the same facts structured', async () => {
    for (const format of ['pretty', 'json'] as const) {
      const cli = runCli(['serve'], { DATABASE_URL: db.url, PORT: '0', LOG_FORMAT: format, LOG_LEVEL: 'info' });
      try {
        const line = await cli.waitFor(/Tablewright console: http/, 60_000);
        const url = /(http:\/\/[^"\s]+)/.exec(line)![1]!;
        expect((await fetch(new URL('/login?probe=1', url), { headers: { Accept: 'text/html' } })).status).to.equal(200);
        expect((await fetch(new URL('/no/such/page', url), { headers: { Accept: 'application/json' } })).status).to.equal(404);
        const ok = await cli.waitFor(/GET \/login\?probe=1 \d{3} \d+ms/);
        await cli.waitFor(/GET \/no\/such\/page 404/);
        const lines = cli.output().split('\n');
        const at = lines.indexOf(ok);
        if (format === 'pretty') {
          expect(lines.filter((l) => l.includes('/login?probe=1')), 'one line for the request').to.have.length(1);
          expect(lines[at + 1] ?? '', 'no block of objects after it').to.not.match(/^\s/);
        } else {
          const entry = JSON.parse(ok);
          expect(entry.req).to.include({ method: 'GET', url: '/login?probe=1' });
          expect(entry.res.statusCode).to.be.a('number');
          expect(entry.responseTime).to.be.a('number');
        }
      } finally {
        cli.child.kill('SIGTERM');
        await cli.exited;
      }
    }
  });
});
