// What a listing reads through a link in the same query: a many-to-many field's linked
// rows, and the lookups and rollups over any link. Each link field that needs it gets one
// LEFT JOIN LATERAL, computing every such value over that link in one pass:
//
//   LEFT JOIN LATERAL (
//     SELECT coalesce(jsonb_agg(jsonb_build_object('id', o.id, 'label', o."name") ORDER BY o.id), '[]') AS links,
//            <one aggregate per lookup or rollup over this link> AS v<field id>, ...
//       FROM data."orders_products" j JOIN data."products" o ON o.id = j."products_id"
//      WHERE j."orders_id" = t.id                       -- one-to-many: FROM data."products" o WHERE o.id = t."product"
//   ) AS a12 ON true
//
// So a page of rows costs one scan of the linked rows per link (an index scan of the
// junction's pair key and of the target's primary key, per row of the page), however many
// lookups and rollups read it: never one query per row.
import { ident, qualified } from '../db/ident.js';
import type { Queryable } from '../db/pool.js';
import { getLiveTable, getTable, listFields, type FieldCore, type FieldMeta, type TableMeta } from '../schema/metadata.js';
import { isManyLink } from '../schema/m2m.js';
import { checkComputedSource } from '../schema/computed_fields.js';
import { NUMERIC_TYPES, type RollupFn } from '../fields/computed.js';
import { fieldType } from '../fields/registry.js';
import { lit } from '../fields/common.js';
import type { SelectOpts } from '../fields/single_select.js';

const SELECT_TYPES = new Set(['single_select', 'multiple_select']);

/** SQL: a multiple_select value's labels as text[], in the options' order (ids of no option left out). */
function optionLabelsArray(col: string, opts: SelectOpts): string {
  if (!opts.choices.length) return 'ARRAY[]::text[]';
  return `array_remove(ARRAY[${opts.choices.map((c) => `CASE WHEN ${Number(c.id)} = ANY(${col}) THEN ${lit(c.label)} END`).join(', ')}]::text[], NULL)`;
}

export interface LateralSpec {
  alias: string;
  /** FROM ... WHERE ... over the linked rows, as `o` */
  source: string;
  /** the select list of the lateral subquery: name -> expression */
  outputs: Map<string, string>;
  target: TableMeta;
  /** the target's live fields (lookups read them) */
  targetFields: FieldMeta[];
  labelExpr: string;
}

/** Linked row alias inside a lateral subquery. */
export const LINKED = 'o';

export class Laterals {
  readonly specs = new Map<number, LateralSpec | null>();
  constructor(
    private readonly db: Queryable,
    private readonly dataSchema: string,
    private readonly dependsOn: Map<number, number>,
    private readonly rowAlias: string,
  ) {}

  /**
   * The lateral of a link field (made on first use), or null with the reason when the
   * link cannot be read now: its target or its junction is gone (the values read empty).
   */
  async of(link: FieldCore): Promise<{ spec: LateralSpec } | { broken: string }> {
    if (link.type !== 'link') return { broken: 'its link field is not a link' };
    if (link.trashed_at) return { broken: `its link "${link.name}" is in the trash` };
    const cached = this.specs.get(link.id);
    if (cached) return { spec: cached };
    const target = await getLiveTable(this.db, link.options.table_id).catch(() => undefined);
    if (!target) {
      // its restore (a newer version) must evict the models reading through it
      const trashed = await getTable(this.db, link.options.table_id).catch(() => undefined);
      if (trashed) this.dependsOn.set(trashed.id, trashed.version);
      return { broken: `the linked table ${trashed ? `"${trashed.name}" is in the trash` : 'is gone'}` };
    }
    this.dependsOn.set(target.id, target.version);
    const targetRelation = String(qualified(this.dataSchema, target.table_name));
    const targetFields = await listFields(this.db, target.id);
    const label = targetFields.find((f) => f.type === 'text' || f.type === 'long_text' || f.type === 'email');
    const labelExpr = label ? `${LINKED}.${ident(label.column_name)}` : 'NULL::text';
    let source: string;
    if (isManyLink(link)) {
      const junction = String(qualified(this.dataSchema, link.options.junction));
      const { rows } = await this.db.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [junction]);
      if (!rows[0]!.ok) return { broken: `its junction table ${link.options.junction} is not in the database` };
      source = `${junction} j JOIN ${targetRelation} ${LINKED} ON ${LINKED}.id = j.${ident(link.options.other_column)} WHERE j.${ident(link.options.self_column)} = ${this.rowAlias}.id`;
    } else {
      source = `${targetRelation} ${LINKED} WHERE ${LINKED}.id = ${this.rowAlias}.${ident(link.column_name)}`;
    }
    const spec: LateralSpec = { alias: `a${link.id}`, source, outputs: new Map(), target, targetFields, labelExpr };
    this.specs.set(link.id, spec);
    return { spec };
  }

  /** Adds an output to a link's lateral; answers the expression that reads it. */
  output(spec: LateralSpec, name: string, expr: string): string {
    spec.outputs.set(name, expr);
    return `${spec.alias}.${ident(name)}`;
  }

  /** The LEFT JOIN LATERALs, in the order their links were first used. */
  joins(): string[] {
    const out: string[] = [];
    for (const spec of this.specs.values()) {
      if (!spec || spec.outputs.size === 0) continue;
      const list = [...spec.outputs].map(([name, expr]) => `${expr} AS ${ident(name)}`).join(', ');
      out.push(`LEFT JOIN LATERAL (SELECT ${list} FROM ${spec.source}) AS ${spec.alias} ON true`);
    }
    return out;
  }
}

/** The linked rows of a many-to-many field, as [{id,label}] ordered by id. */
export const linksAgg = (spec: LateralSpec) =>
  `coalesce(jsonb_agg(jsonb_build_object('id', ${LINKED}.id, 'label', ${spec.labelExpr}) ORDER BY ${LINKED}.id), '[]'::jsonb)`;

/**
 * A lookup's or rollup's expressions over its link's lateral: `ref` for filters and sorts
 * (the aggregate's own type), `select` for the row (exact text for numbers).
 */
export async function computedSql(
  laterals: Laterals,
  tableFields: FieldCore[],
  meta: FieldCore,
): Promise<{ ref: string; select: string; rollup?: { numeric: boolean } } | { broken: string }> {
  const opts = meta.options as { link_field_id: number; field_id?: number; fn?: RollupFn };
  const link = tableFields.find((f) => f.id === opts.link_field_id);
  if (!link) return { broken: 'its link field is in the trash or gone' };
  const l = await laterals.of(link);
  if ('broken' in l) return l;
  const target = opts.field_id === undefined ? undefined : l.spec.targetFields.find((f) => f.id === opts.field_id);
  const problem = checkComputedSource(link, target, opts, meta.type as 'lookup' | 'rollup');
  if (problem) return { broken: `${problem.field}: ${problem.message}` };
  const col = target ? `${LINKED}.${ident(target.column_name)}` : `${LINKED}.id`;
  const name = `v${meta.id}`;
  if (meta.type === 'lookup') {
    const t = fieldType(target!.type);
    if (target!.type === 'multiple_select') {
      // each linked row's labels in the options' order, flattened into one list (lax $[*][*])
      const labels = optionLabelsArray(col, target!.options as SelectOpts);
      const ref = laterals.output(l.spec, name, `coalesce(jsonb_path_query_array(jsonb_agg(to_jsonb(${labels}) ORDER BY ${LINKED}.id) FILTER (WHERE ${col} IS NOT NULL), '$[*][*]'), '[]'::jsonb)`);
      return { ref, select: ref };
    }
    // each value as the API writes it: a select's label (an option gone: left out), exact
    // text for numbers (selectSql), text as is
    const value = target!.type === 'single_select' ? t.toText(col, target!.options) : t.selectSql ? t.selectSql(col, target!.options) : col;
    const ref = laterals.output(l.spec, name, `coalesce(jsonb_agg(to_jsonb(${value}) ORDER BY ${LINKED}.id) FILTER (WHERE ${value} IS NOT NULL), '[]'::jsonb)`);
    return { ref, select: ref };
  }
  const numeric = target ? NUMERIC_TYPES.has(target.type) : true;
  // a select's values concatenate as their labels, never their option ids
  const text = !target ? `${LINKED}.id::text` : SELECT_TYPES.has(target.type) ? fieldType(target.type).toText(col, target.options) : `(${col})::text`;
  const agg: Record<RollupFn, string> = {
    count: `count(${col})`,
    sum: `coalesce(sum(${col}), ${target?.type === 'duration' ? "'0'::interval" : '0'})`,
    avg: `avg(${col})`,
    min: `min(${col})`,
    max: `max(${col})`,
    concat: `string_agg(${text}, ', ' ORDER BY ${LINKED}.id)`,
  };
  const fn = opts.fn ?? 'count';
  const ref = laterals.output(l.spec, name, agg[fn]);
  const isNumber = fn === 'count' || (numeric && fn !== 'concat');
  // timestamps as the API writes them (UTC ISO); numbers and the rest as PostgreSQL's text
  const select = target && fn !== 'concat' && fn !== 'count' && target.type === 'datetime' ? `to_char(${ref} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` : `(${ref})::text`;
  return { ref, select, rollup: { numeric: isNumber } };
}
