// The sync trigger every shadow-column operation shares: while an online change is in
// flight, each insert and update also writes the converted value of the field's column
// into the shadow, so the backfill and the writes of the moment never disagree. BEFORE,
// so the row is written once. The function lives in the data schema, next to its table,
// named after the field; both go in the swap (or the rollback).
import { ident, qualified } from '../../db/ident.js';

export const syncTriggerName = (fieldId: number) => `tw_sync_f${fieldId}`;

export function syncTriggerDdl(schema: string, relation: string, fieldId: number, shadow: string, convertedFromNew: string): string[] {
  const fn = qualified(schema, syncTriggerName(fieldId));
  return [
    // An UPDATE that set the shadow itself is the backfill's (which converted already): the
    // value is not converted twice. Any other write converts the field's value.
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $tw$ BEGIN
  IF TG_OP = 'UPDATE' AND NEW.${shadow} IS DISTINCT FROM OLD.${shadow} THEN RETURN NEW; END IF;
  NEW.${shadow} := ${convertedFromNew}; RETURN NEW; END $tw$`,
    `DROP TRIGGER IF EXISTS ${ident(syncTriggerName(fieldId))} ON ${relation}`,
    `CREATE TRIGGER ${ident(syncTriggerName(fieldId))} BEFORE INSERT OR UPDATE ON ${relation} FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
  ];
}

export function dropSyncTrigger(schema: string, relation: string, fieldId: number): string[] {
  return [`DROP TRIGGER IF EXISTS ${ident(syncTriggerName(fieldId))} ON ${relation}`, `DROP FUNCTION IF EXISTS ${qualified(schema, syncTriggerName(fieldId))}()`];
}
