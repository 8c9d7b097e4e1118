// `npm install && npm start` from a clean clone in a 0700 folder, as root (a folder under
// /root's home) and as an ordinary user (made with useradd when absent): the console
// answers, and SIGTERM stops everything. This is what a new user does first; it used to
// crash as root with an unhandled `spawn .../initdb EACCES`.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { projectRoot } from '../../server/paths.js';
import { freePort } from '../helpers/process.js';

const USER = 'tw-zero-setup';
const npm = path.join(path.dirname(process.execPath), 'npm');

interface As {
  uid?: number;
  gid?: number;
  home: string;
}

function sh(cmd: string, args: string[], as: As, cwd: string, env: Record<string, string> = {}, timeoutMs = 300_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd,
      env: { PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: as.home, npm_config_cache: path.join(as.home, '.npm'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(as.uid !== undefined ? { uid: as.uid, gid: as.gid } : {}),
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Clone, install, start, ask, stop: as `as`, in `folder` (0700, theirs). */
async function zeroSetup(as: As, folder: string): Promise<void> {
  const checkout = path.join(folder, 'tablewright');
  // cloned by us (the repository need not be readable by that user), then handed over
  const cloned = await sh('git', ['clone', '--quiet', '--no-hardlinks', projectRoot, checkout], { home: os.homedir() }, folder);
  expect(cloned.code, cloned.output).to.equal(0);
  if (as.uid !== undefined && process.getuid?.() === 0) execFileSync('chown', ['-R', `${as.uid}:${as.gid}`, checkout]);
  const installed = await sh(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund'], as, checkout);
  expect(installed.code, `npm install:\n${installed.output.slice(-3000)}`).to.equal(0);
  const port = await freePort();
  const child = spawn(npm, ['start'], {
    cwd: checkout,
    env: { PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: as.home, PORT: '0', EMBEDDED_PG_PORT: String(port), LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    ...(as.uid !== undefined ? { uid: as.uid, gid: as.gid } : {}),
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not serve within 120 s:\n${output}`)), 120_000);
      const onData = (c: Buffer) => {
        output += c.toString();
        const m = /Tablewright console: (http:\/\/[^"\s]+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited (${code}) before serving:\n${output}`));
      });
    });
    expect(output, 'no stack trace, no EACCES').not.to.match(/EACCES|\n\s+at /);
    expect((await fetch(new URL('/healthz', url))).status).to.equal(200);
    expect((await fetch(new URL('/', url), { headers: { Accept: 'text/html' } })).status).to.be.oneOf([200, 303]);
    // Ctrl-C in a terminal: the signal reaches npm and the server (one process group)
    process.kill(-child.pid!, 'SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
    expect(code, output.slice(-2000)).not.to.equal('timeout');
    expect(output).to.include('embedded PostgreSQL stopped');
    expect(output).to.match(/"msg":"stopped"/);
  } finally {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    // a root-started cluster kept outside the checkout (its DATA_DIR/pg links to it)
    const link = await fs.realpath(path.join(checkout, '.data', 'pg')).catch(() => undefined);
    if (link?.startsWith('/var/lib/tablewright/clusters/')) await fs.rm(path.dirname(link), { recursive: true, force: true });
  }
}

describe('zero-setup start: npm install && npm start from a clean clone in a 0700 folder', function () {
  this.timeout(600_000);
  const cleanup: string[] = [];
  after(async () => {
    for (const p of cleanup) await fs.rm(p, { recursive: true, force: true });
  });

  it('as root, in a folder under /root (0700)', async function () {
    if (process.getuid?.() !== 0) {
      console.warn('    skipped: not running as root'); // eslint-disable-line no-console
      this.skip();
    }
    const folder = await fs.mkdtemp(path.join(os.homedir(), '.tw-zero-setup-'));
    cleanup.push(folder);
    expect((await fs.stat(folder)).mode & 0o777).to.equal(0o700);
    await zeroSetup({ home: os.homedir() }, folder);
  });

  it('as an ordinary user, in a 0700 folder of theirs', async function () {
    let uid: number;
    let gid: number;
    if (process.getuid?.() !== 0) {
      // we are the ordinary user
      uid = process.getuid!();
      gid = process.getgid!();
    } else {
      try {
        execFileSync('id', ['-u', USER], { stdio: 'ignore' });
      } catch {
        execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', USER]);
      }
      uid = Number(execFileSync('id', ['-u', USER]).toString());
      gid = Number(execFileSync('id', ['-g', USER]).toString());
    }
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'tw-zero-home-'));
    cleanup.push(home);
    const folder = path.join(home, 'work');
    await fs.mkdir(folder, { mode: 0o700 });
    // the npm cache we have, so the install needs the registry only for what it lacks
    const cache = path.join(os.homedir(), '.npm', '_cacache');
    if (process.getuid?.() === 0 && (await fs.stat(cache).catch(() => undefined))) await fs.cp(cache, path.join(home, '.npm', '_cacache'), { recursive: true });
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', `${uid}:${gid}`, home]);
    await fs.chmod(home, 0o700);
    await zeroSetup({ uid, gid, home }, folder);
  });
});
