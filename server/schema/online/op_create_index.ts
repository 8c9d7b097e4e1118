// Online index and UNIQUE on one field.
//
//   start     DROP INDEX CONCURRENTLY the invalid leftover of a crashed build, if any;
//             CREATE [UNIQUE] INDEX CONCURRENTLY (SHARE UPDATE EXCLUSIVE: reads and
//             writes go on; a duplicate ends it with a report, nothing kept); both with
//             the brief steps' lock budget (steps.ts buildIndex)
//   complete  brief: UNIQUE attaches the index as its constraint (ADD CONSTRAINT ... USING
//             INDEX), a plain index only becomes the field's; metadata, version, audit, NOTIFY
//   rollback  DROP INDEX CONCURRENTLY IF EXISTS
//
// The names are the ones the single-transaction path uses (uq_f<id>, ix_f<id>), so the
// result is the same table whichever path made it.
import { ident, qualified } from '../../db/ident.js';
import { unprocessable } from '../../errors.js';
import { hasOwnIndex, indexUsing } from '../fields.js';
import { step } from '../plan.js';
import { finishOnlineChange } from './state.js';
import { briefStep, buildIndex, indexState, outsideStep, type OnlineOp, type OnlineRun } from './steps.js';

const indexName = (unique: boolean, fieldId: number) => (unique ? `uq_f${fieldId}` : `ix_f${fieldId}`);

function createIndexOp(unique: boolean): OnlineOp {
  const name = (run: { field: { id: number } }) => indexName(unique, run.field.id);
  const qname = (run: OnlineRun) => String(qualified(run.deps.config.dataSchema, name(run)));
  return {
    objects: (field) => ({ index: indexName(unique, field.id) }),

    plan: (t) => {
      const ix = ident(indexName(unique, t.field.id));
      const steps = [step(`CREATE ${unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${ix} ON ${t.relation} ${unique ? '' : indexUsing(t.field.type)}(${t.col})`, 'SHARE UPDATE EXCLUSIVE', 'scan', t.size, unique ? 'unique' : 'index')];
      if (unique) {
        if (hasOwnIndex(t.field)) steps.push(step(`DROP INDEX ${ident(`ix_f${t.field.id}`)}`, 'ACCESS EXCLUSIVE', 'brief', t.size));
        steps.push(step(`ALTER TABLE ${t.relation} ADD CONSTRAINT ${ix} UNIQUE USING INDEX ${ix}`, 'ACCESS EXCLUSIVE', 'brief', t.size));
      }
      return steps;
    },

    async start(run) {
      await run.progress({ phase: `building the ${unique ? 'unique ' : ''}index (the table keeps serving)` });
      try {
        // catalog first at each attempt: a valid index is done, an invalid leftover goes first
        await buildIndex(run, name(run), `CREATE ${unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${ident(name(run))} ON ${run.relation} ${unique ? '' : indexUsing(run.field.type)}(${run.col})`);
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw await duplicatesReport(run);
        throw err;
      }
    },

    async complete(run) {
      return briefStep(run, 'attach', async (c) => {
        if (unique) {
          if (hasOwnIndex(run.field)) await c.ddl(`DROP INDEX IF EXISTS ${qualified(run.deps.config.dataSchema, `ix_f${run.field.id}`)}`);
          await c.ddl(`ALTER TABLE ${run.relation} ADD CONSTRAINT ${ident(name(run))} UNIQUE USING INDEX ${ident(name(run))}`);
          const indexed = run.change.payload?.indexed === true || run.change.payload?.indexed === '1' || run.field.indexed;
          await c.tx.query(`UPDATE tablewright.fields SET is_unique = true, indexed = $2, updated_at = now() WHERE id = $1`, [run.field.id, indexed]);
        } else {
          await c.tx.query(`UPDATE tablewright.fields SET indexed = true, updated_at = now() WHERE id = $1`, [run.field.id]);
        }
        await finishOnlineChange(c.tx, run.change.id, 'done');
      });
    },

    async rollback(run) {
      if ((await indexState(run, name(run))) !== 'absent') await outsideStep(run, 'rollback', `DROP INDEX CONCURRENTLY IF EXISTS ${qname(run)}`);
    },
  };
}

/** The same report the single-transaction path gives (has_duplicates), after the build failed. */
async function duplicatesReport(run: OnlineRun) {
  const { rows } = await run.deps.pool.query<{ groups: number; rows: number; ids: number[] | null }>(
    `SELECT count(*)::int AS groups, coalesce(sum(n), 0)::int AS rows, (array_agg(first_id ORDER BY first_id))[1:10] AS ids
       FROM (SELECT count(*) AS n, min(id) AS first_id FROM ${run.relation} WHERE ${run.col} IS NOT NULL GROUP BY ${run.col} HAVING count(*) > 1) d`,
  );
  const d = rows[0]!;
  return unprocessable(
    'has_duplicates',
    `"${run.field.name}" cannot be unique: ${d.groups} values repeat, in ${d.rows} rows (e.g. ids ${(d.ids ?? []).join(', ')})`,
    'unique',
    { duplicate_values: d.groups, rows: d.rows, row_ids: d.ids ?? [] },
  );
}

export const createIndex = createIndexOp(false);
export const setUnique = createIndexOp(true);
