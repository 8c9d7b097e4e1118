// date (calendar day, no zone) and datetime (timestamptz, shown and parsed as ISO 8601, UTC
// when no offset is given).
import { z } from 'zod';
import { asText, isEmpty } from './common.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

function validDay(y: number, m: number, d: number): boolean {
  const dt = new Date(Date.UTC(y, m - 1, d));
  return y >= 1 && y <= 9999 && dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

export const dateType: FieldTypeDef<Record<string, never>> = {
  name: 'date',
  label: 'Date',
  options: z.object({}).strict(),
  sqlType: () => 'date',
  parse(input) {
    if (isEmpty(input)) return null;
    const text = asText(input).trim();
    const m = DATE_RE.exec(text);
    if (!m || !validDay(Number(m[1]), Number(m[2]), Number(m[3]))) throw new FieldValueError(`"${text.slice(0, 40)}" is not a date (YYYY-MM-DD)`);
    return text;
  },
  toJson: (v) => (v == null ? null : String(v)),
  display: (v) => (v == null ? '' : String(v)),
  filterOps: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'empty', 'not_empty', 'in'],
  searchable: false,
  toText: (e) => `to_char(${e}, 'YYYY-MM-DD')`,
  fromText: (t) => `tablewright.try_date(${t})`,
};

export const datetimeType: FieldTypeDef<Record<string, never>> = {
  name: 'datetime',
  label: 'Date and time',
  options: z.object({}).strict(),
  sqlType: () => 'timestamptz',
  parse(input) {
    if (isEmpty(input)) return null;
    const text = asText(input).trim();
    const m = DATETIME_RE.exec(text);
    if (!m || !validDay(Number(m[1]), Number(m[2]), Number(m[3])) || Number(m[4] ?? 0) > 23 || Number(m[5] ?? 0) > 59 || Number(m[6] ?? 0) > 59) {
      throw new FieldValueError(`"${text.slice(0, 40)}" is not a date and time (ISO 8601, e.g. 2024-03-01T14:30:00Z)`);
    }
    // Without an offset the time is UTC: the same rule as conversions (try_timestamptz).
    const iso = m[8] || !m[4] ? text : `${text}Z`;
    const ms = Date.parse(iso.replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2').replace(/([+-]\d{2})$/, '$1:00'));
    if (Number.isNaN(ms)) throw new FieldValueError(`"${text.slice(0, 40)}" is not a date and time`);
    // An offset can carry a valid local day out of years 1-9999 in UTC, which PostgreSQL
    // would refuse (a 500 in a filter): refuse it here.
    const year = new Date(ms).getUTCFullYear();
    if (year < 1 || year > 9999) throw new FieldValueError(`"${text.slice(0, 40)}" is outside the years 1 to 9999 in UTC`);
    return new Date(ms).toISOString();
  },
  toJson: (v) => (v == null ? null : v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString()),
  display: (v) => {
    if (v == null) return '';
    const d = v instanceof Date ? v : new Date(String(v));
    return d.toISOString().replace('T', ' ').replace(/:\d{2}\.\d{3}Z$/, ' UTC');
  },
  filterOps: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'empty', 'not_empty', 'in'],
  searchable: false,
  toText: (e) => `to_char(${e} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`,
  fromText: (t) => `tablewright.try_timestamptz(${t})`,
};
