// The formula language's syntax tree. Field references hold the field's id, not its name:
// renaming a field keeps every formula that uses it working (the text is printed again
// from the tree with the names of now). Every node keeps where it began in the text, so
// that an error can name the position.
export type Node =
  | { k: 'num'; text: string; pos: number }
  | { k: 'str'; value: string; pos: number }
  | { k: 'bool'; value: boolean; pos: number }
  | { k: 'null'; pos: number }
  | { k: 'field'; id: number; pos: number }
  | { k: 'neg'; arg: Node; pos: number }
  | { k: 'not'; arg: Node; pos: number }
  | { k: 'bin'; op: BinOp; left: Node; right: Node; pos: number }
  | { k: 'call'; fn: string; args: Node[]; pos: number };

export const BIN_OPS = ['+', '-', '*', '/', '&', '=', '!=', '<', '<=', '>', '>=', 'and', 'or'] as const;
export type BinOp = (typeof BIN_OPS)[number];

export type ValueType = 'number' | 'text' | 'boolean' | 'date' | 'null';

/** A formula that cannot be accepted: the message names the position (1-based character). */
export class FormulaError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(`${message} (at character ${pos + 1})`);
  }
}

/** Limits that keep every formula's SQL small and its numbers inside numeric's range. */
export const MAX_FORMULA_CHARS = 2000;
export const MAX_NODES = 200;
