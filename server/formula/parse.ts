// A hand-written lexer and Pratt parser for formulas (no eval, no generated parser):
//
//   expr    := literal | {Field name} | name(args) | -expr | not expr | expr op expr | (expr)
//   literal := 12 | 3.50 | 'text' | "text" | true | false | null
//   ops, loosest first: or; and; = != <> < <= > >=; + - &; * /
//
// Text literals double their quote to include it ('it''s'); a field name in braces writes
// } as \} and \ as \\. A name is resolved to its field's id while parsing.
import { FormulaError, MAX_FORMULA_CHARS, MAX_NODES, type BinOp, type Node } from './ast.js';

type Tok =
  | { t: 'num'; text: string; pos: number }
  | { t: 'str'; value: string; pos: number }
  | { t: 'field'; name: string; pos: number }
  | { t: 'name'; name: string; pos: number }
  | { t: 'op'; op: string; pos: number }
  | { t: 'end'; pos: number };

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const pos = i;
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^[0-9]*(?:\.[0-9]+)?/.exec(src.slice(i, i + 80))!;
      if (m[0].length >= 80 || /[0-9]/.test(src[i + m[0].length] ?? '')) throw new FormulaError('a number has at most 79 characters', pos);
      const text = m[0].startsWith('.') ? `0${m[0]}` : m[0];
      if (text.replace('.', '').replace(/^0+/, '').length > 40) throw new FormulaError('a number has at most 40 digits', pos);
      out.push({ t: 'num', text, pos });
      i += m[0].length;
      if (/[A-Za-z_]/.test(src[i] ?? '')) throw new FormulaError(`unexpected "${src[i]}" after a number`, i);
      continue;
    }
    if (c === "'" || c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new FormulaError('a text is not closed', pos);
        if (src[i] === c) {
          if (src[i + 1] === c) {
            value += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += src[i];
        i++;
      }
      out.push({ t: 'str', value, pos });
      continue;
    }
    if (c === '{') {
      let name = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new FormulaError('a field name is not closed with }', pos);
        if (src[i] === '\\' && i + 1 < src.length) {
          name += src[i + 1];
          i += 2;
          continue;
        }
        if (src[i] === '}') {
          i++;
          break;
        }
        name += src[i];
        i++;
      }
      if (!name.trim()) throw new FormulaError('{} names no field', pos);
      out.push({ t: 'field', name: name.trim(), pos });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 64))!;
      out.push({ t: 'name', name: m[0].toLowerCase(), pos });
      i += m[0].length;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (['<=', '>=', '!=', '<>'].includes(two)) {
      out.push({ t: 'op', op: two === '<>' ? '!=' : two, pos });
      i += 2;
      continue;
    }
    if ('+-*/&=<>(),'.includes(c)) {
      out.push({ t: 'op', op: c, pos });
      i++;
      continue;
    }
    throw new FormulaError(`unexpected "${c}"`, pos);
  }
  out.push({ t: 'end', pos: src.length });
  return out;
}

// binding power of each infix operator (higher binds tighter)
const INFIX: Record<string, number> = { or: 1, and: 2, '=': 3, '!=': 3, '<': 3, '<=': 3, '>': 3, '>=': 3, '+': 4, '-': 4, '&': 4, '*': 5, '/': 5 };

/** Text -> tree. `fieldId` answers a field's id by its name (case-insensitive), else undefined. */
export function parseFormula(src: unknown, fieldId: (name: string) => number | undefined): Node {
  if (typeof src !== 'string' || !src.trim()) throw new FormulaError('a formula needs an expression, e.g. {Price} * {Qty}', 0);
  if (src.length > MAX_FORMULA_CHARS) throw new FormulaError(`a formula has at most ${MAX_FORMULA_CHARS} characters`, MAX_FORMULA_CHARS);
  if (src.includes('\0')) throw new FormulaError('a formula may not contain NUL bytes', src.indexOf('\0'));
  const toks = lex(src);
  let at = 0;
  let nodes = 0;
  const peek = () => toks[at]!;
  const next = () => toks[at++]!;
  const count = (pos: number) => {
    if (++nodes > MAX_NODES) throw new FormulaError(`a formula has at most ${MAX_NODES} parts`, pos);
  };
  const expectOp = (op: string) => {
    const t = next();
    if (t.t !== 'op' || t.op !== op) throw new FormulaError(`expected "${op}"${describe(t)}`, t.pos);
  };
  const infixOf = (t: Tok): string | undefined => (t.t === 'op' && t.op in INFIX ? t.op : t.t === 'name' && (t.name === 'and' || t.name === 'or') ? t.name : undefined);

  function prefix(): Node {
    const t = next();
    count(t.pos);
    switch (t.t) {
      case 'num':
        return { k: 'num', text: t.text, pos: t.pos };
      case 'str':
        return { k: 'str', value: t.value, pos: t.pos };
      case 'field': {
        const id = fieldId(t.name);
        if (id === undefined) throw new FormulaError(`no field is named "${t.name.slice(0, 60)}"`, t.pos);
        return { k: 'field', id, pos: t.pos };
      }
      case 'name': {
        if (t.name === 'true' || t.name === 'false') return { k: 'bool', value: t.name === 'true', pos: t.pos };
        if (t.name === 'null') return { k: 'null', pos: t.pos };
        if (t.name === 'not') return { k: 'not', arg: expr(2), pos: t.pos };
        const p = peek();
        if (p.t !== 'op' || p.op !== '(') throw new FormulaError(`"${t.name}" is not a function call (write ${t.name}(...)), and a field is written in braces: {${t.name}}`, t.pos);
        next();
        const args: Node[] = [];
        const close = peek();
        if (close.t === 'op' && close.op === ')') next();
        else {
          for (;;) {
            args.push(expr(0));
            const sep = next();
            if (sep.t === 'op' && sep.op === ')') break;
            if (sep.t !== 'op' || sep.op !== ',') throw new FormulaError(`expected "," or ")"${describe(sep)}`, sep.pos);
          }
        }
        return { k: 'call', fn: t.name, args, pos: t.pos };
      }
      case 'op':
        if (t.op === '-') return { k: 'neg', arg: expr(5), pos: t.pos };
        if (t.op === '(') {
          const inner = expr(0);
          expectOp(')');
          return inner;
        }
        throw new FormulaError(`unexpected "${t.op}"`, t.pos);
      case 'end':
        throw new FormulaError('the formula ends too soon', t.pos);
    }
  }

  function expr(minBp: number): Node {
    let left = prefix();
    for (;;) {
      const t = peek();
      const op = infixOf(t);
      if (!op || INFIX[op]! <= minBp) return left;
      next();
      count(t.pos);
      const right = expr(INFIX[op]!);
      left = { k: 'bin', op: op as BinOp, left, right, pos: t.pos };
    }
  }

  const tree = expr(0);
  const rest = peek();
  if (rest.t !== 'end') throw new FormulaError(`unexpected${describe(rest)}`, rest.pos);
  return tree;
}

function describe(t: Tok): string {
  switch (t.t) {
    case 'end':
      return ' at the end';
    case 'op':
      return ` "${t.op}"`;
    case 'name':
      return ` "${t.name}"`;
    case 'num':
      return ` number ${t.text}`;
    case 'str':
      return ' text';
    case 'field':
      return ` {${t.name}}`;
  }
}

/** The tree as text again, with the fields' names of now (`fieldName` answers one by id). */
export function printFormula(n: Node, fieldName: (id: number) => string): string {
  const p = (x: Node, parentBp: number): string => {
    switch (x.k) {
      case 'num':
        return x.text;
      case 'str':
        return `'${x.value.replace(/'/g, "''")}'`;
      case 'bool':
        return String(x.value);
      case 'null':
        return 'null';
      case 'field':
        return `{${fieldName(x.id).replace(/[\\}]/g, (c) => `\\${c}`)}}`;
      case 'neg':
        return `-${p(x.arg, 5)}`;
      case 'not':
        return `not ${p(x.arg, 2)}`;
      case 'call':
        return `${x.fn}(${x.args.map((a) => p(a, 0)).join(', ')})`;
      case 'bin': {
        const bp = INFIX[x.op]!;
        const text = `${p(x.left, bp - 1)} ${x.op} ${p(x.right, bp)}`;
        return bp <= parentBp ? `(${text})` : text;
      }
    }
  };
  return p(n, 0);
}

/** The ids of the fields a tree uses. */
export function fieldIds(n: Node): number[] {
  const out = new Set<number>();
  const walk = (x: Node) => {
    if (x.k === 'field') out.add(x.id);
    else if (x.k === 'neg' || x.k === 'not') walk(x.arg);
    else if (x.k === 'bin') (walk(x.left), walk(x.right));
    else if (x.k === 'call') x.args.forEach(walk);
  };
  walk(n);
  return [...out];
}
