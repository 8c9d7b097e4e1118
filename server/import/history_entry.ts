// The import's one row-history entry (op 'import'): how many rows, and their ids as ranges.
import type pg from 'pg';
import type { Model } from '../model/compile.js';
import type { CopyImportOptions } from './engine.js';

/** The id sequence before the import: its last value ('0' when never used), and whether it hands out one value at a time (CACHE 1). */
export interface SequenceBefore {
  after: string;
  cacheOne: boolean;
}

/**
 * The ids an import got from the sequence, without reading the rows, when nothing else
 * took one meanwhile: a sequence of CACHE 1 hands out its values in order, each once, so
 * if it moved by exactly the rows imported, they are the values between. Anything else
 * (another session's insert, a rolled-back batch in skip mode, ids from the file, a
 * sequence that caches values per session, one that starts elsewhere than 1) and null:
 * the rows are read.
 */
async function idsFromSequence(tx: pg.PoolClient, relation: string, seq: SequenceBefore, imported: number): Promise<number[][] | null> {
  if (!seq.cacheOne) return null;
  const { rows } = await tx.query<{ last: string | null }>(`SELECT pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass)::text AS last`, [relation]);
  const last = rows[0]?.last;
  if (last == null || BigInt(last) - BigInt(seq.after) !== BigInt(imported)) return null;
  const lo = Number(BigInt(seq.after) + 1n);
  const hi = Number(last);
  return Number.isSafeInteger(lo) && Number.isSafeInteger(hi) ? [[lo, hi]] : null;
}

/**
 * The ids of the rows this transaction wrote, read from the rows, as ranges. On a sequence
 * of CACHE 1 every id it handed this transaction is past its value before the import
 * (`seq.after`), so the id index bounds the read; a sequence that caches values per
 * session may hand out values from before, so the whole table is read. In stop mode the
 * rows' xmin is the transaction's own id. In skip mode each batch ran under a savepoint,
 * so their xmin is a subtransaction's: the rows whose xmin is still in progress are this
 * transaction's (another's rows are visible only once committed).
 */
async function idsFromRows(tx: pg.PoolClient, target: string, seq: SequenceBefore, subtransactions: boolean): Promise<number[][]> {
  const bound = seq.cacheOne ? 't.id > $1::bigint' : '$1::bigint IS NOT NULL';
  // d: how far the row's 32-bit xmin is past this transaction's id (modulo 2^32); under
  // 2^31 it is later than this transaction began, and x is it as a full id. Past the
  // newest completed transaction (me.next) it can only be this transaction's (another's
  // is visible only once completed); before it, pg_xact_status tells (never asked about
  // an id not yet given, which it refuses).
  const mine = subtransactions
    ? /* sql */ `x.d < 2147483648 AND (x.id >= me.next OR pg_xact_status((CASE WHEN x.id < me.next THEN x.id END)::text::xid8) = 'in progress')`
    : `t.xmin = pg_current_xact_id()::xid`;
  const xid = subtransactions
    ? /* sql */ `CROSS JOIN LATERAL (SELECT (t.xmin::text::bigint - (me.top & 4294967295)) & 4294967295 AS d) xd
          CROSS JOIN LATERAL (SELECT xd.d, me.top + xd.d AS id) x`
    : '';
  const { rows } = await tx.query<{ lo: string; hi: string }>(
    `SELECT min(id)::text AS lo, max(id)::text AS hi FROM (
        SELECT t.id, t.id - row_number() OVER (ORDER BY t.id) AS g
          FROM ${target} t
          CROSS JOIN (SELECT pg_current_xact_id()::text::bigint AS top, pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next) me
          ${xid}
         WHERE ${bound} AND ${mine}
      ) s GROUP BY g ORDER BY min(id)`,
    [seq.after],
  );
  return rows.map((r) => [Number(r.lo), Number(r.hi)]);
}

/** The history's one entry for the import: the rows and the ids they got, as ranges. */
export async function recordImport(tx: pg.PoolClient, model: Model, target: string, seq: SequenceBefore, imported: number, opts: CopyImportOptions, known?: number[][]): Promise<void> {
  const ids = known ?? (await idsFromSequence(tx, model.relation, seq, imported)) ?? (await idsFromRows(tx, target, seq, opts.onError === 'skip'));
  await tx.query(
    /* sql */ `INSERT INTO tablewright.row_history (table_id, row_id, op, actor, application, request_id, reason, new_values)
      VALUES ($1, NULL, 'import', $2, nullif(current_setting('application_name'), ''), $3, 'import', $4)`,
    [model.tableId, opts.actor, opts.request ?? null, JSON.stringify({ rows: imported, ids })],
  );
}
