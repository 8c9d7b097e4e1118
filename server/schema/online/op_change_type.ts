// Online type (or options) change: a shadow column, pgroll style.
//
//   start     checks the values (the loss report; confirm_loss; a required or unique
//             field refused as the one-transaction path refuses it); with confirm_loss on
//             a field that may be empty, no report: what was lost is counted before the swap
//             (shadow.ts: countLostAfterCopy);
//             brief: ADD COLUMN the shadow (new type), the sync trigger (every insert and
//             update writes the converted value into it too);
//             backfill by id in batches (row locks only; resumable from the last batch);
//             then what the field's constraints need on the shadow, each online: a link's
//             FOREIGN KEY NOT VALID + VALIDATE, its own index / UNIQUE built CONCURRENTLY,
//             NOT NULL as a CHECK NOT VALID + VALIDATE
//   complete  brief, the swap: drop the trigger; the old column becomes the field's
//             trashed copy (type_change), the shadow takes the field's column name, its
//             constraints their names; metadata, version + 1, audit, NOTIFY: one commit
//   rollback  brief: drop the trigger, its function and the shadow column
//
// Values that do not convert are empty in the new column and kept in the old one, which
// stays (trashed) until the retention policy purges it: restoring it undoes the change.
import { ident, literal, qualified } from '../../db/ident.js';
import { unprocessable } from '../../errors.js';
import { stringifyExact } from '../../fields/exact_json.js';
import { convertedOrNullSql, displaySql, lossPredicate, SYSTEM_BASE, type FieldShape } from '../../fields/convert.js';
import { fieldType } from '../../fields/registry.js';
import type { FieldTypeName } from '../../fields/types.js';
import { attnumOf } from '../catalog.js';
import { columnComment } from '../comments.js';
import { convertDefault, hasOwnIndex, indexUsing, normaliseOptions, sqlEnv } from '../fields.js';
import { getField } from '../metadata.js';
import { trashName } from '../names.js';
import { step } from '../plan.js';
import { BACKFILL_MODULUS, BACKFILL_WAVES, backfill } from './backfill.js';
import { advance, finishOnlineChange, getOnlineChange } from './state.js';
import { briefStep, buildIndex, constraintState, indexState, longStep, type OnlineOp, type OnlineRun } from './steps.js';
import { onlineObstaclesConflict, onlineTypeChangeObstacles } from './obstacles.js';
import { linkInPlace } from './op_link_in_place.js';
import { changeNames, changeTarget, columnExists, countLostAfterCopy, linksInPlace, lossConfirmed, refreshSyncFunction, skipsLossReport } from './shadow.js';
import { assertSyncTriggersEnabled, dropSyncTrigger, syncFunction, syncObjects, syncTriggerDdl, syncTriggerName, type Refusal } from './trigger.js';

const names = changeNames;

async function converted(run: OnlineRun, to: FieldShape, col: string): Promise<string> {
  const from: FieldShape = { type: run.field.type, options: run.field.options };
  const env = await sqlEnv(run.deps.pool, run.deps, [from, to]);
  // A value that would not convert (a link to no row too) is empty in the new column.
  return convertedOrNullSql(from, to, col, env);
}

/** What the sync trigger refuses while a change that confirmed no loss is in flight (trigger.ts). */
async function refusal(run: OnlineRun, to: FieldShape, label: string): Promise<Refusal> {
  const from: FieldShape = { type: run.field.type, options: run.field.options };
  const env = await sqlEnv(run.deps.pool, run.deps, [from, to]);
  return {
    lostFromNew: lossPredicate(from, to, `NEW.${run.col}`, env),
    col: run.col,
    column: run.field.column_name,
    message: `${run.field.name}: the field is being changed to ${label}, and this value would not convert; write one that does, or wait until the change is done`,
  };
}

export const changeType: OnlineOp = {
  objects: (field) => {
    const n = names(field.id);
    return { column: n.shadow, trigger: `tw_sync_f${field.id}`, function: `tw_sync_f${field.id}`, constraint: n.fk, index: n.uq };
  },

  plan: (t) => {
    if (linksInPlace(t.field, { type: t.update.type || t.field.type, options: t.update.options as { multiple?: unknown } | undefined })) return linkInPlace.plan(t);
    const n = names(t.field.id);
    const sh = ident(n.shadow);
    const steps = [
      step(`ALTER TABLE ${t.relation} ADD COLUMN ${sh} <new type>`, 'ACCESS EXCLUSIVE', 'brief', t.size),
      step(`CREATE TRIGGER ${ident(`tw_sync_f${t.field.id}`)} BEFORE INSERT ON ${t.relation} ... (${sh} := converted ${t.col}); the same BEFORE UPDATE ... WHEN (NEW.${sh} IS NOT DISTINCT FROM OLD.${sh}); without confirm_loss it refuses a value that would not convert`, 'SHARE ROW EXCLUSIVE', 'brief', t.size),
      step(`UPDATE ${t.relation} SET ${sh} = <converted ${t.col}> WHERE ctid >= ($page, 0) AND ctid < ($page + $span, 0) AND ${sh} IS NULL AND (id & ${BACKFILL_MODULUS - 1}) = ANY ($residues) -- the table by ranges of pages, ${BACKFILL_WAVES.length} waves each`, 'ROW EXCLUSIVE', 'rewrite', t.size, 'backfill'),
    ];
    const to = String(t.update.type || t.field.type);
    if (to === 'link') {
      steps.push(step(`ALTER TABLE ${t.relation} ADD CONSTRAINT ${ident(n.fk)} FOREIGN KEY (${sh}) REFERENCES ... NOT VALID`, 'SHARE ROW EXCLUSIVE', 'brief', t.size));
      steps.push(step(`ALTER TABLE ${t.relation} VALIDATE CONSTRAINT ${ident(n.fk)}`, 'SHARE UPDATE EXCLUSIVE', 'scan', t.size, 'fk'));
    }
    if (t.field.is_unique) steps.push(step(`CREATE UNIQUE INDEX CONCURRENTLY ${ident(n.uq)} ON ${t.relation} (${sh})`, 'SHARE UPDATE EXCLUSIVE', 'scan', t.size, 'unique'));
    if (hasOwnIndex(t.field) || (to === 'link' && !t.field.indexed && !t.field.is_unique)) {
      steps.push(step(`CREATE INDEX CONCURRENTLY ${ident(n.ix)} ON ${t.relation} ${indexUsing(to)}(${sh})`, 'SHARE UPDATE EXCLUSIVE', 'scan', t.size, 'index'));
    }
    if (t.field.not_null) {
      steps.push(step(`ALTER TABLE ${t.relation} ADD CONSTRAINT ${ident(n.nn)} CHECK (${sh} IS NOT NULL) NOT VALID`, 'ACCESS EXCLUSIVE', 'brief', t.size));
      steps.push(step(`ALTER TABLE ${t.relation} VALIDATE CONSTRAINT ${ident(n.nn)}`, 'SHARE UPDATE EXCLUSIVE', 'scan', t.size, 'scan'));
    }
    steps.push(step(`ALTER TABLE ${t.relation} RENAME COLUMN ${t.col} TO <trashed copy>; ALTER TABLE ${t.relation} RENAME COLUMN ${sh} TO ${t.col} -- the swap`, 'ACCESS EXCLUSIVE', 'brief', t.size));
    return steps;
  },

  async start(run) {
    const skipsReport = skipsLossReport(run);
    await run.progress({ phase: skipsReport ? 'working out the change' : 'checking the values' });
    const t = await changeTarget(run);
    if (t.method === 'in_place') return linkInPlace.start(run, t);
    const n = names(run.field.id);
    const sh = ident(n.shadow);
    const newType = fieldType(t.to.type);
    const schema = run.deps.config.dataSchema;
    const expr = await converted(run, t.to, `NEW.${run.col}`);
    const refuse = lossConfirmed(run) ? undefined : await refusal(run, t.to, newType.label);
    if (!(await columnExists(run, n.shadow))) {
      // what a DBA made since the request was accepted (obstacles.ts)
      const obstacles = await onlineTypeChangeObstacles(run.deps.pool, schema, run.table, run.field);
      if (obstacles.length) throw onlineObstaclesConflict(run.field, obstacles);
      // one round trip under the ACCESS EXCLUSIVE lock (the statements sent as one query)
      await briefStep(run, 'add_shadow', (c) =>
        c.ddlBatch([`ALTER TABLE ${run.relation} ADD COLUMN ${sh} ${newType.sqlType(t.to.options)}`, ...syncTriggerDdl(schema, run.relation, run.field.id, String(sh), expr, refuse)]),
      );
    } else {
      await refreshSyncFunction(run, syncFunction(schema, run.field.id, String(sh), expr, refuse));
    }
    const change = await getOnlineChange(run.deps.pool, run.change.id);
    if (change.step === 'planned' || change.step === 'add_shadow' || change.step === 'backfill') {
      // Without confirm_loss nothing may be lost: the report found nothing, and the sync
      // trigger refuses a write that would lose a value. A value written between the two is
      // found by the copy (it answers its ids) and refuses the change as the report would.
      const from: FieldShape = { type: run.field.type, options: run.field.options };
      const env = await sqlEnv(run.deps.pool, run.deps, [from, t.to]);
      const confirmed = lossConfirmed(run);
      // the copy's UPDATE names the table t (a link's lookup must: convertedOrNullSql)
      const conv = await converted(run, t.to, `t.${run.col}`);
      // Does an empty value convert to an empty one (the usual)? Then the copy leaves empty rows alone.
      const { rows: probe } = await run.deps.pool.query<{ empty: boolean }>(`SELECT (${conv}) IS NULL AS empty FROM (SELECT NULL::${fieldType(run.field.type).sqlType(run.field.options)} AS ${run.col}) t`);
      const lost = await backfill(run, String(sh), conv, t.rows, confirmed ? undefined : lossPredicate(from, t.to, `t.${run.col}`, env), {
        emptyStaysEmpty: probe[0]?.empty ? run.col : undefined,
      });
      if (lost.length) {
        const { rows: examples } = await run.deps.pool.query(`SELECT id, left(${displaySql(from, run.col)}, 200) AS value FROM ${run.relation} WHERE id = ANY ($1::bigint[]) ORDER BY id`, [lost]);
        throw unprocessable(
          'lossy_conversion',
          `values of "${run.field.name}" written while the change was starting would not convert to ${fieldType(t.to.type).label}; send confirm_loss=1 to convert anyway (the old values are kept in the trash)`,
          'type',
          { field_id: run.field.id, examples, found_at: 'copy' },
        );
      }
      await advance(run.deps.pool, run.change.id, { step: 'backfilled' });
    }
    if (t.to.type === 'link') {
      const env = await sqlEnv(run.deps.pool, run.deps, [t.to]);
      if ((await constraintState(run, n.fk)) === 'absent') {
        await briefStep(run, 'add_fk', (c) =>
          c.ddl(`ALTER TABLE ${run.relation} ADD CONSTRAINT ${ident(n.fk)} FOREIGN KEY (${sh}) REFERENCES ${env.linkTarget(t.to.options.table_id)} (id) ON DELETE SET NULL NOT VALID`),
        );
      }
      if ((await constraintState(run, n.fk)) === 'not_valid') {
        await run.progress({ phase: 'checking every link points at a row (the table keeps serving)' });
        await longStep(run, 'validate_fk', `ALTER TABLE ${run.relation} VALIDATE CONSTRAINT ${ident(n.fk)}`);
      }
    }
    const indexes: Array<[string, boolean]> = [];
    if (run.field.is_unique) indexes.push([n.uq, true]);
    if (hasOwnIndex(run.field) || (t.to.type === 'link' && !run.field.indexed && !run.field.is_unique)) indexes.push([n.ix, false]);
    for (const [name, unique] of indexes) {
      if ((await indexState(run, name)) === 'valid') continue;
      await run.progress({ phase: `building the ${unique ? 'unique ' : ''}index on the new column (the table keeps serving)` });
      try {
        // a multiple select's own index is GIN (its filters are array containment), as the one-transaction path makes it
        await buildIndex(run, name, `CREATE ${unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${ident(name)} ON ${run.relation} ${unique ? '' : indexUsing(t.to.type)}(${sh})`);
      } catch (err) {
        if ((err as { code?: string }).code !== '23505') throw err;
        throw unprocessable('would_duplicate', `"${run.field.name}" is unique, and converted values would repeat; drop UNIQUE first`, 'type');
      }
    }
    if (run.field.not_null) {
      if ((await constraintState(run, n.nn)) === 'absent') {
        await briefStep(run, 'add_check', (c) => c.ddl(`ALTER TABLE ${run.relation} ADD CONSTRAINT ${ident(n.nn)} CHECK (${sh} IS NOT NULL) NOT VALID`));
      }
      if ((await constraintState(run, n.nn)) === 'not_valid') await longStep(run, 'validate', `ALTER TABLE ${run.relation} VALIDATE CONSTRAINT ${ident(n.nn)}`);
    }
  },

  async complete(run) {
    const kept = await changeTarget(run);
    if (kept.method === 'in_place') return linkInPlace.complete(run, kept);
    const n = names(run.field.id);
    // confirm_loss without the loss report (changeTarget): what was lost, counted now, the
    // copy and the steps after it done, as close to the swap as a scan can be
    const t = await countLostAfterCopy(run, kept, String(ident(n.shadow)));
    const f = run.field;
    const schema = run.deps.config.dataSchema;
    const newType = fieldType(t.to.type);
    const from: FieldShape = { type: f.type, options: f.options };
    const env = await sqlEnv(run.deps.pool, run.deps, [from, t.to]);
    const newDefault = await convertDefault(run.deps.pool, f, t.to, env);
    const confirmed = lossConfirmed(run);
    return briefStep(run, 'swap', async (c) => {
      const version = run.table.version + 1;
      const parked = trashName('was_f', f.id, `v${version}`);
      const rel = run.relation;
      await assertSyncTriggersEnabled(c.tx, run);
      // nor did a DBA hang anything on the column, or a trigger on the table, meanwhile
      // (obstacles.ts; under the lock this step's first statement took: none since)
      const obstacles = await onlineTypeChangeObstacles(c.tx, schema, run.table, f);
      if (obstacles.length) throw onlineObstaclesConflict(f, obstacles);
      // The DDL goes as one query: one round trip under the ACCESS EXCLUSIVE lock instead of
      // one a statement (up to 14), each of which held every read and write of the table.
      // The shadow's own index was built before this step (valid, or absent): read first.
      const ownIndex = (await indexState(run, n.ix)) === 'valid';
      const ddl = [...dropSyncTrigger(schema, rel, f.id, await syncObjects(c.tx, schema, run.table.table_oid!, f.id))];
      // The old column, as the trashed fields keep theirs: no constraint that could refuse a
      // write, nothing that fills it. A system field's column leaves what made it one (as
      // leaveSystemType does on the one-transaction path): an autonumber's identity (whose
      // NOT NULL cannot be dropped while it is one), a created_* or updated_* column's
      // DEFAULT (below; its trigger goes at the end of this step: no system field then).
      const system = fieldType(f.type).system;
      if (system === 'identity') ddl.push(`ALTER TABLE ${rel} ALTER COLUMN ${run.col} DROP IDENTITY IF EXISTS`);
      if (f.not_null) ddl.push(`ALTER TABLE ${rel} ALTER COLUMN ${run.col} DROP NOT NULL`);
      if (f.is_unique) ddl.push(`ALTER TABLE ${rel} DROP CONSTRAINT IF EXISTS ${ident(`uq_f${f.id}`)}`);
      if (f.type === 'link') ddl.push(`ALTER TABLE ${rel} DROP CONSTRAINT IF EXISTS ${ident(`fk_f${f.id}`)}`);
      ddl.push(`DROP INDEX IF EXISTS ${qualified(schema, `ix_f${f.id}`)}`);
      // any DEFAULT: the field's, a system field's, a DBA's on an adopted column (the new
      // column has the converted default of the field only: pg_default NULL below); not a
      // generated column's expression, also kept in pg_attrdef
      const { rows: def } = await c.tx.query<{ has: boolean }>(`SELECT atthasdef AND attgenerated = '' AS has FROM pg_attribute WHERE attrelid = $1 AND attname = $2 AND NOT attisdropped`, [
        run.table.table_oid,
        f.column_name,
      ]);
      if (def[0]?.has || (system && system !== 'identity')) ddl.push(`ALTER TABLE ${rel} ALTER COLUMN ${run.col} DROP DEFAULT`);
      ddl.push(`ALTER TABLE ${rel} RENAME COLUMN ${run.col} TO ${ident(parked)}`);
      ddl.push(`ALTER TABLE ${rel} RENAME COLUMN ${ident(n.shadow)} TO ${run.col}`);
      if (t.to.type === 'link') ddl.push(`ALTER TABLE ${rel} RENAME CONSTRAINT ${ident(n.fk)} TO ${ident(`fk_f${f.id}`)}`);
      if (f.is_unique) ddl.push(`ALTER TABLE ${rel} ADD CONSTRAINT ${ident(`uq_f${f.id}`)} UNIQUE USING INDEX ${ident(n.uq)}`);
      if (ownIndex) ddl.push(`ALTER INDEX ${qualified(schema, n.ix)} RENAME TO ${ident(`ix_f${f.id}`)}`);
      if (f.not_null) {
        ddl.push(`ALTER TABLE ${rel} ALTER COLUMN ${run.col} SET NOT NULL`);
        ddl.push(`ALTER TABLE ${rel} DROP CONSTRAINT IF EXISTS ${ident(n.nn)}`);
      }
      if (newDefault) ddl.push(`ALTER TABLE ${rel} ALTER COLUMN ${run.col} SET DEFAULT ${newDefault.sql}`);
      await c.ddlBatch(ddl);
      // Without confirm_loss: a row the sync trigger noted (an edit of another field of a row
      // whose value would not convert, written before the trigger; the edit may have moved
      // it past the copy) and that still holds such a value refuses the change. Under this
      // step's ACCESS EXCLUSIVE lock (the DDL above): no write comes between.
      if (!confirmed) {
        const old = `t.${ident(parked)}`;
        const { rows: lost } = await c.tx.query(
          /* sql */ `SELECT t.id, left(${displaySql(from, old)}, 200) AS value FROM ${rel} t
            WHERE t.id = ANY (ARRAY(SELECT row_id::bigint FROM tablewright.online_lost_rows WHERE field_id = $1))
              AND t.${run.col} IS NULL AND (${lossPredicate(from, t.to, old, env)}) ORDER BY t.id LIMIT 5`,
          [f.id],
        );
        if (lost.length) {
          throw unprocessable(
            'lossy_conversion',
            `values of "${f.name}" written while the change was starting would not convert to ${newType.label}; send confirm_loss=1 to convert anyway (the old values are kept in the trash)`,
            'type',
            { field_id: f.id, examples: lost, found_at: 'swap' },
          );
        }
      }
      await c.tx.query(`DELETE FROM tablewright.online_lost_rows WHERE field_id = $1`, [f.id]);

      // The old column is the field's trashed copy. A system field's is no system field any
      // more (its identity, DEFAULT and trigger went above): kept as the ordinary type it is
      // stored as, so a restore gives a field that is what its column is (a restored
      // "autonumber" without its identity numbered nothing, read-only to writes).
      const base = SYSTEM_BASE[f.type as FieldTypeName];
      const kept = base ? { type: base, options: normaliseOptions(fieldType(base), base === 'number' ? { decimals: 0 } : {}) } : { type: f.type, options: f.options };
      const { rows } = await c.tx.query<{ id: number }>(
        /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position, trashed_at, trashed_by, trash_name, trash_reason, attnum)
          VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8, 'type_change', $9) RETURNING id`,
        [run.table.id, `${f.name} (before change to ${newType.label}, v${version})`.slice(0, 255), `${f.column_name}_before_v${version}`.slice(0, 63), kept.type, kept.options, f.position, c.actor.name, parked, await attnumOf(c.tx, run.table.table_oid!, parked)],
      );
      await c.ddl(`COMMENT ON COLUMN ${rel}.${ident(parked)} IS ${literal(`field ${f.id} before its change to ${newType.label} (tablewright field ${rows[0]!.id})`)}`);
      await c.tx.query(
        /* sql */ `UPDATE tablewright.fields SET type = $2, options = $3, default_value = $4, indexed = indexed OR $5, attnum = $6, pg_default = NULL, updated_at = now() WHERE id = $1`,
        [f.id, t.to.type, t.to.options, newDefault ? stringifyExact(newDefault.json) : null, t.to.type === 'link', await attnumOf(c.tx, run.table.table_oid!, f.column_name)],
      );
      const now = await getField(c.tx, run.table.id, f.id);
      await c.ddl(`COMMENT ON COLUMN ${rel}.${run.col} IS ${literal(columnComment(now, run.table))}`);
      await finishOnlineChange(c.tx, run.change.id, 'done');
      return { kept_field_id: rows[0]!.id, lost: t.lost, rows: t.rows, ...(f.default_value != null && !newDefault ? { default_dropped: f.default_value } : {}) };
    });
  },

  async rollback(run) {
    // the way it was begun (no target yet: nothing was made, either way)
    if ((await getOnlineChange(run.deps.pool, run.change.id)).payload?.target?.method === 'in_place') return linkInPlace.rollback(run);
    const n = names(run.field.id);
    const schema = run.deps.config.dataSchema;
    // An index being built CONCURRENTLY on the shadow goes with the column.
    if (!(await columnExists(run, n.shadow))) {
      const found = await syncObjects(run.deps.pool, schema, run.table.table_oid!, run.field.id);
      const { rows } = await run.deps.pool.query(`SELECT 1 FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace WHERE s.nspname = $1 AND p.proname = $2`, [schema, syncTriggerName(run.field.id)]);
      if (!found.triggers.length && !rows.length) return;
    }
    await briefStep(run, 'rollback', async (c) => {
      for (const sql of dropSyncTrigger(schema, run.relation, run.field.id, await syncObjects(c.tx, schema, run.table.table_oid!, run.field.id))) await c.ddl(sql);
      await c.ddl(`ALTER TABLE ${run.relation} DROP COLUMN IF EXISTS ${ident(n.shadow)}`);
      await c.tx.query(`DELETE FROM tablewright.online_lost_rows WHERE field_id = $1`, [run.field.id]);
    });
  },
};
