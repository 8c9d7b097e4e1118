// The text of each mapped column's default, for a COPY on a server before PostgreSQL 16
// (which has no COPY ... DEFAULT): an empty cell of a column with a default gets that text.
import type pg from 'pg';
import { identFromCatalog } from '../db/ident.js';
import type { Model, ModelField } from '../model/compile.js';

/**
 * The text of each mapped column's default, for servers before 16 (no COPY DEFAULT),
 * evaluated once for the whole import (as a multi-row INSERT's DEFAULT would be for a
 * stable one such as now()). The catalog's expression is never put into a query's text:
 * PostgreSQL evaluates it itself, by an INSERT into a temporary copy of the table's columns
 * and defaults (LIKE ... INCLUDING DEFAULTS) that names every other column with NULL (so
 * that only the mapped columns' defaults run) and is dropped at once.
 */
export async function defaultTexts(tx: pg.PoolClient, model: Model, fields: ModelField[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  const { rows } = await tx.query<{ attname: string }>(
    `SELECT a.attname FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attname = ANY($2) AND a.attgenerated = ''`,
    [model.relation, fields.map((f) => f.column)],
  );
  if (!rows.length) return out;
  const wanted = new Set(rows.map((r) => r.attname));
  await tx.query(`CREATE TEMP TABLE tw_import_defaults (LIKE ${model.relation} INCLUDING DEFAULTS) ON COMMIT DROP`);
  {
    const { rows: cols } = await tx.query<{ attname: string; notnull: boolean }>(
      `SELECT attname, attnotnull AS notnull FROM pg_attribute WHERE attrelid = 'pg_temp.tw_import_defaults'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    const others = cols.filter((c) => !wanted.has(c.attname)).map((c) => identFromCatalog(c.attname));
    const loose = cols.filter((c) => c.notnull).map((c) => `ALTER COLUMN ${identFromCatalog(c.attname)} DROP NOT NULL`);
    if (loose.length) await tx.query(`ALTER TABLE pg_temp.tw_import_defaults ${loose.join(', ')}`);
    const list = [...wanted].map((c) => `${identFromCatalog(c)}::text AS ${identFromCatalog(c)}`).join(', ');
    const insert = others.length
      ? `INSERT INTO pg_temp.tw_import_defaults (${others.join(', ')}) VALUES (${others.map(() => 'NULL').join(', ')}) RETURNING ${list}`
      : `INSERT INTO pg_temp.tw_import_defaults DEFAULT VALUES RETURNING ${list}`;
    const { rows: got } = await tx.query<Record<string, string | null>>(insert);
    for (const c of wanted) out.set(c, got[0]?.[c] ?? null);
  }
  await tx.query(`DROP TABLE pg_temp.tw_import_defaults`);
  return out;
}
