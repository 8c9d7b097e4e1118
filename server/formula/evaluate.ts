// A JavaScript evaluator of the formula tree, with the semantics compile.ts gives the SQL
// (exact decimals, NULL for an empty operand and for x / 0, SQL's three-valued logic). The
// property test runs both on random rows and compares; it is also the reference for what a
// formula means. Division is the one inexact operation: it is computed to 30 places here,
// to PostgreSQL's own precision there.
import type { Node } from './ast.js';

/** An exact decimal: v / 10^s (s >= 0), the scale kept as numeric keeps it. */
export class Dec {
  constructor(
    readonly v: bigint,
    readonly s: number,
  ) {}
  static parse(text: string): Dec {
    const m = /^(-?)([0-9]*)(?:\.([0-9]*))?$/.exec(text.trim());
    if (!m) throw new Error(`not a decimal: ${text}`);
    const frac = m[3] ?? '';
    return new Dec(BigInt(`${m[1]}${m[2] || '0'}${frac}`), frac.length);
  }
  private at(s: number): bigint {
    return this.v * 10n ** BigInt(s - this.s);
  }
  add(o: Dec): Dec {
    const s = Math.max(this.s, o.s);
    return new Dec(this.at(s) + o.at(s), s);
  }
  sub(o: Dec): Dec {
    return this.add(new Dec(-o.v, o.s));
  }
  mul(o: Dec): Dec {
    return new Dec(this.v * o.v, this.s + o.s);
  }
  div(o: Dec): Dec | null {
    if (o.v === 0n) return null;
    const s = 30;
    // (this / o) at scale s: this.v * 10^(s + o.s - this.s) / o.v
    const num = this.v * 10n ** BigInt(s + o.s - this.s);
    return new Dec(num / o.v, s);
  }
  cmp(o: Dec): number {
    const s = Math.max(this.s, o.s);
    const a = this.at(s);
    const b = o.at(s);
    return a < b ? -1 : a > b ? 1 : 0;
  }
  /** rounded half away from zero to d places (d <= scale), as numeric's round() */
  round(d: number): Dec {
    if (d >= this.s) return new Dec(this.at(d), d);
    const f = 10n ** BigInt(this.s - d);
    let q = this.v / f;
    const r = this.v % f;
    if ((r < 0n ? -r : r) * 2n >= f) q += this.v < 0n ? -1n : 1n;
    return new Dec(q, d);
  }
  abs(): Dec {
    return new Dec(this.v < 0n ? -this.v : this.v, this.s);
  }
  neg(): Dec {
    return new Dec(-this.v, this.s);
  }
  toNumber(): number {
    return Number(this.toString());
  }
  toString(): string {
    const neg = this.v < 0n;
    const digits = (neg ? -this.v : this.v).toString().padStart(this.s + 1, '0');
    const whole = digits.slice(0, digits.length - this.s);
    const frac = digits.slice(digits.length - this.s);
    return `${neg ? '-' : ''}${whole}${this.s ? `.${frac}` : ''}`;
  }
}

/** A value: a Dec, text, a boolean, a date (days since 1970-01-01), or null. */
export type Value = Dec | string | boolean | { days: number } | null;

const isoDate = (d: { days: number }) => new Date(d.days * 86_400_000).toISOString().slice(0, 10);
const toText = (v: Value): string | null => (v === null ? null : v instanceof Dec ? v.toString() : typeof v === 'object' ? isoDate(v) : String(v));
const codePoints = (s: string) => [...s];

function sqlLeft(s: string, n: number): string {
  const cp = codePoints(s);
  return (n >= 0 ? cp.slice(0, n) : cp.slice(0, Math.max(0, cp.length + n))).join('');
}
function sqlRight(s: string, n: number): string {
  const cp = codePoints(s);
  return (n >= 0 ? cp.slice(Math.max(0, cp.length - n)) : cp.slice(Math.min(cp.length, -n))).join('');
}
const smallInt = (d: Dec) => Math.max(-1_000_000, Math.min(1_000_000, Number(d.round(0).toString())));

function compare(a: Value, b: Value): number {
  if (a instanceof Dec && b instanceof Dec) return a.cmp(b);
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return (a as { days: number }).days - (b as { days: number }).days;
}

/** Evaluates `n` for one row; `field` answers a field's value by id. `today` is the day in UTC. */
export function evaluate(n: Node, field: (id: number) => Value, today = Math.floor(Date.now() / 86_400_000)): Value {
  const ev = (x: Node): Value => evaluate(x, field, today);
  switch (n.k) {
    case 'num':
      return Dec.parse(n.text);
    case 'str':
      return n.value;
    case 'bool':
      return n.value;
    case 'null':
      return null;
    case 'field':
      return field(n.id);
    case 'neg': {
      const v = ev(n.arg) as Dec | null;
      return v === null ? null : v.neg();
    }
    case 'not': {
      const v = ev(n.arg) as boolean | null;
      return v === null ? null : !v;
    }
    case 'bin': {
      if (n.op === 'and' || n.op === 'or') {
        const a = ev(n.left) as boolean | null;
        const b = ev(n.right) as boolean | null;
        if (n.op === 'and') return a === false || b === false ? false : a === null || b === null ? null : true;
        return a === true || b === true ? true : a === null || b === null ? null : false;
      }
      const a = ev(n.left);
      const b = ev(n.right);
      if (n.op === '&') return (toText(a) ?? '') + (toText(b) ?? '');
      if (a === null || b === null) return null;
      switch (n.op) {
        case '+':
          return (a as Dec).add(b as Dec);
        case '-':
          return (a as Dec).sub(b as Dec);
        case '*':
          return (a as Dec).mul(b as Dec);
        case '/':
          return (a as Dec).div(b as Dec);
        case '=':
          return compare(a, b) === 0;
        case '!=':
          return compare(a, b) !== 0;
        case '<':
          return compare(a, b) < 0;
        case '<=':
          return compare(a, b) <= 0;
        case '>':
          return compare(a, b) > 0;
        case '>=':
          return compare(a, b) >= 0;
      }
      return null;
    }
    case 'call': {
      if (n.fn === 'if') return ev(n.args[0]!) === true ? ev(n.args[1]!) : ev(n.args[2]!);
      if (n.fn === 'today') return { days: today };
      if (n.fn === 'concat') return n.args.map((a) => toText(ev(a)) ?? '').join('');
      const a = n.args.map(ev);
      if (a.some((v) => v === null)) return null;
      switch (n.fn) {
        case 'upper':
          return (a[0] as string).toUpperCase();
        case 'lower':
          return (a[0] as string).toLowerCase();
        case 'trim':
          return (a[0] as string).replace(/^ +| +$/g, '');
        case 'left':
          return sqlLeft(a[0] as string, smallInt(a[1] as Dec));
        case 'right':
          return sqlRight(a[0] as string, smallInt(a[1] as Dec));
        case 'len':
          return new Dec(BigInt(codePoints(a[0] as string).length), 0);
        case 'abs':
          return (a[0] as Dec).abs();
        case 'round':
          return (a[0] as Dec).round(a.length > 1 ? Number((a[1] as Dec).toString()) : 0);
        case 'date_diff':
          return new Dec(BigInt((a[1] as { days: number }).days - (a[0] as { days: number }).days), 0);
      }
      return null;
    }
  }
}
