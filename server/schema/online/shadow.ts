// What the two ways of an online type change share (op_change_type: a shadow column with
// the new type; op_link_in_place: a number's bigint column made a link where it is): the
// names of the change's objects, and catalog probes a resumed change starts from.
import { withoutStatementTimeout } from '../../db/pool.js';
import { withTransaction } from '../../db/tx.js';
import { lostAfterCopySql, type FieldShape } from '../../fields/convert.js';
import { numberSqlType } from '../../fields/number.js';
import { assertLossConfirmed, lossReport, planTypeTarget } from '../fields.js';
import { flag } from '../input.js';
import { estimatedRows, type FieldMeta } from '../metadata.js';
import { getOnlineChange } from './state.js';
import { auditStep, type OnlineRun } from './steps.js';
import { syncTriggerName } from './trigger.js';

/** The change's extra column: the new column (a shadow), or, in place, where the values that do not survive are kept. */
export const shadowName = (fieldId: number) => `_tw_new_f${fieldId}`;

export const changeNames = (id: number) => ({
  shadow: shadowName(id),
  fk: `fk_new_f${id}`,
  uq: `uq_new_f${id}`,
  ix: `ix_new_f${id}`,
  nn: `nn_new_f${id}`,
});

export interface Target {
  to: FieldShape;
  /**
   * Values that do not convert: the loss report's count, or null until the copy is done
   * when the change confirmed the loss and skipped the report (countLostAfterCopy).
   */
  lost: number | null;
  /** the table's rows: the loss report's count, else the estimate until the copy is done */
  rows: number;
  /**
   * How the change is made, decided once with the target and kept with it: a change
   * resumed by another instance goes on the way it began (the two ways share their
   * objects' names). A target without one was planned by a version before there was a
   * choice: the shadow way.
   */
  method?: 'shadow' | 'in_place';
}

/**
 * Whether a type change can be made in place (op_link_in_place): a whole number (bigint,
 * no default: one that names no row would make every insert meanwhile refused) to a link
 * of one row.
 */
export function linksInPlace(field: Pick<FieldMeta, 'type' | 'options' | 'default_value'>, to: { type?: unknown; options?: { multiple?: unknown } | null }): boolean {
  return field.type === 'number' && numberSqlType(field.options ?? {}) === 'bigint' && field.default_value == null && to.type === 'link' && !to.options?.multiple;
}

/** Did the change's request confirm the loss (confirm_loss=1)? */
export function lossConfirmed(run: OnlineRun): boolean {
  return flag(run.change.payload.confirm_loss, 'confirm_loss') ?? false;
}

/** A change that confirmed the loss, of a field that may be empty, made by a shadow column, skips the loss report (below). */
export function skipsLossReport(run: OnlineRun, method: Target['method'] = 'shadow'): boolean {
  return lossConfirmed(run) && !run.field.not_null && method === 'shadow';
}

/**
 * The target shape, worked out once and kept on the change's row (a resumed change converts
 * to the same options), with the loss report's counts. A change that confirmed the loss, of
 * a field that may be empty, by a shadow column, skips the report: what it could say would
 * change nothing the job does (confirmed; no required field to refuse), and its scan
 * converts every value of the table once more, twice when some are lost (examples), before
 * the copy converts them all again (2,000,000 rows text -> number, 0.1% lost: 2.0 s of a
 * 12.7 s change). What was lost is counted after the copy instead (countLostAfterCopy), on
 * what the copy wrote, converting nothing.
 */
export async function changeTarget(run: OnlineRun): Promise<Target> {
  const change = await getOnlineChange(run.deps.pool, run.change.id);
  const kept = change.payload?.target as Target | undefined;
  if (kept) return kept;
  const t = await withTransaction(run.deps.pool, async (tx): Promise<Target> => {
    await withoutStatementTimeout(tx);
    await tx.query(`SELECT set_config('timezone', 'UTC', true)`);
    const target = await planTypeTarget(tx, run.deps, run.table, run.field, run.change.payload);
    const method = linksInPlace(run.field, target.to) ? 'in_place' : 'shadow';
    if (skipsLossReport(run, method)) return { to: target.to, lost: null, rows: change.total != null ? Number(change.total) : await estimatedRows(tx, run.table.id), method };
    const report = await lossReport(tx, run.deps, run.table, run.field, target);
    assertLossConfirmed(run.field, report, lossConfirmed(run));
    return { to: target.to, lost: report.lost, rows: report.rows, method };
  });
  await storeTarget(run, t);
  return t;
}

async function storeTarget(run: OnlineRun, t: Target): Promise<void> {
  await run.deps.pool.query(`UPDATE tablewright.online_changes SET payload = payload || jsonb_build_object('target', $2::jsonb), total = $3 WHERE id = $1`, [run.change.id, JSON.stringify(t), t.rows]);
}

/**
 * Right before the swap, a change that skipped the loss report (changeTarget) counts what
 * was lost: the rows whose new column is empty though their value is not (lostAfterCopySql),
 * and the table's rows. The count is exact for what was written until it ran (the copy, and
 * every write during it: with confirm_loss the sync trigger takes a value that would not
 * convert, empty in the new column). Between the count and the swap's lock (a scan's time,
 * and the swap's waits for its lock) a write may still empty a value (one that would not
 * convert, or a linked row deleted: ON DELETE SET NULL), uncounted, or an edit or a delete
 * take one from the set, counted; the old column keeps every value either way.
 */
export async function countLostAfterCopy(run: OnlineRun, t: Target, shadow: string): Promise<Target> {
  if (t.lost !== null) return t;
  await run.progress({ phase: 'counting the values that did not convert' });
  const from: FieldShape = { type: run.field.type, options: run.field.options };
  const counted = await withTransaction(run.deps.pool, async (tx) => {
    await withoutStatementTimeout(tx);
    const { rows } = await tx.query<{ rows: string; lost: string }>(
      `SELECT count(*)::text AS rows, count(*) FILTER (WHERE ${lostAfterCopySql(from, `t.${shadow}`, `t.${run.col}`)})::text AS lost FROM ${run.relation} AS t`,
    );
    return { ...t, lost: Number(rows[0]!.lost), rows: Number(rows[0]!.rows) };
  });
  await storeTarget(run, counted);
  return counted;
}

export async function columnExists(run: OnlineRun, name: string): Promise<boolean> {
  const { rows } = await run.deps.pool.query(`SELECT 1 FROM pg_attribute WHERE attrelid = $1 AND attname = $2 AND NOT attisdropped`, [run.table.table_oid, name]);
  return rows.length > 0;
}

/**
 * A change resumed (after a crash, by another instance) keeps the sync function it was
 * started with, which may be another version's: one made before writes that would not
 * convert were refused let them through, each emptied in the new column without a word.
 * The function is made again as this version makes it when its body differs (CREATE OR
 * REPLACE FUNCTION: no lock on the table; each session compiles the new body at its next
 * call). Not while the swap or a rollback has dropped it.
 */
export async function refreshSyncFunction(run: OnlineRun, fn: { body: string; ddl: string }): Promise<void> {
  const { rows } = await run.deps.pool.query<{ body: string }>(
    `SELECT p.prosrc AS body FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace WHERE s.nspname = $1 AND p.proname = $2 AND p.pronargs = 0`,
    [run.deps.config.dataSchema, syncTriggerName(run.field.id)],
  );
  if (!rows[0] || rows[0].body === fn.body) return;
  await run.deps.pool.query(fn.ddl);
  await auditStep(run, 'refresh_sync_function', fn.ddl);
  run.deps.log.info({ onlineChange: run.change.id }, 'online change resumed with an older sync function: made again as this version makes it');
}
