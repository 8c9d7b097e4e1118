// `tablewright doctor [--json]`: what the connected role can and cannot do, each with the
// GRANT that fixes it (server/db/privileges.ts). Exit 0 when everything needed is there, 3
// when something is missing. It connects without migrating, so it works for a role that
// could not start the daemon.
import process from 'node:process';
import { parseArgs } from 'node:util';
import { runningEmbeddedUrl } from './auth/cli.js';
import type { Config } from './config.js';
import { createPool } from './db/pool.js';
import { describeCapabilities } from './db/privileges.js';
import type { Logger } from './log.js';
import { openDatabase } from './main.js';

/** Capabilities that only make the daemon nicer when present (it runs without them). */
const OPTIONAL = new Set(['create_schemas', 'event_triggers', 'read_activity']);

export async function doctorCommand(config: Config, log: Logger, args: string[]): Promise<number> {
  const json = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true }).values.json ?? false;
  const running = config.databaseUrl ?? runningEmbeddedUrl(config);
  const db = running ? undefined : await openDatabase(config, log);
  const pool = createPool({ connectionString: running ?? db!.url, max: 1, connectTimeoutMs: config.connectTimeoutMs, applicationName: 'tablewright-doctor' }, log);
  try {
    const report = await describeCapabilities(pool, { data: config.dataSchema, trash: config.trashSchema });
    const missing = report.capabilities.filter((c) => !c.ok && !OPTIONAL.has(c.key));
    if (json) process.stdout.write(`${JSON.stringify({ ...report, ok: missing.length === 0 }, null, 2)}\n`);
    else {
      const lines = [`role ${report.role} on database ${report.database}${report.superuser ? ' (superuser)' : ''}:`];
      for (const c of report.capabilities) lines.push(`  ${c.ok ? 'yes' : OPTIONAL.has(c.key) ? 'no ' : 'NO '} ${c.key.padEnd(16)} ${c.detail}`);
      lines.push(missing.length ? `${missing.length} missing: run the GRANTs above as an administrator` : 'everything Tablewright needs is granted');
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return missing.length ? 3 : 0;
  } finally {
    await pool.end();
    await db?.embedded?.stop();
  }
}
