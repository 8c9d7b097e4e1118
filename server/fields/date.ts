// date (calendar day, no zone) and datetime (timestamptz, to the microsecond, shown and
// parsed as ISO 8601, UTC when no offset is given).
//
// No JS Date on the way in or out: a Date knows milliseconds only, maps the years 1-99 to
// 1900-1999, and reads a timestamp without a zone in the process's TZ. Values go to
// PostgreSQL as ISO text it reads the same under any DateStyle and TimeZone, and come
// back as text written by tablewright.date_text / datetime_text / timestamp_text
// (sql/migrations/007), independent of the session's settings too.
import { z } from 'zod';
import { asText, isEmpty } from './common.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

/** Only this much of a value is looked at by a regular expression. */
const MAX_DATE_TEXT = 64;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?)?[ ]?(Z|z|([+-])(\d{2})(?::?(\d{2}))?)?$/;

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** A day of the proleptic Gregorian calendar (PostgreSQL's) in the years 1 to 9999. */
export function validDay(y: number, m: number, d: number): boolean {
  return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

/** Days from 0001-01-01 (day 0), proleptic Gregorian. */
function dayNumber(y: number, m: number, d: number): number {
  const yy = y - 1;
  let n = yy * 365 + Math.floor(yy / 4) - Math.floor(yy / 100) + Math.floor(yy / 400);
  for (let i = 1; i < m; i++) n += daysInMonth(y, i);
  return n + d - 1;
}
const LAST_MINUTE = (dayNumber(9999, 12, 31) + 1) * 1440;

function dateText(input: unknown): string | null {
  if (isEmpty(input)) return null;
  const text = asText(input).trim();
  const m = text.length <= MAX_DATE_TEXT ? DATE_RE.exec(text) : null;
  if (!m || !validDay(Number(m[1]), Number(m[2]), Number(m[3]))) throw new FieldValueError(`"${text.slice(0, 40)}" is not a date (YYYY-MM-DD, years 0001 to 9999)`);
  return text;
}

/**
 * ISO 8601 -> the same instant as text PostgreSQL reads exactly ('2024-03-01T14:30:00.123456Z',
 * or with the offset given). Without an offset the time is UTC: the same rule as
 * conversions (tablewright.try_timestamptz).
 */
function datetimeText(input: unknown): string | null {
  if (isEmpty(input)) return null;
  const text = asText(input).trim();
  const bad = () => new FieldValueError(`"${text.slice(0, 40)}" is not a date and time (ISO 8601, e.g. 2024-03-01T14:30:00Z, to the microsecond)`);
  const m = text.length <= MAX_DATE_TEXT ? DATETIME_RE.exec(text) : null;
  if (!m) throw bad();
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone, sign, oh = '00', om = '00'] = m;
  if (!validDay(Number(y), Number(mo), Number(d)) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) throw bad();
  // PostgreSQL takes offsets up to 15:59.
  if (Number(oh) > 15 || Number(om) > 59) throw bad();
  const offset = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) : 0;
  // An offset can carry a valid local day out of the years 1-9999 in UTC: refused, as
  // a read would have to show a year PostgreSQL writes as BC or past 9999.
  const utcMinute = dayNumber(Number(y), Number(mo), Number(d)) * 1440 + Number(h) * 60 + Number(mi) - offset;
  if (utcMinute < 0 || utcMinute >= LAST_MINUTE) throw new FieldValueError(`"${text.slice(0, 40)}" is outside the years 1 to 9999 in UTC`);
  const tz = zone && zone.toUpperCase() !== 'Z' ? `${sign}${oh}:${om}` : 'Z';
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${frac}${tz}`;
}

export const dateType: FieldTypeDef<Record<string, never>> = {
  name: 'date',
  label: 'Date',
  options: z.object({}).strict(),
  sqlType: () => 'date',
  parse: dateText,
  toJson: (v) => (v == null ? null : String(v)),
  display: (v) => (v == null ? '' : String(v)),
  filterOps: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'empty', 'not_empty', 'in'],
  searchable: false,
  selectSql: (e) => `tablewright.date_text(${e})`,
  toText: (e) => `tablewright.date_text(${e})`,
  fromText: (t) => `tablewright.try_date(${t})`,
};

export const datetimeType: FieldTypeDef<Record<string, never>> = {
  name: 'datetime',
  label: 'Date and time',
  options: z.object({}).strict(),
  sqlType: () => 'timestamptz',
  parse: datetimeText,
  toJson: (v) => (v == null ? null : String(v)),
  display: (v) => {
    if (v == null) return '';
    const text = String(v);
    if (text[10] !== 'T') return text; // infinity, or a year past 9999
    // '2024-03-01T10:00:00.123456Z' -> '2024-03-01 10:00 UTC' (a timestamp without a zone: no UTC)
    return `${text.slice(0, 10)} ${text.slice(11, 16)}${text.includes('Z') ? ' UTC' : ''}${text.endsWith(' BC') ? ' BC' : ''}`;
  },
  filterOps: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'empty', 'not_empty', 'in'],
  searchable: false,
  selectSql: (e) => `tablewright.datetime_text(${e})`,
  toText: (e) => `tablewright.datetime_text(${e})`,
  fromText: (t) => `tablewright.try_timestamptz(${t})`,
};
