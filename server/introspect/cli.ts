// `tablewright reconcile [--json]`: the drift report for a DBA's shell or cron. Exit code
// 0 when the database and the metadata agree, 3 when there is drift (ignored items do not
// count), 1 when the check itself failed, 2 for a usage error.
import process from 'node:process';
import { parseArgs } from 'node:util';
import { withDatabase } from '../auth/cli.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { reconcile, summaryLine } from './reconcile.js';

export const DRIFT_EXIT_CODE = 3;

export async function reconcileCommand(config: Config, log: Logger, args: string[]): Promise<number> {
  let json = false;
  try {
    json = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true }).values.json ?? false;
  } catch (err) {
    process.stderr.write(`tablewright reconcile: ${(err as Error).message}\nusage: tablewright reconcile [--json]\n`);
    return 2;
  }
  const report = await withDatabase(config, log, (pool) => reconcile({ pool, config }));
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const lines = [summaryLine(report)];
    for (const item of report.items) {
      lines.push(`  ${item.kind.padEnd(18)} ${item.message}`, `  ${''.padEnd(18)} item ${item.id}; actions: ${item.actions.map((a) => a.name).join(', ')}`);
    }
    if (report.ignored.length) lines.push(`ignored: ${report.ignored.map((i) => i.id).join(', ')}`);
    if (!report.clean) lines.push('Resolve with POST /reconcile/actions {item, action} or on the console\'s Drift page.');
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return report.clean ? 0 : DRIFT_EXIT_CODE;
}
