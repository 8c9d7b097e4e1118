// The row API's SQL, built once per model and sent as named prepared statements: the
// text of a create (per set of columns) or a listing (per filter, sort and page shape) is
// kept on the model, and PostgreSQL parses and plans it once per connection instead of on
// every request (bench http: a 50-field insert planned each time cost a third of the
// database's time). The name is a hash of the table, its version and the text: the same
// statement gets the same name in every compile of the model (a cache flush or TTL does
// not leave a second copy on each connection), and a schema change, which bumps the
// version, gets new names, never a prepared statement whose result type has changed.
//
// Behind a transaction pooler no name is sent (db/pool.ts preparedName): the statement is
// unnamed, as before.
import crypto from 'node:crypto';
import type pg from 'pg';
import type { Queryable } from '../db/pool.js';
import { preparedName } from '../db/pool.js';
import type { Model, ModelStatement } from './compile.js';

/**
 * A table's statement generation: bumped when PostgreSQL says a prepared statement no
 * longer fits the table (a type changed in psql without a version bump: "cached plan must
 * not change result type", which a connection repeats for as long as it keeps the
 * statement). The retry and every later request then prepare under new names, so the
 * table keeps serving as an unnamed statement would, instead of answering 409 until every
 * pooled connection has closed.
 */
const generations = new Map<number, number>();

export function renamePreparedStatements(tableId: number): void {
  generations.set(tableId, (generations.get(tableId) ?? 0) + 1);
}

/** Statements kept per model; past this (a client sending ever new filter shapes) the rest go unnamed. */
export const MAX_STATEMENTS_PER_MODEL = 200;

/** The model's statement under `key`, built by `build` the first time. */
export function modelStatement(model: Model, key: string, build: () => string): ModelStatement {
  const generation = generations.get(model.tableId) ?? 0;
  const cached = model.statements.get(key);
  if (cached && cached.generation === generation) return cached;
  const text = build();
  const name = `tw_${crypto.createHash('sha1').update(`${model.tableId}:${model.version}:${generation}\n${text}`).digest('base64url').slice(0, 27)}`;
  const statement = { text, name, generation };
  if (model.statements.size < MAX_STATEMENTS_PER_MODEL) model.statements.set(key, statement);
  return statement;
}

/** Runs a model's statement on `db`: prepared under its name when `db` allows that. */
export function queryStatement<R extends pg.QueryResultRow>(db: Queryable, s: ModelStatement, values: unknown[]): Promise<pg.QueryResult<R>> {
  const name = preparedName(db, s.name);
  return (db.query as (config: pg.QueryConfig) => Promise<pg.QueryResult<R>>)(name ? { name, text: s.text, values } : { text: s.text, values });
}
