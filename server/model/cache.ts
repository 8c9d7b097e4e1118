// The model cache: compiled models per table id, bounded in count and age (node-cache),
// kept correct across instances by the bus (server/bus):
//   - a schema-change notification with a newer version evicts that table's model, and
//     the models that link to it (its label column is in their SQL);
//   - a flush (listener lost or reconnected, a missed change) drops everything.
// Two guards keep a compile that raced an eviction from storing a stale model: an epoch
// that every flush advances, and the newest version announced per table.
// A full cache degrades to compiling on every request, never to an error.
import NodeCache from 'node-cache';
import type pg from 'pg';
import { schemaDrift } from '../db/pg_errors.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { compileModel, type Model } from './compile.js';
import { renamePreparedStatements } from './statements.js';

export interface ModelCacheOptions {
  pool: pg.Pool;
  dataSchema: string;
  log: Logger;
  /** most models kept (MODEL_CACHE_MAX) */
  max: number;
  /** seconds a model lives without being evicted (MODEL_CACHE_TTL_S) */
  ttlSeconds: number;
}

export interface ModelCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  flushes: number;
  /** compiles whose result could not be kept (cache full, or raced an eviction) */
  uncached: number;
  size: number;
}

export class ModelCache {
  private readonly cache: NodeCache;
  private readonly inflight = new Map<number, Promise<Model>>();
  /** newest version announced per table since the last flush; bounded by the flush */
  private readonly announced = new Map<number, number>();
  private epoch = 0;
  private readonly counters = { hits: 0, misses: 0, evictions: 0, flushes: 0, uncached: 0 };

  constructor(private readonly opts: ModelCacheOptions) {
    this.cache = new NodeCache({
      stdTTL: opts.ttlSeconds,
      checkperiod: Math.max(1, Math.min(60, Math.floor(opts.ttlSeconds / 2))),
      useClones: false, // models hold functions and are immutable
      maxKeys: opts.max,
    });
  }

  /** The model of a live table: cached, or compiled now. */
  async get(tableId: number): Promise<Model> {
    const cached = this.cache.get<Model>(tableId);
    if (cached) {
      this.counters.hits += 1;
      return cached;
    }
    this.counters.misses += 1;
    // One compile per table at a time, however many requests miss together.
    let pending = this.inflight.get(tableId);
    if (!pending) {
      pending = this.compileAndStore(tableId).finally(() => this.inflight.delete(tableId));
      this.inflight.set(tableId, pending);
    }
    return pending;
  }

  private async compileAndStore(tableId: number): Promise<Model> {
    const epoch = this.epoch;
    const model = await compileModel(this.opts.pool, this.opts.dataSchema, tableId);
    const olderThanAnnounced = (id: number, version: number) => version < (this.announced.get(id) ?? 0);
    const stale = olderThanAnnounced(tableId, model.version) || [...model.dependsOn].some(([id, v]) => olderThanAnnounced(id, v));
    if (epoch !== this.epoch || stale) {
      this.counters.uncached += 1;
      return model;
    }
    try {
      this.cache.set(tableId, model);
    } catch (err) {
      if ((err as { name?: string }).name !== 'ECACHEFULL') throw err;
      this.counters.uncached += 1;
    }
    return model;
  }

  /** A schema change of `tableId` reached `version`: drop what is older. */
  schemaChanged(tableId: number, version: number): void {
    this.announced.set(tableId, Math.max(version, this.announced.get(tableId) ?? 0));
    const own = this.cache.get<Model>(tableId);
    if (own && own.version < version) this.evict(tableId, 'newer version');
    for (const key of this.cache.keys()) {
      const m = this.cache.get<Model>(Number(key));
      const seen = m?.dependsOn.get(tableId);
      if (m && seen !== undefined && seen < version) this.evict(m.tableId, 'linked table changed');
    }
  }

  evict(tableId: number, reason: string): void {
    if (this.cache.del(tableId) > 0) {
      this.counters.evictions += 1;
      this.opts.log.debug({ tableId, reason }, 'model evicted');
    }
  }

  /** Everything may be stale (notifications missed): start over. */
  flush(reason: string): void {
    this.epoch += 1;
    this.counters.flushes += 1;
    const size = this.cache.keys().length;
    this.cache.flushAll();
    this.announced.clear();
    this.opts.log.info({ reason, dropped: size }, 'model cache flushed');
  }

  /** One query: has the table's version moved past the model's? */
  async isStale(model: Model): Promise<boolean> {
    const { rows } = await this.opts.pool.query<{ version: number }>(`SELECT version FROM tablewright.tables WHERE id = $1`, [model.tableId]);
    return rows[0] === undefined || rows[0].version !== model.version;
  }

  stats(): ModelCacheStats {
    return { ...this.counters, size: this.cache.keys().length };
  }

  close(): void {
    this.cache.close();
  }
}

/** SQLSTATEs (and one message) that mean "the model is older than the table". */
export function isStaleModelError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '42703' || e?.code === '42P01' || (e?.code === '0A000' && /cached plan must not change result type/.test(e.message ?? ''));
}

/**
 * Runs a row operation with the table's model; when PostgreSQL says the model no longer
 * matches the table (a change this instance has not heard of yet), evicts it, compiles
 * afresh and retries once. When the fresh model fails the same way, the table itself
 * differs from its metadata (a column dropped in psql): 409 schema_drift, never a 500.
 */
export async function withModel<T>(cache: ModelCache, tableId: number, fn: (model: Model) => Promise<T>): Promise<T> {
  const model = await cache.get(tableId);
  try {
    return await fn(model);
  } catch (err) {
    if (isStaleModelError(err)) {
      cache.evict(tableId, 'query failed: stale model');
      renamePreparedStatements(tableId);
    } else if (err instanceof AppError && err.code === 'unknown_field' && (await cache.isStale(model))) {
      // A request names a field this model lacks: one query tells whether the table has
      // changed since (a change whose notification has not arrived yet).
      cache.evict(tableId, 'request named a field the model lacks');
    } else {
      throw err;
    }
    try {
      return await fn(await cache.get(tableId));
    } catch (again) {
      if (isStaleModelError(again)) throw schemaDrift((again as Error).message);
      throw again;
    }
  }
}

/**
 * The table's model, checked against the table's version first (one query): for work
 * that cannot be retried once it has started, such as an import reading its upload.
 */
export async function freshModel(cache: ModelCache, tableId: number): Promise<Model> {
  const model = await cache.get(tableId);
  if (!(await cache.isStale(model))) return model;
  cache.evict(tableId, 'version moved on before a one-shot operation');
  return cache.get(tableId);
}
