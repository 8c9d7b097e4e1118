// Durations in settings and on the console: '7d', '30d', '12h', '90m', '45s', '500ms', or
// a combination ('1d12h'). 'never'/'off' (null) switches the thing off.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const PART = /(\d+)(ms|s|m|h|d|w)/g;

/** Milliseconds, null for 'never'/'off', undefined when the text is not a duration. */
export function parseDuration(text: string): number | null | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'never' || t === 'off') return null;
  if (t === '0') return 0;
  if (!/^(\d+(ms|s|m|h|d|w))+$/.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(PART)) ms += Number(m[1]) * UNITS[m[2]!]!;
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** 604800000 -> '7d'; 45000000 -> '12h30m' (the largest units that add up exactly). */
export function formatDuration(ms: number | null): string {
  if (ms === null) return 'never';
  if (ms === 0) return '0';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

/** '3 days', '5 hours', '12 minutes', 'just now': an age for people. */
export function humanAge(ms: number): string {
  const abs = Math.abs(ms);
  const pick = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (abs < 60_000) return 'just now';
  if (abs < 3_600_000) return pick(Math.floor(abs / 60_000), 'minute');
  if (abs < 172_800_000) return pick(Math.floor(abs / 3_600_000), 'hour');
  return pick(Math.floor(abs / 86_400_000), 'day');
}

/** 1536 -> '1.5 kB' (powers of 1024, as pg_size_pretty). */
export function humanBytes(n: number | null): string {
  if (n === null || n === undefined) return '?';
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} bytes` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
