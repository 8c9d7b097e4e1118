// Adopting a hand-made junction table (an untracked table whose two foreign keys point at
// two managed tables; server/introspect/junction_shape.ts) as a many-to-many link: the
// link field on the first foreign key's table and its reverse on the other's, over the
// junction as it is. No pair is copied. One schemaChange() on both tables; the shape is
// judged again from the catalog inside it, so a table changed since the report is refused.
//
// What the junction gets, so that the console's reads and writes hold on it as on one it
// made (server/schema/m2m.ts): its foreign keys named fk_m2m_f<id> (the write errors name
// the side by them) and ON DELETE CASCADE; the unique pair (added only on add_unique=1,
// and refused while pairs repeat) named uq_m2m_f<id>; NOT NULL on both columns (refused
// while a pair has an empty id); an index leading with each column; the link history
// triggers. Other columns are kept as they are: the console neither shows nor writes them.
import { ident, identFromCatalog, literal, qualified } from '../db/ident.js';
import { notOwnerMessage, relationOwnership } from '../db/privileges.js';
import { conflict, unprocessable } from '../errors.js';
import { schemaChange, type Actor, type Change } from '../schema/change.js';
import { flag } from '../schema/input.js';
import { junctionComment, linkSides } from '../schema/m2m.js';
import { getField, type TableMeta } from '../schema/metadata.js';
import { derivePhysicalName, validateDisplayName } from '../schema/names.js';
import { parseTableComment } from '../schema/comments.js';
import type { DriftItem } from './drift.js';
import { junctionShape, type JunctionShape } from './junction_shape.js';
import type { ReconcileDeps } from './reconcile.js';
import { readCatalog } from './snapshot.js';

export interface AdoptLinkRequest {
  /** the link field's display name (default: the other table's name) */
  name?: unknown;
  /** the reverse field's display name (default: this table's name) */
  reverse_name?: unknown;
  /** add the unique pair the junction lacks */
  add_unique?: unknown;
}

const drifted = (what: string) => conflict('drift_changed', `${what} changed since the report was made; reload the report`);

/** The junction's shape now, read from the catalog in the change's transaction. */
async function shapeNow(c: Change, schema: string, name: string): Promise<{ oid: number; shape: JunctionShape; comment: string | null }> {
  const { rows } = await c.tx.query<{ oid: number | null }>(`SELECT to_regclass(format('%I.%I', $1::text, $2::text))::oid::int8 AS oid`, [schema, name]);
  const oid = rows[0]?.oid == null ? undefined : Number(rows[0].oid);
  if (oid === undefined) throw drifted(`table ${schema}.${name}`);
  const { rows: tracked } = await c.tx.query(
    `SELECT 1 FROM tablewright.tables WHERE table_oid = $1 OR (trashed_at IS NULL AND table_name = $2) UNION ALL SELECT 1 FROM tablewright.fields WHERE type = 'link' AND options->>'junction' = $2`,
    [oid, name],
  );
  if (tracked.length) throw drifted(`table ${schema}.${name}`);
  const [rel] = await readCatalog(c.tx, [schema], [oid]);
  if (!rel) throw drifted(`table ${schema}.${name}`);
  const { rows: tables } = await c.tx.query<TableMeta & { id_attnum: number | null }>(
    /* sql */ `SELECT t.*,
        (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = t.table_oid AND a.attname = 'id' AND NOT a.attisdropped)::int AS id_attnum
       FROM tablewright.tables t WHERE t.trashed_at IS NULL AND t.table_oid IS NOT NULL`,
  );
  const byOid = new Map(tables.map((t) => [Number(t.table_oid), t]));
  const shape = junctionShape(rel, byOid, (o) => byOid.get(o)?.id_attnum ?? undefined);
  if (!shape) throw drifted(`table ${schema}.${name}`);
  if (shape.refused) throw conflict('not_adoptable', `${schema}.${name} cannot be adopted as a many-to-many link: ${shape.refused}`);
  return { oid, shape, comment: rel.comment };
}

async function freeFieldName(c: Change, tableId: number, wanted: string, given: boolean, field: string): Promise<{ name: string; column: string; position: number }> {
  const { rows } = await c.tx.query<{ name: string; column_name: string }>(`SELECT lower(name) AS name, column_name FROM tablewright.fields WHERE table_id = $1 AND trashed_at IS NULL`, [tableId]);
  const names = new Set(rows.map((r) => r.name));
  let name = wanted;
  if (names.has(name.toLowerCase())) {
    if (given) throw conflict('name_taken', `that table already has a field named "${name}"`, field);
    for (let i = 2; names.has(name.toLowerCase()); i++) name = `${wanted} (${i})`;
  }
  const { rows: cols } = await c.tx.query<{ name: string }>(
    `SELECT a.attname::text AS name FROM pg_attribute a JOIN tablewright.tables t ON t.table_oid = a.attrelid WHERE t.id = $1 AND a.attnum > 0 AND NOT a.attisdropped`,
    [tableId],
  );
  const taken = new Set([...rows.map((r) => r.column_name), ...cols.map((r) => r.name)]);
  const column = await derivePhysicalName(c.tx, name, 'links', (n) => taken.has(n), 'column');
  const { rows: pos } = await c.tx.query<{ next: number }>(`SELECT coalesce(max(position), 0) + 1 AS next FROM tablewright.fields WHERE table_id = $1`, [tableId]);
  return { name, column, position: pos[0]!.next };
}

export async function adoptJunction(deps: ReconcileDeps, actor: Actor, item: DriftItem, req: AdoptLinkRequest): Promise<Record<string, unknown>> {
  const seen = item.actual?.junction as { self: { table_id: number }; other: { table_id: number } } | undefined;
  if (!seen) throw conflict('not_adoptable', 'this table is not a junction of two managed tables');
  const schema = deps.config.dataSchema;
  const name = item.table!.table_name;
  const wantedName = req.name !== undefined && req.name !== '' ? validateDisplayName(req.name, 'name') : undefined;
  const reverseName = req.reverse_name !== undefined && req.reverse_name !== '' ? validateDisplayName(req.reverse_name, 'reverse_name') : undefined;
  const addUnique = flag(req.add_unique, 'add_unique') ?? false;
  return schemaChange(deps, actor, 'adopt_link', seen.self.table_id, async (c) => {
    if (seen.other.table_id !== seen.self.table_id) await c.lockTable(seen.other.table_id);
    const { oid, shape, comment } = await shapeNow(c, schema, name);
    if (shape.self.table_id !== seen.self.table_id || shape.other.table_id !== seen.other.table_id) throw drifted(`table ${schema}.${name}`);
    const own = await relationOwnership(c.tx, oid);
    if (own && !own.mayAlter) throw conflict('insufficient_privilege', notOwnerMessage(String(qualified(schema, name)), own.owner, own.role, name));
    const j = qualified(schema, name);
    const a = ident(shape.self.column);
    const b = ident(shape.other.column);
    if (!shape.pair && !addUnique) {
      throw unprocessable('unique_pair_required', `${schema}.${name} has no unique pair over (${shape.self.column}, ${shape.other.column}); the console writes pairs with ON CONFLICT DO NOTHING, which needs one: send add_unique=1 to add it`, 'add_unique');
    }
    const { rows: counts } = await c.tx.query<{ pairs: number; empty: number; repeated: number }>(
      /* sql */ `SELECT count(*)::int AS pairs, count(*) FILTER (WHERE ${a} IS NULL OR ${b} IS NULL)::int AS empty,
          (SELECT count(*)::int FROM (SELECT 1 FROM ${j} WHERE ${a} IS NOT NULL AND ${b} IS NOT NULL GROUP BY ${a}, ${b} HAVING count(*) > 1) d) AS repeated
         FROM ${j}`,
    );
    const { pairs, empty, repeated } = counts[0]!;
    if (empty > 0 && !(shape.self.not_null && shape.other.not_null)) {
      throw conflict('empty_pairs', `${empty} rows of ${schema}.${name} have an empty ${shape.self.column} or ${shape.other.column}; a pair names two rows: delete or fill them first`);
    }
    if (!shape.pair && repeated > 0) {
      throw conflict('duplicate_pairs', `${repeated} pairs of ${schema}.${name} appear more than once, so the unique pair cannot be added; delete the repeats first`, undefined, { repeated });
    }
    const src = (await c.tx.query<TableMeta>(`SELECT * FROM tablewright.tables WHERE id = $1`, [shape.self.table_id])).rows[0]!;
    const tgt = (await c.tx.query<TableMeta>(`SELECT * FROM tablewright.tables WHERE id = $1`, [shape.other.table_id])).rows[0]!;
    const free = await freeFieldName(c, src.id, wantedName ?? tgt.name, wantedName !== undefined, 'name');
    c.reached('validate');

    const fwd = (
      await c.tx.query<{ id: number }>(
        /* sql */ `INSERT INTO tablewright.fields (table_id, name, column_name, type, options, position, indexed) VALUES ($1, $2, $3, 'link', $4, $5, true) RETURNING id`,
        [src.id, free.name, free.column, { table_id: tgt.id, multiple: true }, free.position],
      )
    ).rows[0]!.id;
    const rev = await linkSides(c, src, tgt, fwd, { junction: name, self_column: shape.self.column, other_column: shape.other.column }, reverseName, '');

    const done: string[] = [];
    if (!(shape.self.not_null && shape.other.not_null)) {
      await c.ddl(`ALTER TABLE ${j} ALTER COLUMN ${a} SET NOT NULL, ALTER COLUMN ${b} SET NOT NULL`);
      done.push('set NOT NULL on both columns');
    }
    // Foreign keys: ours by name, and cascading (a row deleted takes its pairs with it).
    for (const [side, id] of [[shape.self, fwd], [shape.other, rev]] as const) {
      const fk = ident(`fk_m2m_f${id}`);
      const col = ident(side.column);
      const target = side === shape.self ? src : tgt;
      if (side.cascade) await c.ddl(`ALTER TABLE ${j} RENAME CONSTRAINT ${identFromCatalog(side.fk)} TO ${fk}`);
      else {
        await c.ddl(`ALTER TABLE ${j} DROP CONSTRAINT ${identFromCatalog(side.fk)}, ADD CONSTRAINT ${fk} FOREIGN KEY (${col}) REFERENCES ${qualified(schema, target.table_name)} (id) ON DELETE CASCADE`);
        done.push(`made ${side.fk} ON DELETE CASCADE (as ${`fk_m2m_f${id}`})`);
      }
    }
    const uq = ident(`uq_m2m_f${fwd}`);
    let leading = shape.pair?.leading;
    if (!shape.pair) {
      await c.ddl(`ALTER TABLE ${j} ADD CONSTRAINT ${uq} UNIQUE (${a}, ${b})`);
      done.push(`added the unique pair uq_m2m_f${fwd}`);
      leading = shape.self.attnum;
    } else if (shape.pair.kind === 'unique index') await c.ddl(`ALTER INDEX ${qualified(schema, shape.pair.name)} RENAME TO ${uq}`);
    else await c.ddl(`ALTER TABLE ${j} RENAME CONSTRAINT ${identFromCatalog(shape.pair.name)} TO ${uq}`);
    // Each side reads its pairs by its own column: an index leading with it, unless one is there.
    const { rows: leads } = await c.tx.query<{ lead: number }>(`SELECT DISTINCT indkey[0]::int AS lead FROM pg_index WHERE indrelid = $1 AND indpred IS NULL`, [oid]);
    const led = new Set([...leads.map((r) => r.lead), leading]);
    for (const [side, id, other] of [[shape.self, fwd, b], [shape.other, rev, a]] as const) {
      if (led.has(side.attnum)) continue;
      await c.ddl(`CREATE INDEX ${ident(`ix_m2m_f${id}`)} ON ${j} (${ident(side.column)}, ${other})`);
      done.push(`indexed ${side.column}`);
    }
    // A DBA's own comment is kept.
    if (comment === null || parseTableComment(comment)) await c.ddl(`COMMENT ON TABLE ${j} IS ${literal(junctionComment({ id: fwd }, { id: rev }, src, tgt))}`);
    await c.ddl(`SELECT tablewright.sync_link_triggers(${literal(String(j))}::regclass)`);
    c.reached('ddl');
    await c.tx.query(`DELETE FROM tablewright.drift_ignored WHERE item_id = $1`, [item.id]);
    c.alsoTables.push(tgt.id);
    c.reached('metadata');
    const field = await getField(c.tx, src.id, fwd);
    const reverse = await getField(c.tx, tgt.id, rev);
    const result = {
      field: { id: field.id, table_id: src.id, name: field.name, column: field.column_name },
      reverse: { id: reverse.id, table_id: tgt.id, name: reverse.name, column: reverse.column_name },
      junction: `${schema}.${name}`,
      pairs,
      changed: done,
      kept_columns: shape.extra,
    };
    return { result, tableId: src.id, fieldId: fwd, details: { adopted: `${schema}.${name}`, pairs, changed: done, kept_columns: shape.extra } };
  });
}
