// Runs the real CLI (server/cli.ts through tsx) as a child process, for tests that need
// separate processes: startup, signals, migrations from the shell.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { projectRoot } from '../../server/paths.js';
import { connectionEnv } from './pgbouncer.js';

export const cliPath = path.join(projectRoot, 'server', 'cli.ts');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Cli {
  child: ChildProcess;
  output(): string;
  /** resolves with the first log line matching re */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runCli(args: string[], env: Record<string, string | undefined>, stdin?: string): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', cliPath, ...args], {
    cwd: projectRoot,
    // With TEST_PGBOUNCER=1, DATABASE_URL goes through the run's PgBouncer (LISTEN stays direct).
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_FORMAT: 'json', ...env, ...(env.DATABASE_URL ? { ...connectionEnv(env.DATABASE_URL), ...(env.LISTEN_DATABASE_URL ? { LISTEN_DATABASE_URL: env.LISTEN_DATABASE_URL } : {}) } : {}) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: Array<{ re: RegExp; resolve: (line: string) => void }> = [];
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.re.test(l));
      if (line) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  if (stdin !== undefined) child.stdin!.end(stdin);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => out,
    exited,
    waitFor: (re, timeoutMs = 30_000) =>
      new Promise<string>((resolve, reject) => {
        const line = out.split('\n').find((l) => re.test(l));
        if (line) return resolve(line);
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output so far:\n${out}`)), timeoutMs);
        waiters.push({
          re,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then(({ code }) => {
          clearTimeout(timer);
          reject(new Error(`process exited (${code}) before ${re}; output:\n${out}`));
        });
      }),
  };
}
