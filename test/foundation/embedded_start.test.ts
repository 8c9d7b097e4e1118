// The embedded PostgreSQL starts wherever a user starts Tablewright, and a start that
// cannot succeed says so in one line. As root, PostgreSQL runs as the postgres OS user,
// which cannot enter a 0700 folder (a mktemp -d folder, anything under /root): the
// cluster then lives under /var/lib/tablewright, DATA_DIR/pg linking to it. (The whole
// `npm install && npm start` from a clean clone, as root and as an ordinary user, is
// test/faults/zero_setup.fault.ts.)
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { freePort, runCli } from '../helpers/process.js';

describe('embedded PostgreSQL: starts from any folder, fails in one clear line', function () {
  this.timeout(120_000);
  const cleanup: string[] = [];
  after(async () => {
    for (const p of cleanup) await fs.rm(p, { recursive: true, force: true });
  });

  it('serves from a DATA_DIR inside a 0700 folder (as root: the postgres OS user cannot enter it)', async () => {
    const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'tw-private-'));
    cleanup.push(folder);
    expect((await fs.stat(folder)).mode & 0o777).to.equal(0o700);
    const dataDir = path.join(folder, 'data');
    const cli = runCli(['serve'], { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), PORT: '0' });
    try {
      const line = await cli.waitFor(/Tablewright console: http|"level":60/, 90_000);
      expect(line, cli.output()).to.match(/Tablewright console/);
      const url = /Tablewright console: (http:\/\/[^"\s]+)/.exec(line)![1]!;
      expect((await fetch(new URL('/healthz', url))).status).to.equal(200);
      const real = await fs.realpath(path.join(dataDir, 'pg'));
      if (process.getuid?.() === 0) {
        expect(real, 'the cluster was moved where the postgres user can reach it').to.match(/^\/var\/lib\/tablewright\/clusters\//);
        cleanup.push(path.dirname(real));
      }
      await fs.access(path.join(real, 'PG_VERSION'));
      cli.child.kill('SIGTERM');
      expect((await cli.exited).code, cli.output()).to.equal(0);
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    }
    // a second start finds its cluster again through the link
    const again = runCli(['serve'], { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), PORT: '0' });
    try {
      await again.waitFor(/Tablewright console: http/, 60_000);
      expect(again.output()).not.to.match(/initialising embedded PostgreSQL/);
      again.child.kill('SIGTERM');
      expect((await again.exited).code).to.equal(0);
    } finally {
      if (again.child.exitCode === null) again.child.kill('SIGKILL');
    }
  });

  it('a start that cannot succeed (its port taken) exits 1 with one line saying what to do, no stack trace', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tw-taken-'));
    cleanup.push(dataDir);
    try {
      const cli = runCli(['serve'], { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(port), PORT: '0' });
      const { code } = await cli.exited;
      expect(code).to.equal(1);
      const out = cli.output();
      expect(out).to.include(`tablewright: port ${port} on 127.0.0.1 is taken by another program: set EMBEDDED_PG_PORT to a free port`);
      expect(out, 'no stack trace').not.to.match(/\n\s+at /);
    } finally {
      blocker.close();
    }
  });
});
