// Writing many-to-many links with a row. The list a request sends (ids, labels) is
// resolved and checked against the linked table first (an unknown id or label is a 422
// naming the field; nothing is written); then the junction's pairs are written by
// data-modifying CTEs of the row's own INSERT or UPDATE: one statement, so the row and
// its links commit together or not at all.
import type { Queryable } from '../db/pool.js';
import { ident } from '../db/ident.js';
import { conflict, unprocessable } from '../errors.js';
import { isLinkList, type LinkList } from '../fields/link_list.js';
import type { Model, ModelField } from './compile.js';
import type { Params } from './query.js';

export interface ManyWrite {
  field: ModelField;
  /** the linked rows' ids, as digit strings, deduplicated */
  ids: string[];
}

/** Takes the many-to-many values out of a parsed row (they are no columns). */
export function splitManyValues(model: Model, values: Map<string, unknown>): Array<{ field: ModelField; list: LinkList }> {
  const out: Array<{ field: ModelField; list: LinkList }> = [];
  for (const [column, v] of [...values]) {
    const f = model.byColumn.get(column);
    if (!f || f.many === undefined) continue;
    values.delete(column);
    out.push({ field: f, list: isLinkList(v) ? v : { ids: [], labels: [] } });
  }
  return out;
}

/**
 * Resolves labels to ids and checks every id names a row of the linked table: one query
 * per field. A label names the linked row whose label field equals it exactly; none, or
 * several, is a 422 (send ids then).
 */
export async function resolveManyValues(db: Queryable, lists: Array<{ field: ModelField; list: LinkList }>): Promise<ManyWrite[]> {
  const out: ManyWrite[] = [];
  for (const { field, list } of lists) {
    const m = field.many;
    if (!m) throw conflict('broken_link', `${field.meta.name} cannot be written now: ${field.broken ?? 'its linked table is not available'}`, field.column);
    if (list.ids.length === 0 && list.labels.length === 0) {
      out.push({ field, ids: [] });
      continue;
    }
    const { rows } = await db.query<{ missing: string[] | null; labels: Array<{ label: string; ids: string[] | null }> | null }>(
      /* sql */ `SELECT (SELECT array_agg(x::text ORDER BY k) FROM unnest($1::int8[]) WITH ORDINALITY AS u(x, k) WHERE NOT EXISTS (SELECT 1 FROM ${m.targetRelation} o WHERE o.id = u.x)) AS missing,
        (SELECT json_agg(json_build_object('label', l, 'ids', (SELECT array_agg(o.id::text ORDER BY o.id) FROM (SELECT o.id FROM ${m.targetRelation} o WHERE ${m.labelExpr} = l LIMIT 2) o))) FROM unnest($2::text[]) AS l) AS labels`,
      [list.ids, list.labels],
    );
    const r = rows[0]!;
    if (r.missing?.length) {
      throw unprocessable('invalid_link', `${field.meta.name}: no row with id ${r.missing.slice(0, 5).join(', ')} in the linked table`, field.column, { missing: r.missing.slice(0, 100) });
    }
    const ids = [...list.ids];
    for (const l of r.labels ?? []) {
      if (!l.ids?.length) throw unprocessable('invalid_link', `${field.meta.name}: no row of the linked table is labelled "${l.label.slice(0, 60)}"`, field.column);
      if (l.ids.length > 1) throw unprocessable('ambiguous_link', `${field.meta.name}: several rows of the linked table are labelled "${l.label.slice(0, 60)}"; send their ids`, field.column);
      if (!ids.includes(l.ids[0]!)) ids.push(l.ids[0]!);
    }
    out.push({ field, ids });
  }
  return out;
}

/**
 * CTEs after `t` (the written row) that make each field's pairs exactly `ids`: the pairs
 * no longer listed are deleted, the new ones inserted (a pair already there stays).
 */
export function manyWriteCtes(writes: ManyWrite[], params: Params, mode: 'create' | 'update'): string {
  return writes
    .map((w, i) => {
      const m = w.field.many!;
      const self = ident(m.self);
      const other = ident(m.other);
      const ids = `${params.add(w.ids)}::int8[]`;
      const del = mode === 'update' ? `, "__d${i}" AS (DELETE FROM ${m.junction} j USING t WHERE j.${self} = t.id AND j.${other} <> ALL(${ids}))` : '';
      return `${del}, "__i${i}" AS (INSERT INTO ${m.junction} (${self}, ${other}) SELECT t.id, x FROM t, unnest(${ids}) AS x ON CONFLICT DO NOTHING)`;
    })
    .join('');
}

/** The field a junction's foreign key error is about (fk_m2m_f<id>: the side whose rows it holds). */
export function fieldOfJunctionConstraint(model: Model, constraint: string | undefined): ModelField | undefined {
  const m = constraint ? /^fk_m2m_f(\d+)$/.exec(constraint) : null;
  if (!m) return undefined;
  const id = Number(m[1]);
  return model.fields.find((f) => f.many && (f.meta.options.reverse_field_id === id || f.meta.id === id));
}
