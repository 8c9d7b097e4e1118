// A plan for every schema change, before it runs: its steps, the lock each step takes,
// what that lock blocks, its class and an estimate from the table's size.
//
// Classes (how long the step holds its lock, as other sessions feel it):
//   instant  catalog only (a rename, a default, dropping a constraint)
//   brief    a lock held for a catalog change, milliseconds once granted
//   scan     reads every row (a CHECK, a NOT NULL, an index build)
//   rewrite  writes every row (a type change)
// A scan or rewrite on the online path holds a lock that blocks neither reads nor writes
// (SHARE UPDATE EXCLUSIVE, or row locks batch by batch): `blocks` says so per step.
//
// The estimates are per-row costs measured on this daemon (README, "Online schema
// changes"), scaled by pg_class.reltuples; they are for a person deciding, not a promise.
import type { Queryable } from '../db/pool.js';

export type PlanClass = 'instant' | 'brief' | 'scan' | 'rewrite';
export type Blocks = 'nothing' | 'writes' | 'reads and writes';

export interface PlanStep {
  sql: string;
  lock: string;
  class: PlanClass;
  blocks: Blocks;
  estimate_ms: number;
}

export interface Plan {
  online: boolean;
  /** why online or not (threshold, online=1|0, not an online operation) */
  reason: string;
  table: { rows: number; bytes: number };
  steps: PlanStep[];
  estimate_ms: number;
  /** how long other sessions' reads or writes of the table may wait, in all */
  blocking_ms: number;
  /** one sentence for the console */
  summary: string;
}

export interface TableSize {
  rows: number;
  bytes: number;
}

/** Microseconds per row, per kind of work (README: "what each change costs"). */
export const COST_US_PER_ROW = {
  scan: 0.6,
  index: 1.5,
  unique: 3,
  rewrite: 7,
  /** the online copy: batches by id through the sync trigger, about twice a rewrite */
  backfill: 14,
  /** a foreign key's validation: one lookup in the target's primary key per row */
  fk: 2,
} as const;

/** A brief step's own time once its lock is granted. */
const BRIEF_MS = 5;

const LOCK_BLOCKS: Record<string, Blocks> = {
  'ACCESS EXCLUSIVE': 'reads and writes',
  EXCLUSIVE: 'writes',
  'SHARE ROW EXCLUSIVE': 'writes',
  SHARE: 'writes',
  'SHARE UPDATE EXCLUSIVE': 'nothing',
  'ROW EXCLUSIVE': 'nothing',
  'ACCESS SHARE': 'nothing',
  none: 'nothing',
};

export async function tableSize(db: Queryable, tableOid: number | string | null): Promise<TableSize> {
  if (tableOid === null) return { rows: 0, bytes: 0 };
  const { rows } = await db.query<{ rows: string; bytes: string }>(
    /* sql */ `SELECT greatest(c.reltuples, 0)::int8 AS rows, pg_total_relation_size(c.oid)::int8 AS bytes FROM pg_class c WHERE c.oid = $1`,
    [tableOid],
  );
  return { rows: Number(rows[0]?.rows ?? 0), bytes: Number(rows[0]?.bytes ?? 0) };
}

/** Online or one transaction: online=1|0 when given, else past the job threshold. */
export function chooseOnline(rows: number, threshold: number, requested: boolean | undefined): { online: boolean; reason: string } {
  if (requested === true) return { online: true, reason: 'online=1' };
  if (requested === false) return { online: false, reason: 'online=0' };
  return rows > threshold
    ? { online: true, reason: `about ${rows} rows, past JOB_THRESHOLD_ROWS (${threshold})` }
    : { online: false, reason: `about ${rows} rows, within JOB_THRESHOLD_ROWS (${threshold})` };
}

/** A step of the plan: its estimate from its class and the per-row cost of its work. */
export function step(sql: string, lock: string, cls: PlanClass, size: TableSize, work?: keyof typeof COST_US_PER_ROW): PlanStep {
  const perRow = work ? COST_US_PER_ROW[work] : cls === 'scan' ? COST_US_PER_ROW.scan : cls === 'rewrite' ? COST_US_PER_ROW.rewrite : 0;
  const estimate = cls === 'instant' ? 1 : cls === 'brief' ? BRIEF_MS : Math.max(BRIEF_MS, Math.round((size.rows * perRow) / 1000));
  return { sql, lock, class: cls, blocks: LOCK_BLOCKS[lock] ?? 'reads and writes', estimate_ms: estimate };
}

export function makePlan(steps: PlanStep[], size: TableSize, online: { online: boolean; reason: string }): Plan {
  const estimate = steps.reduce((n, s) => n + s.estimate_ms, 0);
  const blocking = steps.filter((s) => s.blocks !== 'nothing').reduce((n, s) => n + s.estimate_ms, 0);
  return { online: online.online, reason: online.reason, table: size, steps, estimate_ms: estimate, blocking_ms: blocking, summary: summarise(steps, size, estimate) };
}

const CLASS_ORDER: PlanClass[] = ['instant', 'brief', 'scan', 'rewrite'];

/** "rewrites 1.2 GB, about 40 s; the table keeps serving" / "blocks writes for about 1 s". */
export function summarise(steps: PlanStep[], size: TableSize, estimateMs: number): string {
  if (steps.length === 0) return 'nothing to do';
  const worst = steps.reduce((w, s) => (CLASS_ORDER.indexOf(s.class) > CLASS_ORDER.indexOf(w.class) ? s : w), steps[0]!);
  const work = worst.class === 'rewrite' ? `rewrites ${bytes(size.bytes)}` : worst.class === 'scan' ? `reads ${bytes(size.bytes)}` : 'changes the catalog only';
  const blocking = steps.filter((s) => s.blocks !== 'nothing' && (s.class === 'scan' || s.class === 'rewrite'));
  if (blocking.length === 0) return `${work}, about ${duration(estimateMs)}; the table keeps serving`;
  const readsToo = blocking.some((s) => s.blocks === 'reads and writes');
  const ms = blocking.reduce((n, s) => n + s.estimate_ms, 0);
  return `${work}, about ${duration(estimateMs)}; blocks ${readsToo ? 'reads and writes' : 'writes'} for about ${duration(ms)}`;
}

function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(n / 1024))} kB`;
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(1, Math.round(ms))} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/**
 * The plan of a change known by its statements (a dry run's, server/schema/change.ts):
 * each statement's lock and class read from its shape. On a table the change creates,
 * nothing else can be waiting: its statements block nothing. A link's FOREIGN KEY also
 * locks the linked table (SHARE ROW EXCLUSIVE: its writes wait, briefly).
 */
export function planFromStatements(statements: string[], size: TableSize, opts: { newTable: boolean }): Plan {
  const steps = statements.map((sql): PlanStep => {
    const s = sql.trimStart();
    const own = (lock: string, cls: PlanClass, blocks: Blocks): PlanStep => ({ sql, lock, class: cls, blocks: opts.newTable ? 'nothing' : blocks, estimate_ms: cls === 'instant' ? 1 : BRIEF_MS });
    if (/REFERENCES/i.test(s) && /FOREIGN KEY|REFERENCES/i.test(s)) return { sql, lock: 'SHARE ROW EXCLUSIVE (the linked table)', class: 'brief', blocks: 'writes', estimate_ms: BRIEF_MS };
    if (/^COMMENT ON/i.test(s)) return own('SHARE UPDATE EXCLUSIVE', 'instant', 'nothing');
    if (/^CREATE TABLE/i.test(s)) return own('ACCESS EXCLUSIVE (a new table)', 'instant', 'nothing');
    if (/^(CREATE OR REPLACE FUNCTION|DROP FUNCTION|ALTER FUNCTION)/i.test(s)) return own('none', 'instant', 'nothing');
    if (/^(CREATE|DROP) TRIGGER/i.test(s)) return own('SHARE ROW EXCLUSIVE', 'brief', 'writes');
    if (/^CREATE (UNIQUE )?INDEX/i.test(s)) return own('SHARE', opts.newTable ? 'instant' : 'scan', 'writes');
    // ALTER TABLE ... RENAME / ADD CONSTRAINT / anything else: the strongest lock, for a catalog change
    return own('ACCESS EXCLUSIVE', opts.newTable || /\bRENAME\b/i.test(s) ? 'instant' : 'brief', 'reads and writes');
  });
  return makePlan(steps, size, { online: false, reason: opts.newTable ? 'a new table: one transaction, nothing else can be waiting for it' : 'catalog changes only: one transaction' });
}
