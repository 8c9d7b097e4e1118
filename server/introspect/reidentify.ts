// The one action after a restore: every table and field is re-identified by the rules of
// identity.ts (comment, then name; never an oid), their new oids and attnums are recorded,
// and so is the new database identity, all in one transaction. It changes no data and no
// DDL, so it is always safe: a table that cannot be identified stays as it was and shows
// up afterwards as missing (with the usual actions, destructive ones included, since the
// report then trusts its oids again).
import { withTransaction } from '../db/tx.js';
import { SCHEMA_CHANNEL, SCHEMA_LOCK_NAMESPACE, TABLE_SET_LOCK, type Actor } from '../schema/change.js';
import { conflict } from '../errors.js';
import { matchColumns, matchTables, readDatabaseIdentity, recordDatabaseIdentity, wasRestored, type IdentityInput } from './identity.js';
import type { ReconcileDeps } from './reconcile.js';
import { readCatalog } from './snapshot.js';

export async function reidentifyDatabase(deps: ReconcileDeps, actor: Actor): Promise<Record<string, unknown>> {
  const schemas = { data: deps.config.dataSchema, trash: deps.config.trashSchema };
  const out = await withTransaction(deps.pool, async (tx) => {
    await tx.query(`SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', '0', true)`, [`${deps.config.lockTimeoutMs}ms`]);
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [SCHEMA_LOCK_NAMESPACE, TABLE_SET_LOCK]);
    const identity = await readDatabaseIdentity(tx);
    if (!wasRestored(identity)) throw conflict('drift_changed', 'the database identity is already recorded; reload the report');
    const { rows: tables } = await tx.query<IdentityInput['tables'][number] & { name: string }>(
      `SELECT id, name, table_name, table_oid::int8 AS table_oid, trashed_at, trash_name FROM tablewright.tables ORDER BY id FOR UPDATE`,
    );
    // Every table's advisory lock: no schema change runs on a table while it is re-identified.
    for (const t of tables) await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [SCHEMA_LOCK_NAMESPACE, t.id]);
    const { rows: fields } = await tx.query<IdentityInput['fields'][number]>(
      `SELECT id, table_id, column_name, attnum, trashed_at, trash_name FROM tablewright.fields ORDER BY table_id, id`,
    );
    const catalog = await readCatalog(tx, [schemas.data, schemas.trash]);
    const matches = matchTables({ schemas, tables, fields, catalog, restored: true });
    const changed: Array<{ id: number; name: string; from: number | null; to: number; fields: number }> = [];
    const unidentified: Array<{ id: number; name: string }> = [];
    for (const t of tables) {
      const m = matches.get(t.id);
      if (!m) {
        // Its numbers name nothing of its own any more: cleared, so that once the database
        // is trusted again they cannot point at another table; it shows as missing.
        unidentified.push({ id: t.id, name: t.name });
        await tx.query(`UPDATE tablewright.tables SET table_oid = NULL WHERE id = $1`, [t.id]);
        await tx.query(`UPDATE tablewright.fields SET attnum = NULL WHERE table_id = $1`, [t.id]);
        continue;
      }
      const own = fields.filter((f) => f.table_id === t.id);
      const cols = matchColumns(m.rel, own, { sameOid: false, restored: true });
      const stale = own.filter((f) => cols.has(f.id) && cols.get(f.id)!.attnum !== f.attnum);
      const lost = own.filter((f) => !cols.has(f.id) && f.attnum !== null).map((f) => f.id);
      if (lost.length) await tx.query(`UPDATE tablewright.fields SET attnum = NULL WHERE id = ANY ($1::int8[])`, [lost]);
      if (m.sameOid && !stale.length) continue;
      await tx.query(`UPDATE tablewright.tables SET table_oid = $2 WHERE id = $1`, [t.id, m.rel.oid]);
      if (stale.length) {
        await tx.query(
          /* sql */ `UPDATE tablewright.fields f SET attnum = s.attnum FROM unnest($1::int8[], $2::int2[]) AS s(id, attnum) WHERE f.id = s.id`,
          [stale.map((f) => f.id), stale.map((f) => cols.get(f.id)!.attnum)],
        );
      }
      changed.push({ id: t.id, name: t.name, from: t.table_oid === null ? null : Number(t.table_oid), to: m.rel.oid, fields: stale.length });
    }
    await recordDatabaseIdentity(tx);
    const details = { from: identity.recorded, to: identity.current, tables: changed, unidentified };
    await tx.query(
      /* sql */ `INSERT INTO tablewright.audit (actor, operation, table_id, ddl, details) VALUES ($1, 'reidentify_database', NULL, '', $2)`,
      [actor.name, details],
    );
    // Every re-identified table's version moves, so cached models are compiled again.
    const { rows: state } = await tx.query<{ version: number }>(`UPDATE tablewright.schema_state SET version = version + 1 RETURNING version`);
    for (const c of changed) {
      const { rows } = await tx.query<{ version: number }>(`UPDATE tablewright.tables SET version = version + 1, updated_at = now() WHERE id = $1 RETURNING version`, [c.id]);
      const payload = { table_id: c.id, version: rows[0]!.version, global_version: state[0]!.version, op: 'reidentify', actor: actor.name, ...(deps.instanceId ? { instance: deps.instanceId } : {}) };
      await tx.query('SELECT pg_notify($1, $2)', [SCHEMA_CHANNEL, JSON.stringify(payload)]);
    }
    return { changed, unidentified, identity: identity.current };
  });
  deps.log.info({ tables: out.changed.length, unidentified: out.unidentified.length, actor: actor.name }, 'database re-identified after a restore');
  return { reidentified: out.changed.length, tables: out.changed, unidentified: out.unidentified, identity: out.identity };
}
