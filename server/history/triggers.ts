// The history triggers on managed tables (sql/migrations/020_row_history.sql): the schema
// editor calls syncHistoryTriggers() at the end of every schema change, so that a table
// created, adopted, rebuilt, restored or changed always records its rows' history, under
// a layout that knows its current column names.
import type { Queryable } from '../db/pool.js';

export const HISTORY_TRIGGER = 'tablewright_history';
export const TRUNCATE_TRIGGER = 'tablewright_history_truncate';

/** The drift item of a table whose history triggers are missing or disabled. */
export const historyItemId = (tableId: number) => `history_off:t${tableId}`;

/**
 * Puts the triggers on a live managed table when they are missing, disabled or record
 * under a layout that no longer fits; otherwise only lets the layout gain new column
 * names. Returns the DDL that ran (for the audit), or null. A table whose drift item
 * "history off" a DBA chose to ignore is left as it is.
 */
export async function syncHistoryTriggers(tx: Queryable, dataSchema: string, tableId: number, opts: { evenIfIgnored?: boolean } = {}): Promise<string | null> {
  const { rows } = await tx.query<{ ddl: string | null }>(
    /* sql */ `SELECT tablewright.sync_history_triggers(t.id, c.oid::regclass) AS ddl
       FROM tablewright.tables t
       JOIN pg_namespace n ON n.nspname = $2
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name AND c.relkind IN ('r', 'p')
      WHERE t.id = $1 AND t.trashed_at IS NULL
        AND ($4 OR NOT EXISTS (SELECT 1 FROM tablewright.drift_ignored i WHERE i.item_id = $3))`,
    [tableId, dataSchema, historyItemId(tableId), opts.evenIfIgnored ?? false],
  );
  return rows[0]?.ddl ?? null;
}

/**
 * The statement of syncTableTriggers: $1 the table id, $2 DATA_SCHEMA, $3 its history drift
 * item's id. The schema editor runs it inside its closing statement (server/schema/change.ts).
 */
export const SYNC_TRIGGERS_SQL = /* sql */ `SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM tablewright.drift_ignored i WHERE i.item_id = $3)
                   THEN tablewright.sync_history_triggers(t.id, c.oid::regclass) END AS history,
              CASE WHEN NOT t.read_only THEN tablewright.sync_system_triggers(t.id, c.oid::regclass) END AS system
       FROM tablewright.tables t
       JOIN pg_namespace n ON n.nspname = $2
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name AND c.relkind IN ('r', 'p')
      WHERE t.id = $1 AND t.trashed_at IS NULL`;

/**
 * syncHistoryTriggers and the system fields' sync_system_triggers for one table, in one
 * statement (the end of every schema change): each the DDL that ran, or null.
 */
export async function syncTableTriggers(tx: Queryable, dataSchema: string, tableId: number): Promise<{ history: string | null; system: string | null }> {
  const { rows } = await tx.query<{ history: string | null; system: string | null }>(SYNC_TRIGGERS_SQL, [tableId, dataSchema, historyItemId(tableId)]);
  return rows[0] ?? { history: null, system: null };
}
