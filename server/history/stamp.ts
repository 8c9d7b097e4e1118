// Who a row write is for, as the history trigger (sql/migrations/020_row_history.sql)
// records it. The daemon stamps every row write with transaction-local settings, inside
// the write statement itself: no extra round trip, and gone with the transaction (a
// pooled connection never carries one request's actor into the next).
import type { Request } from 'express';
import { actorName } from '../auth/caller.js';
import type { Queryable } from '../db/pool.js';

export interface WriteContext {
  /** 'user:ada@example.com', 'token:nightly (#7)', 'system:cleanup' */
  actor: string;
  /** the request id (X-Request-Id): what the console's Undo names an action by */
  request?: string;
  /** 'restore', 'revert', 'undo', 'import': why the daemon wrote, when not a plain edit */
  reason?: string;
}

/** The caller of a request, for the rows it writes. */
export function writeContext(req: Request, reason?: string): WriteContext {
  return { actor: actorName(req.caller), request: req.id === undefined ? undefined : String(req.id), ...(reason ? { reason } : {}) };
}

type Adder = { add(value: unknown): string };

/**
 * An SQL expression that stamps the transaction when it is evaluated: put it in the select
 * list of a write's `WITH t AS (... RETURNING ...) SELECT` (evaluated for every row
 * written, before the statement's AFTER triggers fire). The values are bound parameters.
 */
export function stampSql(params: Adder, w: WriteContext): string {
  const parts = [
    `set_config('tablewright.actor', ${params.add(w.actor)}, true)`,
    `set_config('tablewright.request', ${params.add(w.request ?? '')}, true)`,
  ];
  // Always set, also to '': a transaction that stamped a reason for one statement (an
  // import) must not lend it to the next.
  parts.push(`set_config('tablewright.reason', ${params.add(w.reason ?? '')}, true)`);
  return parts.join(' || ');
}

/** Stamps the transaction `tx` is in, for every write that follows in it (bulk work). */
export async function stampTransaction(tx: Queryable, w: WriteContext): Promise<void> {
  const values: unknown[] = [];
  const sql = stampSql({ add: (v) => (values.push(v), `$${values.length}`) }, w);
  await tx.query(`SELECT ${sql}`, values);
}
