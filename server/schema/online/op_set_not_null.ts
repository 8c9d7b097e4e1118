// Online NOT NULL.
//
//   start     brief: ADD CONSTRAINT nn_f<id> CHECK (col IS NOT NULL) NOT VALID (new writes
//             are checked from here on); VALIDATE CONSTRAINT in its own transaction
//             (SHARE UPDATE EXCLUSIVE: reads and writes go on while it scans); an empty
//             value ends it with a report, nothing kept
//   complete  brief: SET NOT NULL (PostgreSQL 12+ skips its scan: the valid CHECK proves
//             it), DROP the CHECK; metadata, version, audit, NOTIFY
//   rollback  brief: DROP CONSTRAINT IF EXISTS nn_f<id>
import { ident } from '../../db/ident.js';
import { unprocessable } from '../../errors.js';
import { step } from '../plan.js';
import { finishOnlineChange } from './state.js';
import { briefStep, constraintState, longStep, type OnlineOp, type OnlineRun } from './steps.js';

const checkName = (fieldId: number) => `nn_f${fieldId}`;

export const setNotNull: OnlineOp = {
  objects: (field) => ({ constraint: checkName(field.id) }),

  plan: (t) => {
    const nn = ident(checkName(t.field.id));
    return [
      step(`ALTER TABLE ${t.relation} ADD CONSTRAINT ${nn} CHECK (${t.col} IS NOT NULL) NOT VALID`, 'ACCESS EXCLUSIVE', 'brief', t.size),
      step(`ALTER TABLE ${t.relation} VALIDATE CONSTRAINT ${nn}`, 'SHARE UPDATE EXCLUSIVE', 'scan', t.size, 'scan'),
      step(`ALTER TABLE ${t.relation} ALTER COLUMN ${t.col} SET NOT NULL`, 'ACCESS EXCLUSIVE', 'brief', t.size),
      step(`ALTER TABLE ${t.relation} DROP CONSTRAINT ${nn}`, 'ACCESS EXCLUSIVE', 'brief', t.size),
    ];
  },

  async start(run) {
    const nn = ident(checkName(run.field.id));
    let state = await constraintState(run, checkName(run.field.id));
    if (state === 'absent') {
      await briefStep(run, 'add_check', (c) => c.ddl(`ALTER TABLE ${run.relation} ADD CONSTRAINT ${nn} CHECK (${run.col} IS NOT NULL) NOT VALID`));
      state = 'not_valid';
    }
    if (state === 'not_valid') {
      await run.progress({ phase: 'checking every row has a value (the table keeps serving)' });
      try {
        await longStep(run, 'validate', `ALTER TABLE ${run.relation} VALIDATE CONSTRAINT ${nn}`);
      } catch (err) {
        if ((err as { code?: string }).code !== '23514') throw err;
        throw await emptyReport(run);
      }
    }
  },

  async complete(run) {
    return briefStep(run, 'set_not_null', async (c) => {
      await c.ddl(`ALTER TABLE ${run.relation} ALTER COLUMN ${run.col} SET NOT NULL`);
      await c.ddl(`ALTER TABLE ${run.relation} DROP CONSTRAINT IF EXISTS ${ident(checkName(run.field.id))}`);
      await c.tx.query(`UPDATE tablewright.fields SET not_null = true, updated_at = now() WHERE id = $1`, [run.field.id]);
      await finishOnlineChange(c.tx, run.change.id, 'done');
    });
  },

  async rollback(run) {
    if ((await constraintState(run, checkName(run.field.id))) === 'absent') return;
    await briefStep(run, 'rollback', (c) => c.ddl(`ALTER TABLE ${run.relation} DROP CONSTRAINT IF EXISTS ${ident(checkName(run.field.id))}`));
  },
};

async function emptyReport(run: OnlineRun) {
  const { rows } = await run.deps.pool.query<{ count: number; ids: number[] | null }>(
    `SELECT count(*)::int AS count, (array_agg(id ORDER BY id))[1:10] AS ids FROM ${run.relation} WHERE ${run.col} IS NULL`,
  );
  const { count, ids } = rows[0]!;
  return unprocessable('has_empty_values', `"${run.field.name}" cannot be required: ${count} rows have no value (e.g. ids ${(ids ?? []).join(', ')})`, 'not_null', {
    count,
    row_ids: ids ?? [],
  });
}
