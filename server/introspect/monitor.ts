// The drift summary each instance keeps for the console's banner: refreshed at start,
// after schema-change notifications, DDL event-trigger notifications and flushes (a
// burst of them refreshes at most once per DDL_DEBOUNCE_MS), and every
// DRIFT_CHECK_INTERVAL. A page view reads the cached summary; it never reconciles.
import type { Bus } from '../bus/index.js';
import type { Logger } from '../log.js';
import type { DriftKind, DriftReport } from './drift.js';
import { reconcile, summaryLine, type ReconcileDeps } from './reconcile.js';

export interface DriftSummary {
  clean: boolean;
  items: number;
  ignored: number;
  counts: Partial<Record<DriftKind, number>>;
  checked_at: Date;
  line: string;
}

export interface DriftMonitor {
  /** the last summary (undefined before the first reconcile ends) */
  current(): DriftSummary | undefined;
  /** reconciles now (waits for one in progress, then runs again) */
  refresh(reason?: string): Promise<DriftReport | undefined>;
  /** asks for a refresh soon: at most one per debounce interval */
  poke(reason: string): void;
  /** takes a report made elsewhere (after a drift action) as the current summary */
  accept(report: DriftReport): void;
  /** how many reconciles ran (tests and /readyz-style introspection) */
  refreshes(): number;
  stop(): Promise<void>;
}

export interface MonitorOptions {
  deps: Pick<ReconcileDeps, 'pool' | 'config'>;
  log: Logger;
  bus?: Pick<Bus, 'onSchemaChange' | 'onDdl' | 'onFlush'>;
  debounceMs: number;
  intervalMs: number | null;
}

export function summarise(report: DriftReport): DriftSummary {
  return { clean: report.clean, items: report.items.length, ignored: report.ignored.length, counts: report.counts, checked_at: report.checked_at, line: summaryLine(report) };
}

export function createDriftMonitor(opts: MonitorOptions): DriftMonitor {
  const log = opts.log.child({ component: 'drift' });
  let summary: DriftSummary | undefined;
  let running: Promise<DriftReport | undefined> | undefined;
  let again = false;
  let lastStart = 0;
  let timer: NodeJS.Timeout | undefined;
  let interval: NodeJS.Timeout | undefined;
  let stopped = false;
  let count = 0;
  const unsubscribe: Array<() => void> = [];

  const runOnce = async (reason: string): Promise<DriftReport | undefined> => {
    lastStart = Date.now();
    count += 1;
    try {
      const report = await reconcile(opts.deps);
      const before = summary;
      summary = summarise(report);
      if (!before || before.items !== summary.items || before.clean !== summary.clean) {
        log[summary.clean ? 'info' : 'warn']({ reason, items: summary.items, counts: summary.counts, ms: Math.round(report.ms.snapshot + report.ms.compare) }, `${reason === 'start' ? 'reconcile at start' : 'drift'}: ${summary.line}`);
      }
      return report;
    } catch (err) {
      if (!stopped) log.warn({ err, reason }, 'drift check failed');
      return undefined;
    }
  };

  const refresh = (reason = 'requested'): Promise<DriftReport | undefined> => {
    if (running) {
      again = true;
      return running.then(() => refresh(reason));
    }
    running = runOnce(reason).finally(() => {
      running = undefined;
      if (again && !stopped) {
        again = false;
        poke('coalesced');
      }
    });
    return running;
  };

  const poke = (reason: string) => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    if (timer) return;
    const wait = Math.max(0, lastStart + opts.debounceMs - Date.now());
    timer = setTimeout(() => {
      timer = undefined;
      void refresh(reason);
    }, wait);
    timer.unref();
  };

  if (opts.bus) {
    unsubscribe.push(opts.bus.onSchemaChange(() => poke('schema change')));
    unsubscribe.push(opts.bus.onDdl(() => poke('ddl event')));
    unsubscribe.push(opts.bus.onFlush((e) => poke(`flush: ${e.reason}`)));
  }
  if (opts.intervalMs !== null) {
    interval = setInterval(() => poke('periodic'), opts.intervalMs);
    interval.unref();
  }

  return {
    current: () => summary,
    refresh,
    accept: (report) => {
      if (!summary || report.checked_at.getTime() >= summary.checked_at.getTime()) summary = summarise(report);
    },
    poke,
    refreshes: () => count,
    async stop() {
      stopped = true;
      for (const u of unsubscribe) u();
      if (timer) clearTimeout(timer);
      if (interval) clearInterval(interval);
      await running;
    },
  };
}
