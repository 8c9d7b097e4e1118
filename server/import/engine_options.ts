// add_options=1: the single-select options an import meets for the first time become
// options of the field, as a metadata change in the import's own transaction (it commits
// or rolls back with the rows): the field's options, its column comment, the table's
// version + 1, an audit row, the global schema version and NOTIFY, as schemaChange does.
// The table's schema advisory lock is taken when the import starts and held to its end,
// so that no other schema change slips in between.
import type pg from 'pg';
import { literal } from '../db/ident.js';
import { conflict } from '../errors.js';
import { assignChoiceIds, type Choice, type SelectOpts } from '../fields/single_select.js';
import type { Model, ModelField } from '../model/compile.js';
import { columnComment } from '../schema/comments.js';
import { SCHEMA_CHANNEL, SCHEMA_LOCK_NAMESPACE } from '../schema/change.js';

export const MAX_CHOICES = 500;

/** Takes the table's schema lock and checks the model is the table's current one. */
export async function lockForOptions(tx: pg.PoolClient, model: Model): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [SCHEMA_LOCK_NAMESPACE, model.tableId]);
  const { rows } = await tx.query<{ version: number }>(`SELECT version FROM tablewright.tables WHERE id = $1`, [model.tableId]);
  if (rows[0]?.version !== model.version) throw conflict('table_changed', `table "${model.table.name}" changed while the import started; send it again`);
}

/** The options of one field as the import grows them (a label's case as first met). */
export class GrowingChoices {
  readonly added: Choice[] = [];
  readonly options: SelectOpts;
  constructor(readonly field: ModelField) {
    this.options = { choices: [...(field.options as SelectOpts).choices] };
  }

  /** A new option for `label`, or the reason it cannot be one. */
  add(label: string): Choice | string {
    const clean = label.trim();
    if (!clean) return 'an option needs a label';
    if (clean.length > 100) return 'an option label is at most 100 characters';
    if (clean.includes('\0')) return 'an option label may not contain NUL bytes';
    if (this.options.choices.length >= MAX_CHOICES) return `would be option ${MAX_CHOICES + 1}: a single select has at most ${MAX_CHOICES} options`;
    const [c] = assignChoiceIds([{ label: clean, color: 'gray' }], this.options.choices);
    this.options.choices.push(c!);
    this.added.push(c!);
    return c!;
  }
}

/** Writes the grown options of every field that got some, as one audited schema change. */
export async function commitNewOptions(tx: pg.PoolClient, model: Model, grown: GrowingChoices[], actor: string, instanceId?: string): Promise<number | null> {
  const changed = grown.filter((g) => g.added.length);
  if (!changed.length) return null;
  const ddl: string[] = [];
  for (const g of changed) {
    const meta = g.field.meta;
    await tx.query(`UPDATE tablewright.fields SET options = $2, updated_at = now() WHERE id = $1`, [meta.id, JSON.stringify(g.options)]);
    const comment = `COMMENT ON COLUMN ${model.relation}.${g.field.quoted} IS ${literal(columnComment({ ...meta, options: g.options }, model.table))}`;
    await tx.query(comment);
    ddl.push(`${comment};`);
  }
  const { rows } = await tx.query<{ version: number }>(`UPDATE tablewright.tables SET version = version + 1, updated_at = now() WHERE id = $1 RETURNING version`, [model.tableId]);
  const version = rows[0]!.version;
  const details = { ops: ['add_options'], added: changed.map((g) => ({ field: g.field.meta.name, column: g.field.column, labels: g.added.map((c) => c.label) })) };
  await tx.query(
    `INSERT INTO tablewright.audit (actor, operation, table_id, field_id, version, ddl, details) VALUES ($1, 'import_add_options', $2, $3, $4, $5, $6)`,
    [actor, model.tableId, changed.length === 1 ? changed[0]!.field.meta.id : null, version, ddl.join('\n'), details],
  );
  const state = await tx.query<{ version: number }>(`UPDATE tablewright.schema_state SET version = version + 1 RETURNING version`);
  const payload = { table_id: model.tableId, version, global_version: state.rows[0]!.version, op: 'import_add_options', actor, ...(instanceId ? { instance: instanceId } : {}) };
  await tx.query('SELECT pg_notify($1, $2)', [SCHEMA_CHANNEL, JSON.stringify(payload)]);
  return version;
}
