// `tablewright token ...` and `tablewright user ...`: account and token management from
// the shell. Results go to stdout (a token, a list); logs go to stderr.
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import type { Config } from '../config.js';
import { createPool } from '../db/pool.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { openDatabase, runMigrations } from '../main.js';
import { createSetupToken } from './setup.js';
import { confirmAuthChange, listenForAuthAcks } from '../bus/auth_confirm.js';
import { createToken, listTokens, revokeToken } from './tokens.js';
import { createUser, listUsers } from './users.js';
import { parseId } from './validate.js';

class UsageError extends Error {}

/**
 * The database for a one-off command. Without DATABASE_URL, when `tablewright serve`
 * already runs the embedded server on DATA_DIR, connect to it rather than start a second
 * one (the data folder can have only one postmaster). The folder layout (pg/ and
 * pg.password) is the one server/db/embedded.ts creates.
 */
export async function withDatabase<T>(config: Config, log: Logger, fn: (pool: pg.Pool, urls: { url: string; listenUrl: string }) => Promise<T>): Promise<T> {
  let url = config.databaseUrl;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!url) url = runningEmbeddedUrl(config);
  if (!url) {
    const db = await openDatabase(config, log);
    url = db.url;
    stopEmbedded = db.embedded ? () => db.embedded!.stop() : undefined;
  }
  const pool = createPool({ connectionString: url, max: 2, connectTimeoutMs: config.connectTimeoutMs, applicationName: 'tablewright-cli' }, log);
  try {
    await runMigrations(pool, config, log);
    // LISTEN_DATABASE_URL defaults to DATABASE_URL; with neither, both are the embedded server's.
    return await fn(pool, { url, listenUrl: config.databaseUrl ? config.listenDatabaseUrl ?? url : url });
  } finally {
    await pool.end();
    await stopEmbedded?.();
  }
}

export function runningEmbeddedUrl(config: Config): string | undefined {
  const clusterDir = path.join(config.dataDir, 'pg');
  try {
    const lines = fs.readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    if (!(pid > 0) || !(port > 0)) return undefined;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
    }
    const password = fs.readFileSync(path.join(config.dataDir, 'pg.password'), 'utf8').trim();
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  } catch {
    return undefined;
  }
}

function options(args: string[], names: string[]) {
  try {
    return parseArgs({
      args,
      options: Object.fromEntries(names.map((n) => [n, { type: 'string' as const }])),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const TOKEN_USAGE = `usage:
  tablewright token create --name NAME --role viewer|editor|admin   prints the token (only) on stdout
  tablewright token list
  tablewright token revoke --id ID
`;

const USER_USAGE = `usage:
  tablewright user add --email EMAIL --role viewer|editor|admin     password from the terminal, or the first line of stdin
  tablewright user list
`;

/** Runs a command body; usage and validation problems print one line and exit 2. */
async function guarded(usage: string, fn: () => Promise<number | void>): Promise<number> {
  try {
    return (await fn()) ?? 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`tablewright: ${err.message}\n\n${usage}`);
      return 2;
    }
    if (err instanceof AppError && err.status < 500) {
      process.stderr.write(`tablewright: ${err.message}${err.field ? ` (${err.field})` : ''}\n`);
      return 2;
    }
    throw err;
  }
}

/**
 * Revokes a token and returns once every running instance has dropped it from its token
 * cache, as DELETE /tokens/:id does: the confirmations come on a connection of our own, for
 * at most a ping interval and a ping timeout (an instance that has not confirmed by then
 * has found its listener dead by its ping, and flushed).
 */
async function revokeEverywhere(pool: pg.Pool, listenUrl: string, config: Config, log: Logger, id: number) {
  const acks = await listenForAuthAcks(listenUrl, config.connectTimeoutMs);
  try {
    const timeoutMs = config.busPingIntervalMs + config.busPingTimeoutMs;
    return await confirmAuthChange({ pool, onAck: acks.onAck, timeoutMs, log }, (nonce) => revokeToken(pool, id, 'cli', { nonce }));
  } finally {
    await acks.close();
  }
}

export async function tokenCommand(config: Config, log: Logger, args: string[]): Promise<number> {
  return guarded(TOKEN_USAGE, async () => {
    const { positionals, values } = options(args, ['name', 'role', 'id']);
    const sub = positionals[0];
    if (sub === 'create') {
      if (values.name === undefined || values.role === undefined) throw new UsageError('--name and --role are required');
      const created = await withDatabase(config, log, (pool) => createToken(pool, { name: values.name, role: values.role }, 'cli'));
      log.info({ tokenId: created.id, role: created.role }, 'API token created');
      process.stdout.write(`${created.token}\n`);
      return 0;
    }
    if (sub === 'list') {
      const tokens = await withDatabase(config, log, (pool) => listTokens(pool));
      for (const t of tokens) {
        const status = t.revoked_at ? 'revoked' : 'active';
        const used = t.last_used_at ? t.last_used_at.toISOString() : 'never';
        process.stdout.write(`${t.id}\t${t.name}\t${t.role}\t${t.prefix}…\t${status}\tlast used ${used}\n`);
      }
      return 0;
    }
    if (sub === 'revoke') {
      if (values.id === undefined) throw new UsageError('--id is required');
      const id = parseId(values.id, 'token');
      const { result: token, unconfirmed } = await withDatabase(config, log, (pool, urls) => revokeEverywhere(pool, urls.listenUrl, config, log, id));
      log.info({ tokenId: token.id, unconfirmed: unconfirmed.length > 0 ? unconfirmed : undefined }, 'API token revoked');
      return 0;
    }
    throw new UsageError(sub ? `unknown token command "${sub}"` : 'which token command?');
  });
}

export async function userCommand(config: Config, log: Logger, args: string[]): Promise<number> {
  return guarded(USER_USAGE, async () => {
    const { positionals, values } = options(args, ['email', 'role']);
    const sub = positionals[0];
    if (sub === 'add') {
      if (values.email === undefined || values.role === undefined) throw new UsageError('--email and --role are required');
      const password = await readPassword();
      const user = await withDatabase(config, log, (pool) =>
        createUser(pool, { email: values.email, role: values.role, password }, 'cli'),
      );
      log.info({ userId: user.id, role: user.role }, `user ${user.email} created`);
      return 0;
    }
    if (sub === 'list') {
      const users = await withDatabase(config, log, (pool) => listUsers(pool));
      for (const u of users) process.stdout.write(`${u.id}\t${u.email}\t${u.role}\n`);
      return 0;
    }
    throw new UsageError(sub ? `unknown user command "${sub}"` : 'which user command?');
  });
}

/** From a terminal: asked twice, not echoed. Otherwise: the first line of stdin. */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await promptHidden('Password: ');
    const second = await promptHidden('Password again: ');
    if (first !== second) throw new UsageError('the two passwords differ');
    return first;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chars: string) => {
      for (const ch of chars) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** At `serve`: while no account exists, log a one-time link that creates the first admin. */
export async function announceSetupLink(pool: pg.Pool, baseUrl: string, log: Logger): Promise<void> {
  let token: string | undefined;
  try {
    token = await createSetupToken(pool);
  } catch (err) {
    log.error({ err }, 'could not make the first-run setup link; `tablewright user add` creates an account from the shell');
    return;
  }
  if (!token) return;
  log.warn(`no account exists yet: open ${baseUrl}/setup?token=${token} to create the first admin (API tokens from \`tablewright token create\` work already)`);
}
