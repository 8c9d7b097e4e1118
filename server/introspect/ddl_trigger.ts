// The opt-in DDL event trigger (DDL_EVENT_TRIGGER=1): on ddl_command_end and sql_drop
// that touch the managed schemas, PostgreSQL sends a NOTIFY on `tablewright_ddl`, so that
// every instance hears of a DBA's ALTER TABLE in psql within milliseconds (the bus's
// onDdl) and refreshes its drift summary and models. Creating an event trigger needs a
// superuser; without one the instance logs a warning and carries on (the periodic checks
// still bound staleness).
//
// The payload: {"event":"ddl_command_end"|"sql_drop","tag":"ALTER TABLE","objects":[
// {"type":"table","schema":"data","identity":"data.orders"}, ...]} (objects becomes a
// count when the list would not fit in a notification). The function never raises: an
// error in an event trigger would block every DDL statement in the database.
import { DDL_CHANNEL } from '../bus/index.js';
import { literal } from '../db/ident.js';
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/tx.js';
import type { Logger } from '../log.js';
import { SCHEMA_LOCK_NAMESPACE } from '../schema/change.js';

export const EVENT_TRIGGERS = ['tablewright_ddl_end', 'tablewright_sql_drop'] as const;
const INSTALL_LOCK = -2;

export type TriggerState = 'installed' | 'present' | 'no_privilege';

function functionSql(schemas: string[]): string {
  const list = `ARRAY[${schemas.map((s) => literal(s)).join(', ')}]::text[]`;
  return /* sql */ `CREATE OR REPLACE FUNCTION tablewright.notify_ddl() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  managed text[] := ${list};
  objs jsonb;
  payload text;
BEGIN
  IF TG_EVENT = 'sql_drop' THEN
    SELECT jsonb_agg(jsonb_build_object('type', object_type, 'schema', schema_name, 'identity', object_identity))
      INTO objs FROM pg_event_trigger_dropped_objects() WHERE schema_name = ANY (managed);
  ELSE
    SELECT jsonb_agg(jsonb_build_object('type', object_type, 'schema', schema_name, 'identity', object_identity))
      INTO objs FROM pg_event_trigger_ddl_commands() WHERE schema_name = ANY (managed);
  END IF;
  IF objs IS NULL THEN RETURN; END IF;
  payload := jsonb_build_object('event', TG_EVENT, 'tag', TG_TAG, 'objects', objs)::text;
  IF octet_length(payload) > 7000 THEN
    payload := jsonb_build_object('event', TG_EVENT, 'tag', TG_TAG, 'objects', jsonb_array_length(objs))::text;
  END IF;
  PERFORM pg_notify(${literal(DDL_CHANNEL)}, payload);
EXCEPTION WHEN others THEN
  RAISE WARNING 'tablewright.notify_ddl: %', SQLERRM;
END $fn$`;
}

/** Installs (or refreshes) the function and the two event triggers. */
export async function installDdlTrigger(pool: Pool, schemas: string[], log: Logger): Promise<TriggerState> {
  const { rows } = await pool.query<{ super: boolean }>(`SELECT rolsuper AS super FROM pg_roles WHERE rolname = current_user`);
  if (!rows[0]?.super) {
    log.warn(
      { setting: 'DDL_EVENT_TRIGGER' },
      'DDL_EVENT_TRIGGER is on, but this role is not a superuser and cannot create event triggers: DDL done outside the console is noticed by the periodic checks only (SCHEMA_POLL_INTERVAL_MS, DRIFT_CHECK_INTERVAL). A superuser can install it by starting one instance with its credentials.',
    );
    return 'no_privilege';
  }
  return withTransaction(pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [SCHEMA_LOCK_NAMESPACE, INSTALL_LOCK]);
    await tx.query(functionSql(schemas));
    const { rows: existing } = await tx.query<{ evtname: string }>(`SELECT evtname FROM pg_event_trigger WHERE evtname = ANY($1::text[])`, [[...EVENT_TRIGGERS]]);
    const have = new Set(existing.map((r) => r.evtname));
    if (!have.has('tablewright_ddl_end')) await tx.query(`CREATE EVENT TRIGGER tablewright_ddl_end ON ddl_command_end EXECUTE FUNCTION tablewright.notify_ddl()`);
    if (!have.has('tablewright_sql_drop')) await tx.query(`CREATE EVENT TRIGGER tablewright_sql_drop ON sql_drop EXECUTE FUNCTION tablewright.notify_ddl()`);
    const state: TriggerState = have.size === EVENT_TRIGGERS.length ? 'present' : 'installed';
    log.info({ schemas, state }, 'DDL event trigger ready: DDL in the managed schemas notifies every instance');
    return state;
  });
}
