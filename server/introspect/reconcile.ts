// reconcile(): a fresh catalog snapshot compared with the metadata. Read-only; the
// actions that resolve drift are in actions.ts.
import type { Config } from '../config.js';
import type { EditorDeps } from '../schema/change.js';
import { compareSnapshot, type DriftItem, type DriftReport } from './drift.js';
import { takeSnapshot } from './snapshot.js';
import { runningOnlineChanges, type OnlineChange } from '../schema/online/state.js';

export interface ReconcileDeps extends EditorDeps {
  config: EditorDeps['config'] & Pick<Config, 'columnSlotWarning'>;
}

export async function reconcile(deps: Pick<ReconcileDeps, 'pool' | 'config'>): Promise<DriftReport> {
  const snap = await takeSnapshot(deps.pool, { data: deps.config.dataSchema, trash: deps.config.trashSchema }, { columnSlotWarning: deps.config.columnSlotWarning });
  return setAsideInFlight(compareSnapshot(snap, { columnSlotWarning: deps.config.columnSlotWarning }), await runningOnlineChanges(deps.pool));
}

/**
 * An online change in flight has objects of ours the metadata does not describe yet (a
 * shadow column, an index being built or invalid after a crash, a NOT VALID constraint, a
 * sync trigger) and a field whose catalog is half way: those are a change in flight, listed
 * as such (in_flight), never drift to repair. Everything else on the table is still checked.
 */
export function setAsideInFlight(report: DriftReport, running: OnlineChange[]): DriftReport {
  if (running.length === 0) return { ...report, in_flight: [] };
  const concerns = (i: DriftItem, c: OnlineChange) =>
    i.table?.id === c.table_id &&
    (i.field?.id === c.field_id || (i.column !== undefined && Object.values(c.objects).includes(i.column.name)) || (i.column?.name ?? '').startsWith(`_tw_new_f${c.field_id}`));
  const inFlight = (i: DriftItem) => running.some((c) => concerns(i, c));
  const items = report.items.filter((i) => !inFlight(i));
  const counts: DriftReport['counts'] = {};
  for (const i of items) counts[i.kind] = (counts[i.kind] ?? 0) + 1;
  return {
    ...report,
    items,
    counts,
    clean: items.length === 0,
    ignored: report.ignored.filter((i) => !inFlight(i)),
    in_flight: running.map((c) => ({
      online_change: c.id,
      job_id: c.job_id,
      kind: c.kind,
      step: c.step,
      table_id: c.table_id,
      field_id: c.field_id,
      objects: c.objects,
      message: `change in flight: ${c.kind.replace(/_/g, ' ')} of field ${c.field_id} (job ${c.job_id ?? '?'}, step "${c.step}"); its objects are ours, not drift`,
      set_aside: report.items.filter((i) => concerns(i, c)).map((i) => i.id),
    })),
  };
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
