// The plan of a field change (dry_run=1 answers it; the console shows its summary): the
// statements the single-transaction path would run, or the online path's steps, with
// their locks, classes and estimates (plan.ts). Reads only.
import { ident, qualified } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import { fieldType } from '../fields/registry.js';
import type { EditorDeps } from './change.js';
import { changesTypeOrOptions, hasOwnIndex, typeChangeRewrites, type FieldSpec, type FieldUpdate, type TypePlan } from './fields.js';
import { flag } from './input.js';
import type { FieldMeta, TableMeta } from './metadata.js';
import { OPS, onlineKindOf } from './online/run.js';
import { onlineObstaclesConflict, onlineTypeChangeObstacles } from './online/obstacles.js';
import { asPlain, convertsFromFormula, convertsToFormula, FORMULA_NOT_ONLINE, formulaSteps } from './formula_preview.js';
import { chooseOnline, makePlan, step, tableSize, type Plan, type PlanStep } from './plan.js';

const set = (v: unknown) => v !== undefined && v !== '';

export const typeChangeOf = (field: FieldMeta, update: FieldUpdate): 'none' | 'metadata' | 'rewrite' =>
  !changesTypeOrOptions(field, update) ? 'none' : typeChangeRewrites(field, update) ? 'rewrite' : 'metadata';

/** Adding a field never scans: a new column is empty (PostgreSQL 11+ adds a constant default without a rewrite). */
export async function planAddField(db: Queryable, deps: EditorDeps, table: TableMeta, spec: FieldSpec): Promise<Plan> {
  const size = await tableSize(db, table.table_oid);
  const relation = String(qualified(deps.config.dataSchema, table.table_name));
  const type = typeof spec.type === 'string' ? fieldType(spec.type, 'type') : undefined;
  const col = '<column>';
  const steps: PlanStep[] = [step(`ALTER TABLE ${relation} ADD COLUMN ${col} ${type ? type.sqlType((spec.options as any) ?? {}) : ''}`.trim(), 'ACCESS EXCLUSIVE', 'brief', size)];
  if (flag(spec.unique, 'unique')) steps.push(step(`ALTER TABLE ${relation} ADD CONSTRAINT uq_f<id> UNIQUE (${col})`, 'ACCESS EXCLUSIVE', 'brief', size));
  else if (flag(spec.indexed, 'indexed') || type?.name === 'link') steps.push(step(`CREATE INDEX ix_f<id> ON ${relation} (${col})`, 'SHARE', 'brief', size));
  return makePlan(steps, size, { online: false, reason: 'a new column is empty: every step is brief' });
}

/**
 * `typePlan`: the type change's target when the caller worked it out already (the loss
 * report has it); `online`: online=1|0 as sent. Reads the catalog only, never the rows.
 */
export async function planFieldUpdate(
  db: Queryable,
  deps: EditorDeps & { jobThresholdRows: number },
  table: TableMeta,
  field: FieldMeta,
  update: FieldUpdate,
  online: boolean | undefined,
  typePlan?: Pick<TypePlan, 'to'>,
): Promise<Plan> {
  const size = await tableSize(db, table.table_oid);
  const relation = String(qualified(deps.config.dataSchema, table.table_name));
  const col = String(ident(field.column_name));
  if (convertsToFormula(field, update) || convertsFromFormula(field, update)) {
    const steps = await formulaSteps(db, table, field, update, relation, size);
    // from a formula: then the conversion of the plain column it became, as for any field
    if (convertsFromFormula(field, update)) steps.push(...(await planFieldUpdate(db, deps, table, asPlain(field), update, false, typePlan)).steps.filter((s) => !s.sql.startsWith('-- metadata only: display name')));
    const job = size.rows > deps.jobThresholdRows ? `; about ${size.rows} rows, past JOB_THRESHOLD_ROWS (${deps.jobThresholdRows}): a job` : '';
    return makePlan(steps, size, { online: false, reason: FORMULA_NOT_ONLINE + job });
  }
  const kind = onlineKindOf(field, update as Record<string, unknown>, typeChangeOf(field, update));
  let choice = chooseOnline(size.rows, deps.jobThresholdRows, online);
  // What a DBA made keeps a type change from running online (online/obstacles.ts): online=1
  // is refused (409), and the size alone leaves it to one transaction, as the request does.
  if (kind === 'change_type' && choice.online) {
    const obstacles = await onlineTypeChangeObstacles(db, deps.config.dataSchema, table, field);
    if (obstacles.length && online === true) throw onlineObstaclesConflict(field, obstacles);
    if (obstacles.length) choice = { online: false, reason: `${choice.reason}, but it cannot run online (${obstacles.slice(0, 5).join('; ')}): one transaction` };
  }
  if (kind && choice.online) {
    return makePlan(OPS[kind].plan({ relation, col, field, size, update: update as Record<string, unknown> }), size, choice);
  }
  const steps: PlanStep[] = [];
  if (set(update.column) && update.column !== field.column_name) steps.push(step(`ALTER TABLE ${relation} RENAME COLUMN ${col} TO ${ident(String(update.column), 'column')}`, 'ACCESS EXCLUSIVE', 'instant', size));
  const typeChange = typeChangeOf(field, update);
  if (typeChange === 'rewrite') {
    const to = set(update.type) ? fieldType(String(update.type), 'type') : fieldType(field.type);
    const sameSqlType = typePlan ? fieldType(typePlan.to.type).sqlType(typePlan.to.options) === fieldType(field.type).sqlType(field.options) : to.name === field.type;
    if (sameSqlType) steps.push(step(`UPDATE ${relation} SET ${col} = <converted> WHERE ${col} IS DISTINCT FROM <converted>`, 'ROW EXCLUSIVE', 'rewrite', size));
    else steps.push(step(`ALTER TABLE ${relation} ALTER COLUMN ${col} TYPE ${typePlan ? fieldType(typePlan.to.type).sqlType(typePlan.to.options) : `<${to.name}>`} USING <converted>`, 'ACCESS EXCLUSIVE', 'rewrite', size));
    if (to.name === 'link') steps.push(step(`ALTER TABLE ${relation} ADD CONSTRAINT ${ident(`fk_f${field.id}`)} FOREIGN KEY (${col}) REFERENCES ...`, 'SHARE ROW EXCLUSIVE', 'scan', size, 'fk'));
  } else if (typeChange === 'metadata') steps.push(step(`-- metadata only: ${field.type} -> ${set(update.type) ? String(update.type) : field.type}`, 'none', 'instant', size));
  const notNull = flag(update.not_null, 'not_null');
  if (notNull !== undefined && notNull !== field.not_null) {
    steps.push(notNull ? step(`ALTER TABLE ${relation} ALTER COLUMN ${col} SET NOT NULL`, 'ACCESS EXCLUSIVE', 'scan', size) : step(`ALTER TABLE ${relation} ALTER COLUMN ${col} DROP NOT NULL`, 'ACCESS EXCLUSIVE', 'instant', size));
  }
  const unique = flag(update.unique, 'unique') ?? field.is_unique;
  const indexed = flag(update.indexed, 'indexed') ?? field.indexed;
  if (unique !== field.is_unique) {
    steps.push(unique ? step(`ALTER TABLE ${relation} ADD CONSTRAINT ${ident(`uq_f${field.id}`)} UNIQUE (${col})`, 'ACCESS EXCLUSIVE', 'scan', size, 'unique') : step(`ALTER TABLE ${relation} DROP CONSTRAINT ${ident(`uq_f${field.id}`)}`, 'ACCESS EXCLUSIVE', 'instant', size));
  }
  const had = hasOwnIndex(field);
  const want = hasOwnIndex({ indexed, is_unique: unique });
  if (want && !had) steps.push(step(`CREATE INDEX ${ident(`ix_f${field.id}`)} ON ${relation} (${col})`, 'SHARE', 'scan', size, 'index'));
  else if (!want && field.indexed && (indexed !== field.indexed || unique !== field.is_unique)) steps.push(step(`DROP INDEX ${ident(`ix_f${field.id}`)}`, 'ACCESS EXCLUSIVE', 'instant', size));
  if (update.default !== undefined) steps.push(step(`ALTER TABLE ${relation} ALTER COLUMN ${col} SET/DROP DEFAULT`, 'ACCESS EXCLUSIVE', 'instant', size));
  if (set(update.name) && update.name !== field.name) steps.push(step(`-- metadata only: display name`, 'none', 'instant', size));
  const reason = kind ? choice.reason : steps.some((s) => s.class === 'scan' || s.class === 'rewrite') ? 'this combination of changes runs in one transaction; send one change at a time to run it online' : 'every step is brief';
  return makePlan(steps, size, { online: false, reason });
}
