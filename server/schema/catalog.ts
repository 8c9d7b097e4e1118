// The few catalog look-ups the schema editor needs while it changes things (the full
// snapshot for reconcile lives in server/introspect).
import type { Queryable } from '../db/pool.js';

/** Every relation name in a schema (tables, views, sequences, indexes share one namespace). */
export async function relationNames(db: Queryable, schema: string): Promise<Set<string>> {
  const { rows } = await db.query<{ relname: string }>(
    /* sql */ `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`,
    [schema],
  );
  return new Set(rows.map((r) => r.relname));
}

export async function tableOid(db: Queryable, schema: string, name: string): Promise<number | null> {
  const { rows } = await db.query<{ oid: number | null }>(`SELECT to_regclass(format('%I.%I', $1::text, $2::text))::oid::int8 AS oid`, [schema, name]);
  return rows[0]?.oid ?? null;
}

/** Live column names of a table (not dropped, no system columns). */
export async function columnNames(db: Queryable, oid: number): Promise<Set<string>> {
  const { rows } = await db.query<{ attname: string }>(
    /* sql */ `SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`,
    [oid],
  );
  return new Set(rows.map((r) => r.attname));
}

export async function attnumOf(db: Queryable, oid: number, column: string): Promise<number> {
  const { rows } = await db.query<{ attnum: number }>(
    /* sql */ `SELECT attnum FROM pg_attribute WHERE attrelid = $1 AND attname = $2 AND NOT attisdropped`,
    [oid, column],
  );
  if (!rows[0]) throw new Error(`column ${column} not found in relation ${oid}`);
  return rows[0].attnum;
}

/** Column slots used, dropped ones included: PostgreSQL never reuses them (limit 1600). */
export async function columnSlots(db: Queryable, oid: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT relnatts::int AS n FROM pg_class WHERE oid = $1`, [oid]);
  return rows[0]?.n ?? 0;
}

export const PG_MAX_COLUMNS = 1600;
