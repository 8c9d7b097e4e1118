// The sync trigger every shadow-column operation shares: while an online change is in
// flight, each insert and update also writes the converted value of the field's column
// into the shadow, so the backfill and the writes of the moment never disagree. BEFORE,
// so the row is written once. The function lives in the data schema, next to its table,
// named after the field; both go in the swap (or the rollback).
//
// Two triggers on the one function: every INSERT, and an UPDATE only WHEN it left the
// shadow as it was. An UPDATE that set the shadow is the backfill's (which converted
// already): the WHEN clause, evaluated by the executor, skips it without calling plpgsql.
// (One trigger that returned early for those rows still called the function for each of
// the 2,000,000 rows a backfill updates; issue 13.) An UPDATE that sets the shadow to the
// value it had goes through the function and converts again: the same value.
import { ident, identFromCatalog, literal, qualified } from '../../db/ident.js';
import type { Queryable } from '../../db/pool.js';
import { WOULD_NOT_CONVERT } from '../../db/pg_errors.js';
import { conflict } from '../../errors.js';

export const syncTriggerName = (fieldId: number) => `tw_sync_f${fieldId}`;
/** The UPDATE trigger's name (the INSERT one has syncTriggerName). */
export const syncUpdateTriggerName = (fieldId: number) => `tw_sync_f${fieldId}_upd`;

/**
 * The body as a dollar-quoted string whose tag occurs nowhere in it. The body holds
 * literals an admin wrote (a select option's label, quoted by literal()): a label
 * containing the tag would end the string early and the rest would run as SQL.
 */
export function dollarQuoted(body: string): string {
  let tag = '$tw$';
  for (let n = 1; body.includes(tag); n++) tag = `$tw${n}$`;
  return `${tag}${body}${tag}`;
}

/**
 * A write whose value would not convert, refused while a change that did not confirm a
 * loss is in flight: `lostFromNew` is the loss predicate on NEW's column, `column` the
 * field's column (validated), `message` what the writer is told.
 */
export interface Refusal {
  lostFromNew: string;
  /** the field's column, quoted (ident) */
  col: string;
  /** the same, as the error's COLUMN */
  column: string;
  message: string;
}

/**
 * The sync function: its body (as pg_proc.prosrc holds it) and the statement that makes it.
 * CREATE OR REPLACE FUNCTION takes no lock on the table: a change resumed by another
 * version of the daemon replaces an older body with its own (op_change_type).
 */
export function syncFunction(schema: string, fieldId: number, shadow: string, convertedFromNew: string, refuse?: Refusal): { body: string; ddl: string } {
  const fn = qualified(schema, syncTriggerName(fieldId));
  // Without confirm_loss the loss report found nothing to lose (or the change was refused);
  // a value written since that would not convert is refused as it would be after the swap,
  // rather than left empty in the new column without a word. Only a write of the field's
  // own value: an update of other fields (or ON DELETE SET NULL from a table this one
  // links to) leaves a value as it was, which the copy and the check after it deal with.
  // Not the copy's own updates
  // (reason schema; one that converts to empty calls the function, its shadow unchanged):
  // a value it cannot convert is found after it and refuses the change (op_change_type).
  // Such an edit may move the row to a page the copy has passed: its id is noted
  // (tablewright.online_lost_rows, 074), and the swap looks it up.
  const refusal = refuse
    ? `
  IF NEW.${shadow} IS NULL AND current_setting('tablewright.reason', true) IS DISTINCT FROM 'schema' AND (${refuse.lostFromNew}) THEN
    IF TG_OP = 'INSERT' OR NEW.${refuse.col} IS DISTINCT FROM OLD.${refuse.col} THEN
      RAISE EXCEPTION USING ERRCODE = ${literal(WOULD_NOT_CONVERT)}, MESSAGE = ${literal(refuse.message)}, COLUMN = ${literal(refuse.column)};
    END IF;
    PERFORM tablewright.note_lost_row(${fieldId}, NEW.id::text);
  END IF;`
    : '';
  const body = ` BEGIN
  NEW.${shadow} := ${convertedFromNew};${refusal} RETURN NEW; END `;
  return { body, ddl: `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS ${dollarQuoted(body)}` };
}

/**
 * The sync function of a change made in place (op_link_in_place): the column keeps its
 * type, and `kept` (the change's extra column) holds the values that do not survive.
 * - A write of the field's own value that would not convert is refused, confirm_loss or
 *   not: the new foreign key (NOT VALID, already there) would refuse it anyway, and so it
 *   is told what to write instead of a foreign key's error.
 * - A write of the field's own value is the field's value from now on: what was moved
 *   aside for the row goes (a rollback would otherwise put it back over the write), but
 *   for a value the new foreign key's ON DELETE SET NULL empties (its row in the other
 *   table went), moved aside as the sweep moves the values that do not convert: a
 *   rollback puts it back, and after the change it is in the trashed copy.
 * - With confirm_loss, an edit of other fields of a row whose value would not convert
 *   moves that value aside, as the sweep would: the edit may move the row to a page the
 *   sweep has passed.
 * Not the sweep's own updates: they set `kept` (the UPDATE trigger's WHEN skips them).
 */
export function inPlaceFunction(
  schema: string,
  fieldId: number,
  kept: string,
  lost: { fromNew: string; fromOld: string },
  refuse: Omit<Refusal, 'lostFromNew'>,
  confirmed: boolean,
): { body: string; ddl: string } {
  const fn = qualified(schema, syncTriggerName(fieldId));
  const c = refuse.col;
  const moveAside = confirmed
    ? `
  ELSIF NEW.${c} IS NOT NULL AND (${lost.fromNew}) THEN
    NEW.${kept} := NEW.${c};
    NEW.${c} := NULL;`
    : '';
  const body = ` BEGIN
  IF TG_OP = 'INSERT' OR NEW.${c} IS DISTINCT FROM OLD.${c} THEN
    IF NEW.${c} IS NOT NULL AND current_setting('tablewright.reason', true) IS DISTINCT FROM 'schema' AND (${lost.fromNew}) THEN
      RAISE EXCEPTION USING ERRCODE = ${literal(WOULD_NOT_CONVERT)}, MESSAGE = ${literal(refuse.message)}, COLUMN = ${literal(refuse.column)};
    END IF;
    IF TG_OP = 'UPDATE' THEN
      NEW.${kept} := CASE WHEN NEW.${c} IS NULL AND (${lost.fromOld}) THEN OLD.${c} END;
    END IF;${moveAside}
  END IF;
  RETURN NEW; END `;
  return { body, ddl: `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS ${dollarQuoted(body)}` };
}

/** The triggers of a change in place: the shadow's two (syncTriggerDdl), on inPlaceFunction. */
export function inPlaceTriggerDdl(schema: string, relation: string, fieldId: number, kept: string, fn: { ddl: string }): string[] {
  const name = qualified(schema, syncTriggerName(fieldId));
  return [
    fn.ddl,
    `DROP TRIGGER IF EXISTS ${ident(syncTriggerName(fieldId))} ON ${relation}`,
    `DROP TRIGGER IF EXISTS ${ident(syncUpdateTriggerName(fieldId))} ON ${relation}`,
    `CREATE TRIGGER ${ident(syncTriggerName(fieldId))} BEFORE INSERT ON ${relation} FOR EACH ROW EXECUTE FUNCTION ${name}()`,
    `CREATE TRIGGER ${ident(syncUpdateTriggerName(fieldId))} BEFORE UPDATE ON ${relation} FOR EACH ROW WHEN (NEW.${kept} IS NOT DISTINCT FROM OLD.${kept}) EXECUTE FUNCTION ${name}()`,
  ];
}

export function syncTriggerDdl(schema: string, relation: string, fieldId: number, shadow: string, convertedFromNew: string, refuse?: Refusal): string[] {
  const fn = qualified(schema, syncTriggerName(fieldId));
  return [
    syncFunction(schema, fieldId, shadow, convertedFromNew, refuse).ddl,
    `DROP TRIGGER IF EXISTS ${ident(syncTriggerName(fieldId))} ON ${relation}`,
    `DROP TRIGGER IF EXISTS ${ident(syncUpdateTriggerName(fieldId))} ON ${relation}`,
    `CREATE TRIGGER ${ident(syncTriggerName(fieldId))} BEFORE INSERT ON ${relation} FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
    `CREATE TRIGGER ${ident(syncUpdateTriggerName(fieldId))} BEFORE UPDATE ON ${relation} FOR EACH ROW WHEN (NEW.${shadow} IS NOT DISTINCT FROM OLD.${shadow}) EXECUTE FUNCTION ${fn}()`,
  ];
}

/**
 * The sync trigger's objects as the catalog has them now: the triggers on the table named
 * as ours or calling our function (a DBA may have renamed one), and the functions our
 * triggers call (ours, or ours renamed: `ALTER FUNCTION ... RENAME`). Dropped by name only,
 * a renamed trigger kept the function (DROP FUNCTION failed: dependent_objects) and every
 * rollback of the change failed, the table refusing every change for good; a renamed
 * function stayed behind.
 */
export interface SyncObjects {
  triggers: string[];
  functions: Array<{ schema: string; name: string }>;
}

export async function syncObjects(db: Queryable, schema: string, tableOid: number, fieldId: number): Promise<SyncObjects> {
  const names = [syncTriggerName(fieldId), syncUpdateTriggerName(fieldId)];
  // Ours: named so; or calling a function named so; or calling a function whose body writes
  // the shadow column (ours, renamed); or depending on the shadow column (the UPDATE
  // trigger's WHEN names it): both triggers and the function renamed left a rollback
  // failing on them for good.
  const shadow = `NEW.${ident(`_tw_new_f${fieldId}`)} :=`;
  const { rows } = await db.query<{ tgname: string; own_fn: boolean; fschema: string; fname: string }>(
    /* sql */ `SELECT t.tgname, (t.tgname = ANY ($2) OR (n.nspname = $3 AND p.proname = $4) OR strpos(p.prosrc, $5) > 0) AS own_fn, n.nspname AS fschema, p.proname AS fname
       FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE t.tgrelid = $1 AND NOT t.tgisinternal AND p.pronargs = 0
        AND (t.tgname = ANY ($2) OR (n.nspname = $3 AND p.proname = $4) OR strpos(p.prosrc, $5) > 0
             OR EXISTS (SELECT 1 FROM pg_depend d JOIN pg_attribute a ON a.attrelid = $1 AND a.attnum = d.refobjsubid
                         WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.refobjid = $1 AND a.attname = $6))`,
    [tableOid, names, schema, syncTriggerName(fieldId), shadow, `_tw_new_f${fieldId}`],
  );
  const functions = new Map<string, { schema: string; name: string }>();
  for (const r of rows) if (r.own_fn) functions.set(`${r.fschema}.${r.fname}`, { schema: r.fschema, name: r.fname });
  return { triggers: rows.map((r) => r.tgname), functions: [...functions.values()] };
}

/**
 * Drops the sync trigger (both, under whatever names `found` has) and its function, with
 * CASCADE: a trigger elsewhere that a DBA pointed at our function goes with it (it would
 * fail on its first write anyway, the function writing a column its table does not have).
 */
export function dropSyncTrigger(schema: string, relation: string, fieldId: number, found: SyncObjects = { triggers: [], functions: [] }): string[] {
  const triggers = new Set([syncTriggerName(fieldId), syncUpdateTriggerName(fieldId), ...found.triggers]);
  const functions = [String(qualified(schema, syncTriggerName(fieldId))), ...found.functions.map((f) => `${identFromCatalog(f.schema)}.${identFromCatalog(f.name)}`)];
  return [...[...triggers].map((t) => `DROP TRIGGER IF EXISTS ${identFromCatalog(t)} ON ${relation}`), ...[...new Set(functions)].map((f) => `DROP FUNCTION IF EXISTS ${f}() CASCADE`)];
}


/**
 * The sync triggers worked all along, as far as the catalog says (the swap's first check):
 * a DBA who disabled one (or enabled it for replicas only) let writes go by without them. (Enabling or disabling one takes a
 * lock the swap's first one conflicts with: none meanwhile.) Writes made with
 * session_replication_role = replica skip triggers too; no catalog shows them.
 */
export async function assertSyncTriggersEnabled(db: Queryable, run: { table: { table_oid: number | null }; field: { id: number; name: string } }): Promise<void> {
  // 'O' fires in ordinary sessions, 'A' always; 'R' (ENABLE REPLICA) only with session_replication_role = replica, 'D' never
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = $1 AND tgname = ANY ($2) AND tgenabled IN ('O', 'A')`, [
    run.table.table_oid,
    [syncTriggerName(run.field.id), syncUpdateTriggerName(run.field.id)],
  ]);
  if (rows[0]!.n !== 2) {
    throw conflict('sync_trigger_disabled', `the trigger that keeps "${run.field.name}" in step during its change (${syncTriggerName(run.field.id)}) is disabled or gone: writes since may have gone by it; the change is rolled back, start it again`, 'type');
  }
}
