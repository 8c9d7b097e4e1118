// Online number -> link where the column is. A whole number is stored as bigint, a link's
// type too: the one-transaction path rewrites nothing (it empties the ids of no row, then
// adds the foreign key and the index), yet the shadow-column path (op_change_type) copied
// every row into a new column, a lookup each: 2,000,000 rows in 45-52 s against 12 s for
// the blocking DDL, the furthest of all changes from issue 13's 2x. In place, each step
// reads the table at most, and writes only the rows whose value does not survive:
//
//   start     checks the values (the loss report; confirm_loss), as op_change_type does;
//             the link's index CONCURRENTLY (first: from the next step on, a delete in
//             the linked table empties its links, and finds them by it);
//             brief: ADD COLUMN the kept column (the change's extra column, bigint: where
//             values that do not survive are moved), the sync trigger (inPlaceFunction:
//             refuses a write of an id of no row; moves aside a value the new foreign
//             key's ON DELETE SET NULL empties), the FOREIGN KEY ... NOT VALID;
//             with confirm_loss, a sweep (sweep.ts) that moves the values that do not
//             convert into the kept column, a range of pages at a time (row locks on those
//             rows only);
//             VALIDATE the foreign key (reads; no write waits)
//   complete  brief, the swap: drop the trigger; the foreign key and index take the
//             field's names; the kept column becomes the field's trashed copy
//             (type_change), as the old column does on the shadow path; metadata, version
//             + 1, audit, NOTIFY: one commit
//   rollback  brief: drop the trigger, the foreign key and the index; a sweep puts the
//             moved values back where the field is empty; brief: drop the kept column
//
// Before the swap the field is a number to every reader, and a writer of its own value is
// refused only for an id the link would refuse (the foreign key checks every write from
// its first brief step on; the trigger says why first). With confirm_loss the shadow path
// takes such a write and drops it at the swap (kept in the old column); here it is refused:
// nothing written during the change is lost at its end.
import { ident, literal, qualified } from '../../db/ident.js';
import { conflict, unprocessable } from '../../errors.js';
import { stringifyExact } from '../../fields/exact_json.js';
import { displaySql, lossPredicate, type FieldShape } from '../../fields/convert.js';
import { attnumOf } from '../catalog.js';
import { columnComment } from '../comments.js';
import { convertDefault, sqlEnv } from '../fields.js';
import { flag } from '../input.js';
import { getField } from '../metadata.js';
import { trashName } from '../names.js';
import { step, type PlanStep } from '../plan.js';
import { onlineObstaclesConflict, onlineTypeChangeObstacles } from './obstacles.js';
import { changeNames, columnExists, lossConfirmed, refreshSyncFunction, type Target } from './shadow.js';
import { advance, finishOnlineChange, getOnlineChange } from './state.js';
import { briefStep, buildIndex, constraintState, indexState, longStep, type OnlineRun, type PlanTarget } from './steps.js';
import { sweep } from './sweep.js';
import { assertSyncTriggersEnabled, dropSyncTrigger, inPlaceFunction, inPlaceTriggerDdl, syncObjects, syncTriggerName } from './trigger.js';

/** What the loss predicate needs: the field's shape and the link's target. */
async function shapes(run: OnlineRun, t: Target) {
  const from: FieldShape = { type: run.field.type, options: run.field.options };
  const env = await sqlEnv(run.deps.pool, run.deps, [from, t.to]);
  return { from, env, lost: (col: string) => lossPredicate(from, t.to, col, env) };
}

/** Up to five rows whose value would not convert (a refusal's examples): a scan, on a refusal only. */
async function lostExamples(run: OnlineRun, t: Target): Promise<unknown[]> {
  const { from, lost } = await shapes(run, t);
  const { rows } = await run.deps.pool.query(`SELECT t.id, left(${displaySql(from, `t.${run.col}`)}, 200) AS value FROM ${run.relation} t WHERE ${lost(`t.${run.col}`)} ORDER BY t.id LIMIT 5`);
  return rows;
}

export const linkInPlace = {
  plan(t: PlanTarget): PlanStep[] {
    const n = changeNames(t.field.id);
    const kept = ident(n.shadow);
    const steps: PlanStep[] = [];
    if (!t.field.indexed && !t.field.is_unique) steps.push(step(`CREATE INDEX CONCURRENTLY ${ident(n.ix)} ON ${t.relation} (${t.col})`, 'SHARE UPDATE EXCLUSIVE', 'scan', t.size, 'index'));
    steps.push(
      step(
        `ALTER TABLE ${t.relation} ADD COLUMN ${kept} bigint; CREATE TRIGGER ${ident(syncTriggerName(t.field.id))} BEFORE INSERT OR UPDATE ON ${t.relation} ... (refuses an id of no row); ALTER TABLE ${t.relation} ADD CONSTRAINT ${ident(n.fk)} FOREIGN KEY (${t.col}) REFERENCES ... ON DELETE SET NULL NOT VALID`,
        'ACCESS EXCLUSIVE',
        'brief',
        t.size,
      ),
    );
    if (flag(t.update.confirm_loss, 'confirm_loss')) {
      steps.push(step(`UPDATE ${t.relation} t SET ${kept} = t.${t.col}, ${t.col} = NULL WHERE ctid >= ($page, 0) AND ctid < ($page + $span, 0) AND <an id of no row> -- the table by ranges of pages`, 'ROW EXCLUSIVE', 'scan', t.size, 'fk'));
    }
    steps.push(step(`ALTER TABLE ${t.relation} VALIDATE CONSTRAINT ${ident(n.fk)}`, 'SHARE UPDATE EXCLUSIVE', 'scan', t.size, 'fk'));
    steps.push(step(`ALTER TABLE ${t.relation} RENAME CONSTRAINT ${ident(n.fk)} TO ${ident(`fk_f${t.field.id}`)}; ALTER TABLE ${t.relation} RENAME COLUMN ${kept} TO <trashed copy> -- the swap`, 'ACCESS EXCLUSIVE', 'brief', t.size));
    return steps;
  },

  async start(run: OnlineRun, t: Target): Promise<void> {
    const n = changeNames(run.field.id);
    const kept = String(ident(n.shadow));
    const schema = run.deps.config.dataSchema;
    const { env, lost } = await shapes(run, t);
    const confirmed = lossConfirmed(run);
    // A rollback that began (after an error) and was cut short by its instance's end: the
    // field is a number again without its trigger; only the rollback may go on.
    const at = await getOnlineChange(run.deps.pool, run.change.id);
    if (at.step === 'rollback' || at.step === 'rollback_drop') {
      throw conflict('rolled_back', `the change of "${run.field.name}" was being rolled back when its instance stopped; the rollback is finished now`, 'type');
    }
    const fn = inPlaceFunction(
      schema,
      run.field.id,
      kept,
      { fromNew: lost(`NEW.${run.col}`), fromOld: lost(`OLD.${run.col}`) },
      {
        col: run.col,
        column: run.field.column_name,
        message: `${run.field.name}: the field is being changed to a link, and no row of the linked table has this id; write the id of one that exists, or wait until the change is done`,
      },
      confirmed,
    );
    // The index first: from the brief step on, each row deleted from the linked table
    // empties its links (the new foreign key's ON DELETE SET NULL), which without the index
    // reads this whole table, a delete at a time, for as long as the change runs.
    if (!run.field.indexed && !run.field.is_unique && (await indexState(run, n.ix)) !== 'valid') {
      await run.progress({ phase: 'building the index of the link (the table keeps serving)' });
      await buildIndex(run, n.ix, `CREATE INDEX CONCURRENTLY ${ident(n.ix)} ON ${run.relation} (${run.col})`);
    }
    const addFk = `ALTER TABLE ${run.relation} ADD CONSTRAINT ${ident(n.fk)} FOREIGN KEY (${run.col}) REFERENCES ${env.linkTarget(t.to.options.table_id)} (id) ON DELETE SET NULL NOT VALID`;
    if (!(await columnExists(run, n.shadow))) {
      const obstacles = await onlineTypeChangeObstacles(run.deps.pool, schema, run.table, run.field);
      if (obstacles.length) throw onlineObstaclesConflict(run.field, obstacles);
      // one round trip under the ACCESS EXCLUSIVE lock: the column, the trigger, the foreign key
      await briefStep(run, 'add_shadow', (c) => c.ddlBatch([`ALTER TABLE ${run.relation} ADD COLUMN ${kept} bigint`, ...inPlaceTriggerDdl(schema, run.relation, run.field.id, kept, fn), addFk]));
    } else {
      await refreshSyncFunction(run, fn);
      if ((await constraintState(run, n.fk)) === 'absent') await briefStep(run, 'add_fk', (c) => c.ddl(addFk));
    }
    for (let round = 1; ; round++) {
      const change = await getOnlineChange(run.deps.pool, run.change.id);
      if (confirmed && ['planned', 'add_shadow', 'add_fk', 'backfill'].includes(change.step)) {
        await advance(run.deps.pool, run.change.id, { step: 'backfill' });
        await sweep(run, `${kept} = t.${run.col}, ${run.col} = NULL`, lost(`t.${run.col}`), { record: true, phase: 'moving aside the values that do not convert (the table keeps serving)', total: t.rows });
        await advance(run.deps.pool, run.change.id, { step: 'backfilled' });
      }
      if ((await constraintState(run, n.fk)) !== 'not_valid') break;
      await run.progress({ phase: 'checking every value is the id of a row of the linked table (the table keeps serving)' });
      try {
        await longStep(run, 'validate_fk', `ALTER TABLE ${run.relation} VALIDATE CONSTRAINT ${ident(n.fk)}`);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== '23503') throw err;
        // A value of no row though the trigger and the foreign key refuse them: written
        // between the loss report and the first brief step (or by a session whose triggers
        // were off). Without confirm_loss, refused as the report would have; with it, the
        // sweep goes through the table again (once).
        if (!confirmed) {
          throw unprocessable(
            'lossy_conversion',
            `values of "${run.field.name}" written while the change was starting would not convert to Link; send confirm_loss=1 to convert anyway (the old values are kept in the trash)`,
            'type',
            { field_id: run.field.id, examples: await lostExamples(run, t), found_at: 'validate' },
          );
        }
        if (round > 1) throw conflict('link_not_valid', `values of "${run.field.name}" that name no row of the linked table keep appearing (written by a session with triggers off: session_replication_role = replica?); the change is rolled back`, 'type');
        await run.deps.pool.query(`UPDATE tablewright.online_changes SET step = 'backfill', backfill_page = 0 WHERE id = $1`, [run.change.id]);
      }
    }
  },

  async complete(run: OnlineRun, t: Target) {
    const n = changeNames(run.field.id);
    const f = run.field;
    const schema = run.deps.config.dataSchema;
    const rel = run.relation;
    const { env } = await shapes(run, t);
    const newDefault = await convertDefault(run.deps.pool, f, t.to, env);
    return briefStep(run, 'swap', async (c) => {
      const version = run.table.version + 1;
      const parked = trashName('was_f', f.id, `v${version}`);
      await assertSyncTriggersEnabled(c.tx, run);
      const obstacles = await onlineTypeChangeObstacles(c.tx, schema, run.table, f);
      if (obstacles.length) throw onlineObstaclesConflict(f, obstacles);
      // the foreign key checked every row (a DBA may have dropped it, or made it NOT VALID again)
      const { rows: fk } = await c.tx.query<{ valid: boolean }>(`SELECT convalidated AS valid FROM pg_constraint WHERE conrelid = $1 AND conname = $2`, [run.table.table_oid, n.fk]);
      if (!fk[0]?.valid) throw conflict('link_not_valid', `the foreign key that makes "${f.name}" a link (${n.fk}) is gone or not validated; the change is rolled back, start it again`, 'type');
      const ownIndex = (await indexState(run, n.ix)) === 'valid';
      const ddl = [...dropSyncTrigger(schema, rel, f.id, await syncObjects(c.tx, schema, run.table.table_oid!, f.id))];
      ddl.push(`ALTER TABLE ${rel} RENAME CONSTRAINT ${ident(n.fk)} TO ${ident(`fk_f${f.id}`)}`);
      if (ownIndex) ddl.push(`ALTER INDEX ${qualified(schema, n.ix)} RENAME TO ${ident(`ix_f${f.id}`)}`);
      ddl.push(`ALTER TABLE ${rel} RENAME COLUMN ${ident(n.shadow)} TO ${ident(parked)}`);
      await c.ddlBatch(ddl);
      // The kept column is the field's trashed copy, as the old column is on the shadow path
      // (empty but for the values moved aside): restoring it gives them back as a number.
      const { rows } = await c.tx.query<{ id: number }>(
        /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position, trashed_at, trashed_by, trash_name, trash_reason, attnum)
          VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8, 'type_change', $9) RETURNING id`,
        [run.table.id, `${f.name} (before change to Link, v${version})`.slice(0, 255), `${f.column_name}_before_v${version}`.slice(0, 63), f.type, f.options, f.position, c.actor.name, parked, await attnumOf(c.tx, run.table.table_oid!, parked)],
      );
      await c.ddl(`COMMENT ON COLUMN ${rel}.${ident(parked)} IS ${literal(`values of field ${f.id} that did not convert (before change to Link; tablewright field ${rows[0]!.id})`)}`);
      await c.tx.query(`UPDATE tablewright.fields SET type = $2, options = $3, default_value = $4, indexed = true, updated_at = now() WHERE id = $1`, [
        f.id,
        t.to.type,
        t.to.options,
        newDefault ? stringifyExact(newDefault.json) : null,
      ]);
      const now = await getField(c.tx, run.table.id, f.id);
      await c.ddl(`COMMENT ON COLUMN ${rel}.${run.col} IS ${literal(columnComment(now, run.table))}`);
      await finishOnlineChange(c.tx, run.change.id, 'done');
      return { kept_field_id: rows[0]!.id, lost: t.lost, rows: t.rows };
    });
  },

  async rollback(run: OnlineRun): Promise<void> {
    const n = changeNames(run.field.id);
    const schema = run.deps.config.dataSchema;
    const kept = await columnExists(run, n.shadow);
    const found = await syncObjects(run.deps.pool, schema, run.table.table_oid!, run.field.id);
    const { rows: fn } = await run.deps.pool.query(`SELECT 1 FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace WHERE s.nspname = $1 AND p.proname = $2`, [schema, syncTriggerName(run.field.id)]);
    const left = kept || found.triggers.length || fn.length || (await constraintState(run, n.fk)) !== 'absent' || (await indexState(run, n.ix)) !== 'absent';
    if (!left) return;
    // first the field is a plain number again (no trigger, no foreign key): the values go back
    await briefStep(run, 'rollback', async (c) => {
      for (const sql of dropSyncTrigger(schema, run.relation, run.field.id, await syncObjects(c.tx, schema, run.table.table_oid!, run.field.id))) await c.ddl(sql);
      await c.ddl(`ALTER TABLE ${run.relation} DROP CONSTRAINT IF EXISTS ${ident(n.fk)}`);
      await c.ddl(`DROP INDEX IF EXISTS ${qualified(schema, n.ix)}`);
    });
    if (!kept) return;
    // where the field is still empty (a value written since the step above wins)
    const k = ident(n.shadow);
    await sweep(run, `${run.col} = t.${k}`, `t.${k} IS NOT NULL AND t.${run.col} IS NULL`, { phase: 'putting back the values moved aside' });
    await briefStep(run, 'rollback_drop', (c) => c.ddl(`ALTER TABLE ${run.relation} DROP COLUMN IF EXISTS ${k}`));
  },
};
