// What keeps a field from changing type online. The online path copies the column into a
// new one by updating every row, then renames the new column into place: whatever a DBA
// hung on the old column by hand (it follows the column's number, not its name) would stay
// on the trashed copy, and whatever fires on row writes would fire for every row copied.
// The one-transaction path (ALTER COLUMN ... TYPE) rewrites the column in place, keeps the
// DBA's objects on it (or refuses with 409 when PostgreSQL cannot), and fires no trigger.
// Found by two hostile reviews; each of these emptied a field, broke a table or stamped
// every row before:
//   - a partitioned table (the copy read the parent's pages: none; every value lost), or
//     one in an inheritance tree;
//   - a trigger of the table's own on UPDATE (fired for every row copied), or BEFORE ROW on
//     INSERT (it may change a value after the sync trigger converted it); ours are told by
//     their function (Tablewright's schema, or the change's sync function), not their name;
//   - a rule on the table (one on UPDATE made the copy fail; DO ALSO would run per row);
//   - the DBA's constraints (a CHECK on the copy refused every insert after the swap),
//     indexes (a UNIQUE over it and another field no longer held), generated columns and
//     a DBA default on the column (the new column has none), and every object of another
//     table's that uses it (views, foreign keys, policies: catalog.ts dependentObjects).
// With online=1 the request is refused with 409 online_not_possible naming them; without
// it, the change takes the one-transaction path. A queued job checks at its start, and the
// swap for what came meanwhile.
import { qualified } from '../../db/ident.js';
import type { Queryable } from '../../db/pool.js';
import { conflict, type AppError } from '../../errors.js';
import { dependentObjects } from '../catalog.js';
import type { FieldMeta } from '../metadata.js';
import { syncTriggerName } from './trigger.js';

export async function onlineTypeChangeObstacles(db: Queryable, dataSchema: string, table: { table_oid: number | null; table_name: string }, field: FieldMeta): Promise<string[]> {
  const relation = String(qualified(dataSchema, table.table_name));
  const ours = `^(uq|fk|ix|nn)(_new)?_f${field.id}$`;
  const { rows } = await db.query<{ what: string }>(
    /* sql */ `WITH t AS (SELECT c.oid, c.relkind, a.attnum FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $2 AND NOT a.attisdropped WHERE c.oid = $1)
     SELECT 'a partitioned table' AS what FROM t WHERE t.relkind = 'p'
     UNION ALL SELECT 'an inheritance tree (' || i.inhrelid::regclass::text || ' inherits ' || i.inhparent::regclass::text || ')' FROM t JOIN pg_inherits i ON t.oid IN (i.inhrelid, i.inhparent)
     UNION ALL SELECT 'trigger ' || g.tgname FROM t JOIN pg_trigger g ON g.tgrelid = t.oid JOIN pg_proc p ON p.oid = g.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE NOT g.tgisinternal AND g.tgenabled IN ('O', 'A') AND ((g.tgtype & 16) <> 0 OR (g.tgtype & 7) = 7)  -- UPDATE; BEFORE ROW INSERT
         AND n.nspname <> 'tablewright' AND NOT (n.nspname = $4 AND p.proname ~ '^tw_sync_f[0-9]+$')
         AND g.tgname !~ $6  -- this change's own sync triggers, whatever their function is called now
     UNION ALL SELECT 'rule ' || r.rulename FROM t JOIN pg_rewrite r ON r.ev_class = t.oid WHERE r.rulename <> '_RETURN'
     UNION ALL SELECT 'constraint ' || k.conname FROM t JOIN pg_constraint k ON k.conrelid = t.oid
       WHERE t.attnum = ANY (k.conkey) AND k.contype <> 'n' AND k.conname !~ $3
     UNION ALL SELECT 'index ' || ic.relname FROM t JOIN pg_index x ON x.indrelid = t.oid JOIN pg_class ic ON ic.oid = x.indexrelid
       WHERE (t.attnum = ANY (x.indkey) OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = x.indexrelid AND d.refobjid = t.oid AND d.refobjsubid = t.attnum))
         AND ic.relname !~ $3 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.conrelid = t.oid AND k.conname ~ $3)
     UNION ALL SELECT 'generated column ' || ga.attname FROM t JOIN pg_attrdef ad ON ad.adrelid = t.oid JOIN pg_attribute ga ON ga.attrelid = t.oid AND ga.attnum = ad.adnum AND ga.attgenerated <> ''
       JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refobjid = t.oid AND d.refobjsubid = t.attnum
     UNION ALL SELECT 'a default set outside the console (' || pg_get_expr(ad.adbin, ad.adrelid) || ')' FROM t JOIN pg_attrdef ad ON ad.adrelid = t.oid AND ad.adnum = t.attnum
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = t.attnum AND a.attgenerated = ''
       WHERE $5::boolean`,
    [table.table_oid, field.column_name, ours, dataSchema, dbaDefault(field), `^tw_sync_f${field.id}(_upd)?$`],
  );
  const dependents = await dependentObjects(db, relation, field.column_name);
  return [...rows.map((r) => r.what), ...dependents.filter((d) => !d.startsWith(`trigger ${syncTriggerName(field.id)}`))];
}

/** A default on the column that is not the field's own nor a system field's: one a DBA set. */
function dbaDefault(field: FieldMeta): boolean {
  return field.default_value === null && !['created_at', 'updated_at', 'created_by', 'updated_by', 'autonumber'].includes(field.type);
}

export function onlineObstaclesConflict(field: { name: string }, obstacles: string[]): AppError {
  return conflict(
    'online_not_possible',
    `"${field.name}" cannot change type online: ${obstacles.slice(0, 6).join('; ')} (made outside the console, each would be left on the old column or fire for every row copied); change it with online=0 (one transaction: ALTER COLUMN TYPE keeps them and fires no trigger, the table locked while it rewrites)`,
    'type',
    { obstacles },
  );
}
