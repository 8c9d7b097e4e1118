// duration: an interval, entered as 1:30 (h:mm), 1:30:15.5 (h:mm:ss), or in parts (90m,
// 1h 30m, 1.5h, 45s), read back as H:MM:SS with microseconds when there are any (hours
// past 24 stay hours). Computed on whole microseconds: a value finer than that is
// refused, never rounded. sql/migrations/071 holds the same rules for conversions.
import { z } from 'zod';
import { asText, isEmpty } from './common.js';
import { RawJson } from './exact_json.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

const CLOCK = /^(\d{1,9}):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,6}))?)?$/;
const PARTS = /^(?:(\d{1,9}(?:\.\d{1,9})?) *h(?:ours?|rs?)?)? *(?:(\d{1,9}(?:\.\d{1,9})?) *m(?:in(?:utes?|s)?)?)? *(?:(\d{1,9}(?:\.\d{1,9})?) *s(?:ec(?:onds?|s)?)?)?$/;
const MICROS = { h: 3_600_000_000n, m: 60_000_000n, s: 1_000_000n };
/** 10^8 hours, as try_duration */
const MAX_MICROS = 100_000_000n * MICROS.h;

/** '1.5' of `unit` microseconds -> whole microseconds, or null when finer than one. */
function scaled(decimal: string, unit: bigint): bigint | null {
  const [whole, frac = ''] = decimal.split('.');
  const scale = 10n ** BigInt(frac.length);
  const n = BigInt(whole! + frac) * unit;
  return n % scale === 0n ? n / scale : null;
}

export function durationMicros(text: string): bigint | null {
  let s = text.trim().toLowerCase();
  const negative = s.startsWith('-');
  if (negative) s = s.slice(1).trim();
  let total: bigint | null;
  const c = CLOCK.exec(s);
  if (c) {
    total = BigInt(c[1]!) * MICROS.h + BigInt(c[2]!) * MICROS.m + BigInt(c[3] ?? '0') * MICROS.s + BigInt((c[4] ?? '').padEnd(6, '0') || '0');
  } else {
    const p = PARTS.exec(s);
    if (!p || (p[1] === undefined && p[2] === undefined && p[3] === undefined)) return null;
    const parts = [scaled(p[1] ?? '0', MICROS.h), scaled(p[2] ?? '0', MICROS.m), scaled(p[3] ?? '0', MICROS.s)];
    if (parts.some((x) => x === null)) return null;
    total = parts.reduce<bigint>((a, b) => a + b!, 0n);
  }
  if (total >= MAX_MICROS) return null;
  return negative ? -total : total;
}

/** Microseconds -> H:MM:SS[.ffffff] (what interval input reads exactly). */
export function durationText(micros: bigint): string {
  const neg = micros < 0n;
  let m = neg ? -micros : micros;
  const frac = m % 1_000_000n;
  m /= 1_000_000n;
  const s = m % 60n;
  const min = (m / 60n) % 60n;
  const h = m / 3600n;
  const f = frac === 0n ? '' : `.${frac.toString().padStart(6, '0').replace(/0+$/, '')}`;
  return `${neg ? '-' : ''}${h}:${String(min).padStart(2, '0')}:${String(s).padStart(2, '0')}${f}`;
}

export const durationType: FieldTypeDef<Record<string, never>> = {
  name: 'duration',
  label: 'Duration',
  options: z.object({}).strict(),
  sqlType: () => 'interval',
  parse(input) {
    if (isEmpty(input)) return null;
    if (typeof input === 'number' || input instanceof RawJson) throw new FieldValueError('must be a duration as text, e.g. "1:30" or "90m"');
    const text = asText(input, 100);
    const micros = durationMicros(text);
    if (micros === null) throw new FieldValueError(`"${text.trim().slice(0, 40)}" is not a duration (1:30, 1:30:15, 90m, 1h 30m, 45s; at most 10^8 hours, to the microsecond)`);
    return durationText(micros);
  },
  toJson: (v) => (v == null ? null : String(v)),
  // 1:30 when there are no seconds, else 1:30:15
  display: (v) => (v == null ? '' : String(v).replace(/^(-?\d+:\d\d):00$/, '$1')),
  filterOps: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'empty', 'not_empty', 'in'],
  searchable: false,
  selectSql: (e) => `tablewright.duration_text(${e})`,
  toText: (e) => `tablewright.duration_text(${e})`,
  fromText: (t) => `tablewright.try_duration(${t})`,
};
