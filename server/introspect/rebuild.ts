// Rebuilding a table to free the column slots of dropped columns: PostgreSQL never reuses
// them, and a table has at most 1600, dropped ones included. The rebuild copies the live
// columns (in order, with types, defaults, NOT NULL and identity) into a new table, copies
// every row, moves the constraints, indexes, comments and incoming foreign keys over, drops
// the old table and gives the new one its name. One transaction: the old table is locked
// (ACCESS EXCLUSIVE, within lock_timeout) from the start, so no write is lost; a failure
// anywhere leaves everything as it was.
//
// The DDL reuses PostgreSQL's own deparsed text (format_type, pg_get_expr,
// pg_get_constraintdef, pg_get_indexdef), as pg_dump does. Everything else the table is
// (owner, grants, storage parameters, collations, row-level security and policies,
// triggers, rules...) is carried over by rebuild_carry.ts, or the rebuild is refused with
// a 409 naming what it cannot carry (a view on the table, a publication...).
import { ident, identFromCatalog, literal, qualified } from '../db/ident.js';
import { conflict } from '../errors.js';
import { schemaChange, type Actor, type Change } from '../schema/change.js';
import { liveTableForChange } from '../schema/metadata.js';
import type { ReconcileDeps } from './reconcile.js';
import { applyColumnSettings, applyTableProps, collateClause, createTableParts, identityOptions, notNullClause, readTableProps, rebuildBlockers } from './rebuild_carry.js';
import { readCatalog, type CatalogTable } from './snapshot.js';

/** Rows copied per statement when the table has an id primary key (progress between them). */
export const REBUILD_BATCH_ROWS = 50_000;

export async function rebuildTable(deps: ReconcileDeps, actor: Actor, tableId: number, opts: { batchRows?: number } = {}) {
  return schemaChange(deps, actor, 'rebuild_table', tableId, async (c) => {
    const table = await liveTableForChange(c, tableId);
    const schema = c.deps.config.dataSchema;
    const old = qualified(schema, table.table_name);
    await c.tx.query(`LOCK TABLE ${old} IN ACCESS EXCLUSIVE MODE`);
    const [rel] = await readCatalog(c.tx, [schema], [Number(table.table_oid)]);
    if (!rel || rel.name !== table.table_name) throw conflict('drift_changed', `resolve the other drift of table "${table.name}" first (it was renamed or is missing)`);
    const { rows: fields } = await c.tx.query<{ name: string; physical: string }>(
      `SELECT name, CASE WHEN trashed_at IS NULL THEN column_name ELSE coalesce(trash_name, column_name) END AS physical FROM tablewright.fields WHERE table_id = $1`,
      [tableId],
    );
    const missing = fields.filter((f) => !rel.columns.some((col) => col.name === f.physical));
    if (missing.length) throw conflict('drift_changed', `resolve the other drift of table "${table.name}" first (field "${missing[0]!.name}" has no column)`);
    const blockers = await rebuildBlockers(c.tx, rel.oid);
    if (blockers.length) {
      throw conflict('rebuild_blocked', `table "${table.name}" has ${blockers.join(', ')}; a rebuild cannot carry ${blockers.length === 1 ? 'it' : 'them'} over`, undefined, { cannot_carry: blockers });
    }
    const props = await readTableProps(c.tx, rel.oid);
    const { rows: cons } = await c.tx.query<{ name: string; def: string }>(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1 AND contype IN ('p', 'u', 'f', 'c', 'x') ORDER BY contype = 'f', conname`,
      [rel.oid],
    );
    const { rows: idxs } = await c.tx.query<{ def: string }>(
      `SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i WHERE i.indrelid = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.conrelid = $1)`,
      [rel.oid],
    );
    const { rows: incoming } = await c.tx.query<{ name: string; schema: string; table: string; def: string; table_id: number | null }>(
      /* sql */ `SELECT x.conname AS name, n.nspname AS schema, t.relname AS table, pg_get_constraintdef(x.oid) AS def,
          (SELECT m.id FROM tablewright.tables m WHERE m.table_oid = t.oid) AS table_id
        FROM pg_constraint x JOIN pg_class t ON t.oid = x.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       WHERE x.contype = 'f' AND x.confrelid = $1 AND x.conrelid <> $1`,
      [rel.oid],
    );
    for (const i of incoming) if (i.table_id) await c.lockTable(i.table_id);
    const idCol = rel.columns.find((col) => col.name === 'id');
    // The id's identity sequence goes with the old table and is made anew; a sequence a
    // column merely owns (serial) is kept, let go of for the moment the old table is dropped.
    const { rows: seq } = idCol?.identity
      ? await c.tx.query<{ schema: string; name: string }>(
          /* sql */ `SELECT n.nspname AS schema, s.relname AS name FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
            WHERE s.oid = pg_get_serial_sequence($1, 'id')::regclass`,
          [old.toString()],
        )
      : { rows: [] as Array<{ schema: string; name: string }> };
    const { rows: owned } = await c.tx.query<{ seq: string; column: string }>(
      /* sql */ `SELECT s.oid::regclass::text AS seq, a.attname AS column FROM pg_depend d
         JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
         JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_class'::regclass AND d.refobjid = $1 AND d.deptype = 'a'`,
      [rel.oid],
    );
    c.reached('validate');

    const tmp = `_tw_rebuild_t${tableId}`;
    const tmpSeq = `_tw_rebuild_seq_t${tableId}`;
    const defs = rel.columns.map((col) => {
      let d = `${identFromCatalog(col.name)} ${col.type}${collateClause(props, col.name)}`;
      if (col.identity) d += ` GENERATED ${col.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY${col.name === 'id' ? ` (SEQUENCE NAME ${qualified(schema, tmpSeq)}${identityOptions(props)})` : ''}`;
      else if (col.generated) d += ` GENERATED ALWAYS AS (${col.default_expr}) STORED`;
      else if (col.default_expr !== null) d += ` DEFAULT ${col.default_expr}`;
      if (col.not_null) d += notNullClause(props, col.name);
      return d;
    });
    const parts = createTableParts(props);
    await c.ddl(`CREATE ${parts.unlogged}TABLE ${qualified(schema, tmp)} (${defs.join(', ')})${parts.tail}`);
    await applyColumnSettings(c, qualified(schema, tmp), props);
    // Every row, whatever row-level security says: the old table is the daemon's to drop,
    // so FORCE goes (for an owner that is not a superuser), and row_security = off makes
    // any policy that would still apply an error rather than a silently shorter copy.
    if (props.forceRowSecurity) await c.ddl(`ALTER TABLE ${old} NO FORCE ROW LEVEL SECURITY`);
    await c.tx.query(`SELECT set_config('row_security', 'off', true)`);
    const copied = rel.columns.filter((col) => !col.generated).map((col) => identFromCatalog(col.name).toString()).join(', ');
    const copy = `INSERT INTO ${qualified(schema, tmp)} (${copied}) OVERRIDING SYSTEM VALUE SELECT ${copied} FROM ${old}`;
    const rows = await copyRows(c, copy, rel, opts.batchRows ?? REBUILD_BATCH_ROWS);
    if (seq[0]) {
      const { rows: last } = await c.tx.query<{ last_value: string; is_called: boolean }>(`SELECT last_value::text, is_called FROM ${qualified(seq[0].schema, seq[0].name)}`);
      await c.tx.query(`SELECT setval($1, $2::bigint, $3)`, [qualified(schema, tmpSeq).toString(), last[0]!.last_value, last[0]!.is_called]);
    }
    for (const i of incoming) await c.ddl(`ALTER TABLE ${qualified(i.schema, i.table)} DROP CONSTRAINT ${identFromCatalog(i.name)}`);
    for (const o of owned) await c.ddl(`ALTER SEQUENCE ${o.seq} OWNED BY NONE`);
    await c.ddl(`DROP TABLE ${old}`);
    await c.ddl(`ALTER TABLE ${qualified(schema, tmp)} RENAME TO ${ident(table.table_name)}`);
    if (seq[0]) await c.ddl(`ALTER SEQUENCE ${qualified(schema, tmpSeq)} RENAME TO ${identFromCatalog(seq[0].name)}`);
    for (const con of cons) await c.ddl(`ALTER TABLE ${old} ADD CONSTRAINT ${identFromCatalog(con.name)} ${con.def}`);
    for (const idx of idxs) await c.ddl(idx.def);
    for (const i of incoming) await c.ddl(`ALTER TABLE ${qualified(i.schema, i.table)} ADD CONSTRAINT ${identFromCatalog(i.name)} ${i.def}`);
    if (rel.comment !== null) await c.ddl(`COMMENT ON TABLE ${old} IS ${literal(rel.comment)}`);
    for (const col of rel.columns) if (col.comment !== null) await c.ddl(`COMMENT ON COLUMN ${old}.${identFromCatalog(col.name)} IS ${literal(col.comment)}`);
    const { rows: oidRows } = await c.tx.query<{ oid: number }>(`SELECT $1::regclass::oid::int8 AS oid`, [old.toString()]);
    const oid = oidRows[0]!.oid;
    await applyTableProps(c, schema, table.table_name, oid, props);
    for (const o of owned) await c.ddl(`ALTER SEQUENCE ${o.seq} OWNED BY ${old}.${identFromCatalog(o.column)}`);
    c.reached('ddl');
    await c.tx.query(`UPDATE tablewright.tables SET table_oid = $2 WHERE id = $1`, [tableId, oid]);
    await c.tx.query(
      /* sql */ `UPDATE tablewright.fields f SET attnum = a.attnum FROM pg_attribute a
        WHERE f.table_id = $1 AND a.attrelid = $2 AND NOT a.attisdropped AND a.attnum > 0
          AND a.attname = CASE WHEN f.trashed_at IS NULL THEN f.column_name ELSE coalesce(f.trash_name, f.column_name) END`,
      [tableId, oid],
    );
    c.reached('metadata');
    const freed = rel.slots - rel.columns.length;
    return { result: { slots_before: rel.slots, slots_after: rel.columns.length, freed, rows }, tableId, details: { slots_before: rel.slots, freed, rows } };
  });
}

/**
 * Copies the rows into the new table: in batches by id when id is the primary key, so
 * that a job can show rows done of the (estimated) total between them; in one statement
 * otherwise. The audit records the copy once.
 */
async function copyRows(c: Change, copy: string, rel: CatalogTable, batchRows: number): Promise<number> {
  const total = rel.est_rows > 0 ? Math.round(rel.est_rows) : undefined;
  await c.deps.progress?.({ phase: 'copying rows', done: 0, total });
  const byId = rel.pk_columns?.length === 1 && rel.columns.some((col) => col.attnum === rel.pk_columns![0] && col.name === 'id');
  if (!byId) {
    const { rowCount } = await c.tx.query(copy);
    c.record(copy);
    return rowCount ?? 0;
  }
  c.record(`${copy} -- by id, ${batchRows} rows at a time`);
  let done = 0;
  let last: string | null = null;
  for (;;) {
    // The id's own type decides how `id > $2` compares (bigint here; any type in a table adopted as is).
    const from: string = last === null ? `${copy} ORDER BY id LIMIT $1` : `${copy} WHERE id > $2 ORDER BY id LIMIT $1`;
    const { rows: batch }: { rows: Array<{ n: number; last: string | null }> } = await c.tx.query(
      `WITH moved AS (${from} RETURNING id) SELECT count(*)::int AS n, (SELECT id FROM moved ORDER BY id DESC LIMIT 1)::text AS last FROM moved`,
      last === null ? [batchRows] : [batchRows, last],
    );
    const { n } = batch[0]!;
    done += n;
    last = batch[0]!.last;
    c.deps.log.info({ table: rel.name, rows: done, total }, 'rebuild: rows copied');
    await c.deps.progress?.({ done, ...(total !== undefined && done > total ? { total: done } : {}) });
    if (n < batchRows) return done;
  }
}
