// formula: a value computed from the row's other fields by an expression (server/formula/).
// The schema editor parses `expression` into a tree holding field ids, type-checks it and
// keeps, in the options: the expression (printed again with the names of now after a
// rename), the tree, the result's type and whether it is stored. A stored formula is a
// GENERATED ALWAYS AS (...) STORED column, so psql sees the values too. Nothing writes it.
import { z } from 'zod';
import { booleanType } from './boolean.js';
import { dateType } from './date.js';
import { numberToJson } from './number.js';
import { textType } from './text.js';
import { FieldValueError, type FieldTypeDef } from './types.js';
import { MAX_FORMULA_CHARS, type Node, type ValueType } from '../formula/ast.js';
import { resultSqlType } from '../formula/compile.js';

export interface FormulaOpts {
  expression: string;
  /** set by the schema editor from `expression`; whatever a request sends here is replaced */
  ast?: Node;
  result?: Exclude<ValueType, 'null'>;
  stored?: boolean;
}

const options = z
  .object({
    expression: z.string().min(1, 'a formula needs an expression, e.g. {Price} * {Qty}').max(MAX_FORMULA_CHARS, `a formula has at most ${MAX_FORMULA_CHARS} characters`),
    ast: z.any().optional(),
    result: z.enum(['number', 'text', 'boolean', 'date']).optional(),
    stored: z.boolean().optional(),
  })
  .strict();

const readOnly = () => {
  throw new FieldValueError('is a formula: its value is computed, it cannot be written');
};

/** The type whose parsing, filters and formatting a formula's result uses. */
export function resultType(opts: FormulaOpts): FieldTypeDef {
  switch (opts.result) {
    case 'number':
      return { ...formulaType, parse: (v) => numberLike(v), toJson: numberToJson, filterOps: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'empty', 'not_empty'], selectSql: (e) => `(${e})::text` };
    case 'boolean':
      return { ...formulaType, parse: (v) => booleanType.parse(v, {}), toJson: booleanType.toJson, display: booleanType.display, filterOps: booleanType.filterOps };
    case 'date':
      return { ...formulaType, parse: (v) => dateType.parse(v, {}), toJson: dateType.toJson, display: dateType.display, filterOps: dateType.filterOps, selectSql: dateType.selectSql };
    default:
      return { ...formulaType, parse: (v) => textType.parse(v, {}), toJson: textType.toJson, display: textType.display, filterOps: textType.filterOps, searchable: true };
  }
}

// a filter value for a number formula: any number, exact (the column is unconstrained numeric)
function numberLike(v: unknown): unknown {
  const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : v && typeof v === 'object' && 'text' in v ? String((v as { text: unknown }).text) : '';
  if (text === '') return null;
  if (text.length > 100 || !/^-?[0-9]+(\.[0-9]+)?$/.test(text)) throw new FieldValueError(`"${text.slice(0, 40)}" is not a number`);
  return text;
}

export const formulaType: FieldTypeDef<FormulaOpts> = {
  name: 'formula',
  label: 'Formula',
  options: options as unknown as z.ZodType<FormulaOpts>,
  sqlType: (o) => resultSqlType(o.result ?? 'text'),
  parse: readOnly,
  toJson: (v) => v ?? null,
  display: (v) => (v == null ? '' : String(v)),
  filterOps: ['empty', 'not_empty'],
  searchable: false,
  toText: (e, o) => (o.result === 'date' ? `tablewright.iso_date(${e})` : `(${e})::text`),
  // nothing converts into a formula: its values are computed
  fromText: (_t, o) => `NULL::${resultSqlType(o.result ?? 'text')}`,
};
