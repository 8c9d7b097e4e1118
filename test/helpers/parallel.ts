// Parallel plans on small tables: what a table of a few hundred thousand rows gets by
// itself. Set on the database, so every connection the app opens afterwards plans so.
import { expect } from 'chai';
import pg from 'pg';
import { ident } from '../../server/db/ident.js';
import type { TestDatabase } from './db.js';
import type { Sql } from './sql.js';

/** Call before the app starts: connections opened earlier keep their settings. */
export async function forceParallelPlans(db: TestDatabase): Promise<void> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    for (const [name, value] of [
      ['parallel_setup_cost', '0'],
      ['parallel_tuple_cost', '0'],
      ['min_parallel_table_scan_size', '0'],
      ['max_parallel_workers_per_gather', '2'],
    ]) {
      await client.query(`ALTER DATABASE ${ident(db.name)} SET ${name} = ${value}`);
    }
  } finally {
    await client.end();
  }
}

/** Asserts that PostgreSQL plans `query` with parallel workers (a Gather node). */
export async function expectParallelPlan(sql: Sql, query: string): Promise<void> {
  const plan = (await sql.rows<{ 'QUERY PLAN': string }>(`EXPLAIN ${query}`)).map((r) => r['QUERY PLAN']).join('\n');
  expect(plan, plan).to.match(/Gather/);
}
