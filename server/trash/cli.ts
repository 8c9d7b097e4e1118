// `tablewright cleanup [--dry-run] [--json]`: the retention policy once, from the shell.
// --dry-run lists what would be purged and changes nothing. Exit code 0 when everything
// due was purged (or would be), 3 when something was skipped (busy, linked...: the next
// run tries again), 1 when the run failed (e.g. another cleanup holds the lock).
import process from 'node:process';
import { parseArgs } from 'node:util';
import { withDatabase } from '../auth/cli.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { runCleanup, type CleanupResult } from './cleanup.js';

function describe(result: CleanupResult): string {
  const when = (d: Date) => new Date(d).toISOString().slice(0, 16).replace('T', ' ');
  const head = result.cutoff
    ? `${result.dry_run ? 'would purge' : 'purged'} ${result.purged.length} object${result.purged.length === 1 ? '' : 's'} trashed before ${when(result.cutoff)} UTC (TRASH_RETENTION=${result.retention})`
    : 'TRASH_RETENTION=never: nothing is purged';
  const lines = [head];
  for (const c of result.purged) lines.push(`  ${c.kind.padEnd(5)} "${c.name}"${c.table ? ` of "${c.table}"` : ''}, trashed ${when(c.trashed_at)}${c.trashed_by ? ` by ${c.trashed_by}` : ''}${c.dropped ? `: dropped ${c.dropped}` : ''}`);
  for (const c of result.skipped) lines.push(`  skipped ${c.kind} "${c.name}": ${c.reason}`);
  const r = result.rows;
  lines.push(
    `${result.dry_run ? 'would drop' : 'dropped'} ${r.trash_rows} deleted row${r.trash_rows === 1 ? '' : 's'} from the row trash, ` +
      `${r.history_entries} row history entr${r.history_entries === 1 ? 'y' : 'ies'}${result.history_cutoff ? ` before ${when(result.history_cutoff)} UTC` : ' (ROW_HISTORY_RETENTION=never)'}` +
      `${r.orphaned ? `, ${r.orphaned} of tables that are gone` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

export async function cleanupCommand(config: Config, log: Logger, args: string[]): Promise<number> {
  let opts: { 'dry-run'?: boolean; json?: boolean };
  try {
    opts = parseArgs({ args, options: { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } }, strict: true }).values;
  } catch (err) {
    process.stderr.write(`tablewright cleanup: ${(err as Error).message}\nusage: tablewright cleanup [--dry-run] [--json]\n`);
    return 2;
  }
  const result = await withDatabase(config, log, (pool) =>
    runCleanup({ pool, log, config }, { dryRun: opts['dry-run'] ?? false, actor: { name: 'cli:cleanup' } }),
  );
  process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : describe(result));
  return result.skipped.length ? 3 : 0;
}
