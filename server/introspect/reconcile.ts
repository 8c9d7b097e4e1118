// reconcile(): a fresh catalog snapshot compared with the metadata. Read-only; the
// actions that resolve drift are in actions.ts.
import type { Config } from '../config.js';
import type { EditorDeps } from '../schema/change.js';
import { compareSnapshot, type DriftItem, type DriftReport } from './drift.js';
import { takeSnapshot } from './snapshot.js';

export interface ReconcileDeps extends EditorDeps {
  config: EditorDeps['config'] & Pick<Config, 'columnSlotWarning'>;
}

export async function reconcile(deps: Pick<ReconcileDeps, 'pool' | 'config'>): Promise<DriftReport> {
  const snap = await takeSnapshot(deps.pool, { data: deps.config.dataSchema, trash: deps.config.trashSchema }, { columnSlotWarning: deps.config.columnSlotWarning });
  return compareSnapshot(snap, { columnSlotWarning: deps.config.columnSlotWarning });
}

/** A line for the log and the CLI: "3 drift items: 1 missing_table, 2 untracked_column". */
export function summaryLine(report: DriftReport): string {
  if (report.clean) return `no drift (${report.catalog.tables} tables, ${report.catalog.columns} columns checked${report.ignored.length ? `; ${report.ignored.length} ignored` : ''})`;
  const kinds = Object.entries(report.counts).map(([k, n]) => `${n} ${k}`).join(', ');
  return `${report.items.length} drift item${report.items.length === 1 ? '' : 's'}: ${kinds}`;
}

export function findItem(report: DriftReport, id: string): DriftItem | undefined {
  return report.items.find((i) => i.id === id) ?? report.ignored.find((i) => i.id === id);
}
