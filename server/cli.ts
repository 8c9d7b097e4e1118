#!/usr/bin/env node
// tablewright <command>: serve (default), migrate. Later commands register in `commands`.
import process from 'node:process';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './log.js';
import { openDatabase, runMigrations, start } from './main.js';
import { createPool } from './db/pool.js';
import { EmbeddedStartError } from './db/embedded.js';
import { StartupError } from './db/privileges.js';
import { announceSetupLink, tokenCommand, userCommand } from './auth/cli.js';
import { reconcileCommand } from './introspect/cli.js';
import { cleanupCommand } from './trash/cli.js';
import { backupCommand, restoreCommand } from './backup/cli.js';
import { doctorCommand } from './doctor.js';

type Command = { summary: string; logTo?: 1 | 2; run(config: Config, log: Logger, args: string[]): Promise<number | void> };

const commands: Record<string, Command> = {
  serve: { summary: 'start the web console and API (the default)', run: serve },
  migrate: { summary: 'apply pending metadata migrations and exit', run: migrateOnly },
  token: { summary: 'token create --name N --role R (prints the token) | token list | token revoke --id ID', run: tokenCommand },
  user: { summary: 'user add --email E --role R (password from the terminal or stdin) | user list', run: userCommand },
  reconcile: { summary: 'reconcile [--json]: the drift report; exit 3 when the database and the metadata disagree', run: reconcileCommand },
  cleanup: { summary: 'cleanup [--dry-run] [--json]: purge the trash older than TRASH_RETENTION (dry run: list it only)', run: cleanupCommand },
  backup: { summary: 'backup [--out FILE]: pg_dump of DATABASE_URL, or a copy of the embedded PostgreSQL (prints the file)', run: backupCommand },
  restore: { summary: 'restore FILE: into an empty DATABASE_URL (pg_restore), or in place of the embedded cluster (kept aside)', run: restoreCommand },
  doctor: { summary: 'doctor [--json]: what the connected role can and cannot do (privileges), and how to fix it', run: doctorCommand },
};

async function serve(config: Config, log: Logger): Promise<void> {
  // Signal handlers go in before anything is started: a SIGTERM that arrives during
  // start-up must still stop the embedded PostgreSQL, not kill us around it.
  let instance: Awaited<ReturnType<typeof start>> | undefined;
  let signals = 0;
  const shutDown = () =>
    instance!.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, instance ? 'signal received' : 'signal received during start-up; stopping once started');
    if (instance) void shutDown();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  instance = await start(config, log);
  if (signals > 0) return void shutDown();
  log.info({ url: instance.url }, `Tablewright console: ${instance.url}`);
  await announceSetupLink(instance.ctx.pool, instance.url, log);
}

async function migrateOnly(config: Config, log: Logger): Promise<number> {
  const db = await openDatabase(config, log);
  const pool = createPool({ connectionString: db.url, max: 1, connectTimeoutMs: config.connectTimeoutMs }, log);
  try {
    const applied = await runMigrations(pool, config, log);
    log.info({ applied: applied.length }, applied.length ? 'migrations applied' : 'nothing to migrate');
    return 0;
  } finally {
    await pool.end();
    await db.embedded?.stop();
  }
}

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `usage: tablewright <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nSettings come from the environment; see README.md.\n`;
}

async function main(argv: string[]): Promise<void> {
  const [name = 'serve', ...args] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`tablewright: unknown command "${name}"\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tablewright: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const log = createLogger(config, command.logTo ?? (name === 'serve' ? 1 : 2), name !== 'serve');
  try {
    const code = await command.run(config, log, args);
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    if (err instanceof EmbeddedStartError || err instanceof StartupError) {
      // One line that says what to do: no stack trace for a problem of the machine's set-up.
      log.fatal(err.message);
      await new Promise((r) => setTimeout(r, 100));
      process.stderr.write(`tablewright: ${err.message}\n`);
      process.exit(1);
    }
    log.fatal({ err }, `${name} failed`);
    // Give the (possibly threaded) pretty transport a moment to flush.
    await new Promise((r) => setTimeout(r, 100));
    process.exit(1);
  }
}

await main(process.argv.slice(2));
