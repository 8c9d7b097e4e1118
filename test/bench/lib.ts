// Small benchmark kit: time an async function many times, summarise as median and p99.
// Figures, not pass/fail: `npm run bench` prints them for the closing notes of issues.
import { performance } from 'node:perf_hooks';

export interface Figure {
  name: string;
  /** what one sample is ("query", "request", "row") */
  unit: string;
  samples: number;
  medianMs: number;
  p99Ms: number;
  /** optional extra columns, e.g. rows/s or a ratio */
  extra?: Record<string, string>;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarise(name: string, unit: string, timesMs: number[], extra?: Record<string, string>): Figure {
  const sorted = [...timesMs].sort((a, b) => a - b);
  return { name, unit, samples: sorted.length, medianMs: percentile(sorted, 50), p99Ms: percentile(sorted, 99), extra };
}

/** Runs fn `warmup` times unmeasured, then `n` times measured, one after another. */
export async function measure(name: string, unit: string, n: number, fn: (i: number) => Promise<unknown>, warmup = Math.min(50, n)): Promise<Figure> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    times.push(performance.now() - t0);
  }
  return summarise(name, unit, times);
}

export function printTable(title: string, figures: Figure[]): void {
  const extraKeys = [...new Set(figures.flatMap((f) => Object.keys(f.extra ?? {})))];
  const header = ['benchmark', 'unit', 'n', 'median ms', 'p99 ms', ...extraKeys];
  const rows = figures.map((f) => [
    f.name,
    f.unit,
    String(f.samples),
    f.medianMs.toFixed(3),
    f.p99Ms.toFixed(3),
    ...extraKeys.map((k) => f.extra?.[k] ?? ''),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`\n${title}\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
}
