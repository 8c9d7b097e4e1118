// Converting a column from one field shape (type + options) to another.
//
// Every pair goes through text: the old type's toText, then the new type's fromText, both
// NULL on failure (a value that would change, rounded or cut, fails too) and never raising. A few pairs have a more faithful direct route
// (number <-> boolean, date <-> datetime, select option ids kept by id). The same SQL
// serves the conversion (ALTER COLUMN ... TYPE ... USING) and the dry run that counts and
// shows what would be lost.
import { OPTION_IDS_TYPE } from './multiple_select.js';
import { fieldType } from './registry.js';
import type { FieldTypeName, SqlEnv } from './types.js';

export const SYSTEM_BASE: Partial<Record<FieldTypeName, FieldTypeName>> = {
  autonumber: 'number',
  created_at: 'datetime',
  updated_at: 'datetime',
  created_by: 'text',
  updated_by: 'text',
};

export interface FieldShape {
  type: FieldTypeName;
  options: any;
}

/** SQL that turns `col` (of shape `from`) into a value of shape `to`, or NULL. */
export function conversionSql(from: FieldShape, to: FieldShape, col: string, env: SqlEnv): string {
  const src = fieldType(from.type);
  const dst = fieldType(to.type);
  // Only 0 and 1 are booleans exactly: 5 -> true could not come back as 5, so it is a lost
  // value (reported, kept in the trashed copy), like a number with too many decimals.
  if (from.type === 'number' && to.type === 'boolean') return `CASE ${col} WHEN 0 THEN false WHEN 1 THEN true END`;
  if (from.type === 'boolean' && to.type === 'number') return `CASE WHEN ${col} THEN 1 WHEN NOT ${col} THEN 0 END`;
  // Only a UTC midnight is a date exactly: a time of day would be dropped, so that value is
  // lost (reported and kept), as a number with too many decimals is, never truncated.
  if (from.type === 'datetime' && to.type === 'date') return `CASE WHEN (${col} AT TIME ZONE 'UTC')::time = '00:00' THEN (${col} AT TIME ZONE 'UTC')::date END`;
  if (from.type === 'date' && to.type === 'datetime') return `(${col}::timestamp AT TIME ZONE 'UTC')`;
  if (from.type === 'single_select' && to.type === 'single_select') {
    const kept = (to.options.choices as Array<{ id: number }>).map((c) => c.id);
    return kept.length ? `CASE WHEN ${col} IN (${kept.join(', ')}) THEN ${col} END` : 'NULL::integer';
  }
  // Option ids are kept by id between the two select types (a label with a comma, which a
  // multiple select cannot have, is no option there: its values are reported lost).
  if (from.type === 'multiple_select' || to.type === 'multiple_select') {
    const direct = selectIdsSql(from, to, col);
    if (direct) return direct;
  }
  // A number to a link, without the text between (the same values as the route through
  // text, whose regex '^[0-9]{1,18}$' on the number's text was most of the conversion's
  // cost: 2,000,000 rows 1.39 s -> 0.24 s): a number's text has a point exactly when its
  // scale is above 0, a minus sign when it is negative, at most 18 digits below 10^18; NaN
  // and infinity have no scale (NULL). test/schema/number_link_route.test.ts compares both.
  if (from.type === 'number' && to.type === 'link') {
    const whole = from.options?.any_precision || from.options?.decimals !== 0 ? `scale(${col}) = 0 AND ` : '';
    return `CASE WHEN ${whole}${col} >= 0 AND ${col} < 1000000000000000000 THEN (${col})::bigint END`;
  }
  // a system field to the ordinary type it is stored as keeps every value as it is
  if (SYSTEM_BASE[from.type] === to.type && (to.type !== 'number' || to.options.decimals === 0)) return col;
  if (from.type === to.type && ['text', 'long_text', 'email', 'url', 'json', 'boolean', 'date', 'datetime'].includes(from.type)) return col;
  if ((from.type === 'text' || from.type === 'long_text') && (to.type === 'text' || to.type === 'long_text')) return col;
  const viaText = dst.fromText(src.toText(col, from.options), to.options, env);
  // A set holding an id that no option has ({1,7}) would become the labels of the others
  // ("Red"), the 7 dropped without a word: lost whole instead (counted, kept).
  if (from.type === 'multiple_select') return `CASE WHEN ${col}::int[] <@ ${optionIdsArray(from)} THEN ${viaText} END`;
  return viaText;
}

/** SQL: the option ids of a select shape, as int[]. */
const optionIdsArray = (shape: FieldShape) => `ARRAY[${((shape.options?.choices ?? []) as Array<{ id: number }>).map((c) => c.id).join(',')}]::int[]`;

function selectIdsSql(from: FieldShape, to: FieldShape, col: string): string | null {
  const ids = (shape: FieldShape) => ((shape.options?.choices ?? []) as Array<{ id: number }>).map((c) => c.id);
  const kept = ids(to);
  const keptArray = optionIdsArray(to);
  if (from.type === 'multiple_select' && to.type === 'multiple_select') {
    // every old option still there (a rename, a colour, a new option): nothing to rewrite
    if (ids(from).every((id) => kept.includes(id))) return col;
    return `tablewright.option_set(ARRAY(SELECT x FROM unnest(${col}::int[]) AS x WHERE x = ANY (${keptArray})))::${OPTION_IDS_TYPE}`;
  }
  if (from.type === 'single_select' && to.type === 'multiple_select') {
    return kept.length ? `CASE WHEN ${col} = ANY (${keptArray}) THEN ARRAY[${col}]::${OPTION_IDS_TYPE} END` : `NULL::${OPTION_IDS_TYPE}`;
  }
  if (from.type === 'multiple_select' && to.type === 'single_select') {
    // one option only: a row with several has no single value (reported, kept in the trash)
    return kept.length ? `CASE WHEN cardinality(${col}) = 1 AND (${col}::int[])[1] = ANY (${keptArray}) THEN (${col}::int[])[1] END` : 'NULL::integer';
  }
  return null;
}

/**
 * A predicate over rows: true where a non-empty value would not survive the conversion
 * (it would become NULL, or a link would point at no row).
 */
export function lossPredicate(from: FieldShape, to: FieldShape, col: string, env: SqlEnv): string {
  if (to.type === 'link') assertQualified(col);
  const converted = conversionSql(from, to, col, env);
  const nonEmpty = nonEmptySql(from, col);
  if (to.type === 'link') {
    // No row has a NULL id, so a value that does not convert (NULL) finds no row either:
    // "converted IS NULL OR no row" is "no row", with the conversion computed once a row
    // (it was twice: 2,000,000 number -> link rows 4.25 s -> 2.98 s for the count).
    const target = env.linkTarget(to.options.table_id);
    return `${nonEmpty} AND NOT EXISTS (SELECT 1 FROM ${target} AS l WHERE l.id = (${converted}))`;
  }
  if (from.type === 'multiple_select' && to.type === 'multiple_select') {
    // a row keeping some of its options still loses the others
    return `${col} IS NOT NULL AND NOT (${col}::int[] <@ ${optionIdsArray(to)})`;
  }
  return `${nonEmpty} AND (${converted}) IS NULL`;
}

/**
 * The loss report's scan of a whole table: FROM what (the table as t), and which rows would
 * lose their value (lossPredicate, over t). A link's lookup is a join here, not the
 * predicate's NOT EXISTS: a correlated subquery keeps the scan in one process (no parallel
 * plan) and looks every row up in the target's key. 2,000,000 number -> link rows, PG 15,
 * two cores: the count took 2.2 s with the subquery, 0.57 s as a hash join with two
 * workers. The target's id is its key, so the join keeps one row for each of the table's.
 */
export function lossScan(from: FieldShape, to: FieldShape, relation: string, col: string, env: SqlEnv): { from: string; lost: string } {
  const c = `t.${col}`;
  if (to.type !== 'link') return { from: `${relation} AS t`, lost: lossPredicate(from, to, c, env) };
  return {
    from: `${relation} AS t LEFT JOIN ${env.linkTarget(to.options.table_id)} AS l ON l.id = (${conversionSql(from, to, c, env)})`,
    lost: `${nonEmptySql(from, c)} AND l.id IS NULL`,
  };
}

/**
 * A link's lookup is a subquery over its target (`l`), where a bare column name means the
 * target's column when it has one of that name (a number "ref" turned into a link to a
 * table that has a "ref" of its own compared each target row with itself, and emptied every
 * link): the column must name its table (`t."ref"`, `NEW."ref"`).
 */
function assertQualified(col: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*\./.test(col)) throw new Error(`a link's lookup needs the column with its table's name (t.col), not ${col}`);
}

/**
 * A value that is there: not NULL, and not blank as text. An option id is a value even when
 * no option has it (written by a DBA, or an option removed by hand): its text is empty, but
 * a conversion drops it, so it counts as lost like any other.
 */
function nonEmptySql(from: FieldShape, col: string): string {
  if (from.type === 'single_select') return `(${col} IS NOT NULL)`;
  if (from.type === 'multiple_select') return `(${col} IS NOT NULL AND cardinality(${col}::int[]) > 0)`;
  return `(${col} IS NOT NULL AND btrim(coalesce(${fieldType(from.type).toText(col, from.options)}, '')) <> '')`;
}

/**
 * The value a shadow column holds (the online type change): the conversion, NULL where a
 * value does not survive (lossPredicate), with the conversion evaluated once per row.
 * `CASE WHEN lossPredicate THEN NULL ELSE conversion END` evaluated it twice (three times
 * for a link: 2,000,000 text -> number rows spent 15 s in it, 7 s in one conversion); for
 * every pair but two it equals the conversion itself (the predicate is "non-empty and
 * converted IS NULL"). A link keeps the converted id only where its row exists; a multiple
 * select that would lose some of its options is emptied as the predicate says.
 */
export function convertedOrNullSql(from: FieldShape, to: FieldShape, col: string, env: SqlEnv): string {
  const converted = conversionSql(from, to, col, env);
  if (to.type === 'link') assertQualified(col);
  if (to.type === 'link') return `(SELECT l.id FROM ${env.linkTarget(to.options.table_id)} AS l WHERE l.id = (${converted}))`;
  if (from.type === 'multiple_select' && to.type === 'multiple_select') return `CASE WHEN ${lossPredicate(from, to, col, env)} THEN NULL ELSE ${converted} END`;
  return converted;
}

/**
 * After an online copy (every row's new column written with convertedOrNullSql, by the copy
 * or the sync trigger): the rows whose value was lost, read without converting anything
 * again. convertedOrNullSql is empty exactly where lossPredicate holds or the value is
 * empty, so "new column empty, old value not" is lossPredicate.
 */
export function lostAfterCopySql(from: FieldShape, shadow: string, col: string): string {
  return `${shadow} IS NULL AND ${nonEmptySql(from, col)}`;
}

/** Text of the old value, for showing what would be lost (an option id no option has: the id). */
export function displaySql(from: FieldShape, col: string): string {
  const text = fieldType(from.type).toText(col, from.options);
  if (from.type === 'single_select' || from.type === 'multiple_select') return `coalesce(nullif(${text}, ''), ${col}::text)`;
  return text;
}
