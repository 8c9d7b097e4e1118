// Type-checks a formula's tree against the fields' types and compiles it to SQL. Every
// constant goes through literal() (server/db/ident.ts: the one escaping helper; a
// generated column's expression takes no bind parameters) and every field through the
// quoted reference the caller gives; no text of the formula ever reaches SQL otherwise.
//
// Semantics (the JS evaluator in evaluate.ts follows the same rules, and the property
// test compares the two on random rows):
//   - numbers are exact (numeric); x / 0 is empty (NULL), as is anything with an empty operand
//   - & and concat() read an empty value as '' (text) ; a number as its digits, a date as
//     YYYY-MM-DD, a boolean as true / false
//   - comparisons of an empty value are empty; if(empty, a, b) is b; and/or/not as SQL's
//   - a datetime field reads as its date in UTC
import { literal } from '../db/ident.js';
import { FormulaError, type Node, type ValueType } from './ast.js';

/** What a formula may read of a field: its value's type, or why not. */
export function valueTypeOf(fieldType: string): ValueType | undefined {
  switch (fieldType) {
    case 'number':
    case 'percent':
    case 'currency':
    case 'rating':
    case 'autonumber':
      return 'number';
    case 'text':
    case 'long_text':
    case 'email':
    case 'url':
    case 'phone':
    case 'created_by':
    case 'updated_by':
      return 'text';
    case 'boolean':
      return 'boolean';
    case 'date':
    case 'datetime':
    case 'created_at':
    case 'updated_at':
      return 'date';
    default:
      return undefined;
  }
}

export interface FieldRef {
  name: string;
  type: string;
  /** the column as SQL (quoted; `r."price"` in a listing, `"price"` in a generated column) */
  ref: string;
}

export interface Compiled {
  sql: string;
  type: ValueType;
  /** only immutable functions: it can be a stored generated column */
  immutable: boolean;
}

const SQL_TYPE: Record<Exclude<ValueType, 'null'>, string> = { number: 'numeric', text: 'text', boolean: 'boolean', date: 'date' };

/** A number literal: digits and one point only (the lexer's), through the escaping helper. */
export function numberLiteral(text: string): string {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text)) throw new Error(`not a number literal: ${text.slice(0, 40)}`);
  return `${literal(text)}::numeric`;
}

export const textLiteral = (value: string): string => `${literal(value)}::text`;

/** How many arguments each function takes, [min, max]. */
export const FUNCTIONS: Record<string, [number, number]> = {
  if: [3, 3],
  concat: [1, 50],
  upper: [1, 1],
  lower: [1, 1],
  trim: [1, 1],
  left: [2, 2],
  right: [2, 2],
  len: [1, 1],
  round: [1, 2],
  abs: [1, 1],
  date_diff: [2, 2],
  today: [0, 0],
};

/** Whether a subtree reads the row (a field) or the clock: otherwise it is a constant. */
function readsRow(n: Node): boolean {
  switch (n.k) {
    case 'field':
      return true;
    case 'neg':
    case 'not':
      return readsRow(n.arg);
    case 'bin':
      return readsRow(n.left) || readsRow(n.right);
    case 'call':
      return n.fn === 'today' || n.args.some(readsRow);
    default:
      return false;
  }
}

/**
 * upper(), lower() and text comparisons depend on a collation. Over constants alone,
 * PostgreSQL folds them while it checks a generated column's expression, before it has
 * given them one, and refuses the column ("could not determine which collation to use"):
 * such a part is refused here, by name, instead. It has one value anyway: write that.
 */
function assertNotConstantText(n: Node, what: string): void {
  if (!readsRow(n)) throw new FormulaError(`${what} of text that reads no field is always the same; write its result instead`, n.pos);
}

export function compileFormula(tree: Node, field: (id: number) => FieldRef | undefined): Compiled {
  let immutable = true;
  type R = { sql: string; type: ValueType };

  const asText = (r: R): string => {
    switch (r.type) {
      case 'text':
        return r.sql;
      case 'number':
      case 'boolean':
        return `(${r.sql})::text`;
      case 'date':
        return `tablewright.iso_date(${r.sql})`;
      case 'null':
        return 'NULL::text';
    }
  };
  const want = (r: R, t: ValueType, what: string, pos: number): string => {
    if (r.type === 'null') return `NULL::${SQL_TYPE[t as Exclude<ValueType, 'null'>]}`;
    if (r.type !== t) throw new FormulaError(`${what} needs ${article(t)}, not ${article(r.type)}`, pos);
    return r.sql;
  };
  // a whole number for left/right, never raising: rounded, and kept inside int's range
  // (least/greatest skip NULLs: a CASE keeps an empty count empty)
  const smallInt = (sql: string) => `(CASE WHEN ${sql} > 1000000 THEN 1000000 WHEN ${sql} < -1000000 THEN -1000000 ELSE round(${sql}) END)::int`;

  const go = (n: Node): R => {
    switch (n.k) {
      case 'num':
        return { sql: numberLiteral(n.text), type: 'number' };
      case 'str':
        return { sql: textLiteral(n.value), type: 'text' };
      case 'bool':
        return { sql: n.value ? 'true' : 'false', type: 'boolean' };
      case 'null':
        return { sql: 'NULL', type: 'null' };
      case 'field': {
        const f = field(n.id);
        if (!f) throw new FormulaError(`field #${n.id} is gone`, n.pos);
        const t = valueTypeOf(f.type);
        if (!t) throw new FormulaError(`{${f.name}} is a ${f.type.replace(/_/g, ' ')} field; a formula reads numbers, text, booleans, dates and datetimes`, n.pos);
        if (t === 'number') return { sql: `(${f.ref})::numeric`, type: t };
        if (t === 'date' && f.type !== 'date') return { sql: `(${f.ref} AT TIME ZONE 'UTC')::date`, type: t };
        return { sql: f.ref, type: t };
      }
      case 'neg':
        return { sql: `(-${want(go(n.arg), 'number', '-', n.pos)})`, type: 'number' };
      case 'not':
        return { sql: `(NOT ${want(go(n.arg), 'boolean', 'not', n.pos)})`, type: 'boolean' };
      case 'bin': {
        const l = go(n.left);
        const r = go(n.right);
        switch (n.op) {
          case '+':
          case '-':
          case '*':
            return { sql: `(${want(l, 'number', n.op, n.pos)} ${n.op} ${want(r, 'number', n.op, n.pos)})`, type: 'number' };
          case '/':
            return { sql: `(${want(l, 'number', '/', n.pos)} / NULLIF(${want(r, 'number', '/', n.pos)}, 0))`, type: 'number' };
          case '&':
            return { sql: `(coalesce(${asText(l)}, '') || coalesce(${asText(r)}, ''))`, type: 'text' };
          case 'and':
          case 'or':
            return { sql: `(${want(l, 'boolean', n.op, n.pos)} ${n.op.toUpperCase()} ${want(r, 'boolean', n.op, n.pos)})`, type: 'boolean' };
          default: {
            const t = l.type === 'null' ? r.type : l.type;
            if (l.type !== 'null' && r.type !== 'null' && l.type !== r.type) throw new FormulaError(`${n.op} compares ${article(l.type)} with ${article(r.type)}`, n.pos);
            const op = n.op === '!=' ? '<>' : n.op;
            if (t === 'null') return { sql: 'NULL::boolean', type: 'boolean' };
            if (t === 'text') assertNotConstantText(n, n.op);
            return { sql: `(${want(l, t, n.op, n.pos)} ${op} ${want(r, t, n.op, n.pos)})`, type: 'boolean' };
          }
        }
      }
      case 'call':
        return call(n);
    }
  };

  const call = (n: Extract<Node, { k: 'call' }>): R => {
    const arity = FUNCTIONS[n.fn];
    if (!arity) throw new FormulaError(`"${n.fn}" is not a function; use one of: ${Object.keys(FUNCTIONS).join(', ')}`, n.pos);
    if (n.args.length < arity[0] || n.args.length > arity[1]) {
      throw new FormulaError(`${n.fn}() takes ${arity[0] === arity[1] ? arity[0] : `${arity[0]} to ${arity[1]}`} argument${arity[1] === 1 ? '' : 's'}`, n.pos);
    }
    const a = n.args.map(go);
    const arg = (i: number, t: ValueType) => want(a[i]!, t, `${n.fn}()'s argument ${i + 1}`, n.args[i]!.pos);
    switch (n.fn) {
      case 'if': {
        arg(0, 'boolean');
        const t = a[1]!.type === 'null' ? a[2]!.type : a[1]!.type;
        if (a[1]!.type !== 'null' && a[2]!.type !== 'null' && a[1]!.type !== a[2]!.type) {
          throw new FormulaError(`if() gives ${article(a[1]!.type)} or ${article(a[2]!.type)}: both must be of one type`, n.pos);
        }
        if (t === 'null') return { sql: 'NULL', type: 'null' };
        return { sql: `(CASE WHEN ${arg(0, 'boolean')} THEN ${want(a[1]!, t, 'if()', n.pos)} ELSE ${want(a[2]!, t, 'if()', n.pos)} END)`, type: t };
      }
      case 'concat':
        return { sql: `(${a.map((x) => `coalesce(${asText(x)}, '')`).join(' || ')})`, type: 'text' };
      case 'upper':
      case 'lower':
        if (a[0]!.type === 'text') assertNotConstantText(n, `${n.fn}()`);
        return { sql: `${n.fn}(${arg(0, 'text')})`, type: 'text' };
      case 'trim':
        return { sql: `btrim(${arg(0, 'text')})`, type: 'text' };
      case 'left':
      case 'right':
        return { sql: `${n.fn}(${arg(0, 'text')}, ${smallInt(arg(1, 'number'))})`, type: 'text' };
      case 'len':
        return { sql: `(length(${arg(0, 'text')}))::numeric`, type: 'number' };
      case 'abs':
        return { sql: `abs(${arg(0, 'number')})`, type: 'number' };
      case 'round': {
        if (n.args.length === 1) return { sql: `round(${arg(0, 'number')})`, type: 'number' };
        const d = n.args[1]!;
        if (d.k !== 'num' || !/^[0-9]{1,2}$/.test(d.text) || Number(d.text) > 10) throw new FormulaError('round()\'s places are a whole number from 0 to 10, written as is', d.pos);
        return { sql: `round(${arg(0, 'number')}, ${Number(d.text)})`, type: 'number' };
      }
      case 'date_diff':
        // whole days from the first date to the second
        return { sql: `((${arg(1, 'date')} - ${arg(0, 'date')}))::numeric`, type: 'number' };
      case 'today':
        immutable = false;
        return { sql: `(now() AT TIME ZONE 'UTC')::date`, type: 'date' };
    }
    throw new FormulaError(`"${n.fn}" is not a function`, n.pos);
  };

  const out = go(tree);
  if (out.type === 'null') throw new FormulaError('the formula is always empty', tree.pos);
  return { sql: out.sql, type: out.type, immutable };
}

function article(t: ValueType): string {
  return t === 'null' ? 'an empty value' : t === 'text' ? 'text' : `a ${t}`;
}

/** The column type a formula's result is stored as. */
export const resultSqlType = (t: ValueType): string => SQL_TYPE[t as Exclude<ValueType, 'null'>];
