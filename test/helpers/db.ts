// Test databases: one PostgreSQL server per test run (TEST_DATABASE_URL, or an embedded
// server in a temporary folder), one migrated template built once, and a fresh database
// cloned from it for each test file, so that tests never see each other's tables.
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { startEmbedded, type EmbeddedServer } from '../../server/db/embedded.js';
import { migrate } from '../../server/db/migrate.js';
import { ident } from '../../server/db/ident.js';

export const testLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
export const DATA_SCHEMA = 'data';
export const TRASH_SCHEMA = 'data_trash';

let serverUrl: string | undefined;
let embedded: EmbeddedServer | undefined;
let embeddedDir: string | undefined;
let templateName: string | undefined;
let counter = 0;
const created = new Set<string>();

export function withDatabaseName(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Starts the server for this run and builds the migrated template (root hook). */
export async function setUpServer(): Promise<void> {
  if (process.env.TEST_DATABASE_URL) {
    serverUrl = process.env.TEST_DATABASE_URL;
  } else {
    embeddedDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tablewright-test-'));
    // PostgreSQL runs as the `postgres` OS user when we are root: it must reach the folder.
    await fs.chmod(embeddedDir, 0o755);
    embedded = await startEmbedded({ dataDir: embeddedDir, port: await freePort(), log: testLog, ephemeral: true });
    serverUrl = embedded.url;
  }
  templateName = `tw_tpl_${process.pid}_${Date.now().toString(36)}`;
  await admin((c) => c.query(`CREATE DATABASE ${ident(templateName!)}`));
  created.add(templateName);
  const client = new pg.Client({ connectionString: withDatabaseName(serverUrl, templateName) });
  await client.connect();
  try {
    await migrate(client, { dataSchema: DATA_SCHEMA, trashSchema: TRASH_SCHEMA, log: testLog });
  } finally {
    await client.end();
  }
}

export async function tearDownServer(): Promise<void> {
  if (serverUrl) {
    await admin(async (c) => {
      for (const name of created) await c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
    }).catch(() => undefined);
  }
  created.clear();
  await embedded?.stop();
  if (embeddedDir) await fs.rm(embeddedDir, { recursive: true, force: true });
}

/** The server's maintenance URL (database `postgres`), e.g. to create a database by hand. */
export function serverAdminUrl(): string {
  if (!serverUrl) throw new Error('test server not started (test/setup.ts)');
  return serverUrl;
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A new database, migrated (cloned from the template) unless `empty` is set. */
export async function freshDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  if (!serverUrl || !templateName) throw new Error('test server not started (test/setup.ts)');
  counter += 1;
  const name = `tw_t_${process.pid}_${counter}`;
  const template = opts.empty ? 'template0' : templateName;
  await admin((c) => c.query(`CREATE DATABASE ${ident(name)} TEMPLATE ${ident(template)}`));
  created.add(name);
  return {
    name,
    url: withDatabaseName(serverUrl, name),
    drop: async () => {
      await admin(async (c) => {
        // A pool's end() resolves once its clients are told to close, before their backends
        // have gone: FORCE would then terminate one mid-close, and the client, still listening,
        // raises "terminating connection due to administrator command" as an uncaught error in
        // the next test. Give closing connections a moment (2 s at most) to go by themselves.
        for (const until = Date.now() + 2000; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
          const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [name]);
          if (rows[0]!.n === 0) break;
        }
        await c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
      });
      created.delete(name);
    },
  };
}
