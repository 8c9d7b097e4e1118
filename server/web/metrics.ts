// GET /metrics (Prometheus text format, prom-client). One registry per instance: request
// counts and latency by route, the pool, the model cache, the listener, drift items.
// Gauges and counters that live elsewhere (pool, cache, bus) are read at scrape time.
import type { NextFunction, Request, Response } from 'express';
import client from 'prom-client';
import type { AppContext } from '../context.js';

export interface Metrics {
  registry: client.Registry;
  /** middleware: counts and times every request by its route pattern */
  observe(req: Request, res: Response, next: NextFunction): void;
}

export function createMetrics(ctx: AppContext): Metrics {
  const registry = new client.Registry();
  registry.setDefaultLabels({ instance_id: ctx.instanceId ?? 'unknown' });
  client.collectDefaultMetrics({ register: registry, prefix: 'tablewright_' });

  const requests = new client.Counter({
    name: 'tablewright_http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'tablewright_http_request_duration_seconds',
    help: 'HTTP request latency by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const gauge = (name: string, help: string, read: () => number | undefined) =>
    new client.Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read();
        if (v !== undefined) this.set(v);
      },
    });
  // Counters kept by other modules, exposed as counters whose value is read at scrape time.
  const counter = (name: string, help: string, read: () => number | undefined) =>
    new client.Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read();
        if (v !== undefined) {
          this.reset();
          this.inc(v);
        }
      },
    });

  gauge('tablewright_pool_connections', 'connections open in the pool', () => ctx.pool.totalCount);
  gauge('tablewright_pool_idle', 'idle connections in the pool', () => ctx.pool.idleCount);
  gauge('tablewright_pool_waiting', 'requests waiting for a pool connection', () => ctx.pool.waitingCount);
  gauge('tablewright_pool_max', 'the pool size (PG_POOL_MAX)', () => ctx.config.poolMax);

  const cache = () => ctx.models?.stats();
  counter('tablewright_model_cache_hits_total', 'model cache hits', () => cache()?.hits);
  counter('tablewright_model_cache_misses_total', 'model cache misses (compiles)', () => cache()?.misses);
  counter('tablewright_model_cache_evictions_total', 'models evicted by schema changes or stale-model errors', () => cache()?.evictions);
  counter('tablewright_model_cache_flushes_total', 'whole-cache flushes (listener lost or reconnected, missed changes)', () => cache()?.flushes);
  counter('tablewright_model_cache_uncached_total', 'compiles not kept (cache full, or raced an eviction)', () => cache()?.uncached);
  gauge('tablewright_model_cache_size', 'models in the cache', () => cache()?.size);

  const tokens = () => ctx.tokens?.stats();
  counter('tablewright_token_cache_hits_total', 'bearer requests answered from the token cache (no query)', () => tokens()?.hits);
  counter('tablewright_token_cache_lookups_total', 'token lookups in the database (misses, and all while the cache is off or bypassed)', () => tokens()?.lookups);
  counter('tablewright_token_cache_clears_total', 'whole token-cache clears (revocations, bus flushes)', () => tokens()?.clears);
  gauge('tablewright_token_cache_size', 'tokens in the cache', () => tokens()?.size);

  const bus = () => ctx.bus?.stats();
  gauge('tablewright_listener_connected', '1 while the LISTEN connection is up', () => (ctx.bus ? Number(ctx.bus.isConnected()) : undefined));
  counter('tablewright_listener_reconnects_total', 'LISTEN connections opened after the first', () => {
    const s = bus();
    return s ? Math.max(0, s.connections - 1) : undefined;
  });
  counter('tablewright_listener_missed_pings_total', 'pings that did not come back in time', () => bus()?.missedPings);
  new client.Counter({
    name: 'tablewright_notifications_received_total',
    help: 'notifications received by channel',
    labelNames: ['channel'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [channel, n] of Object.entries(bus()?.notifications ?? {})) this.inc({ channel }, n);
    },
  });

  new client.Gauge({
    name: 'tablewright_jobs',
    help: 'jobs by status (all instances: read from tablewright.jobs at scrape time)',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const { rows } = await ctx.pool.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM tablewright.jobs GROUP BY status`);
      for (const status of ['queued', 'running', 'done', 'failed']) this.set({ status }, rows.find((r) => r.status === status)?.n ?? 0);
    },
  });
  gauge('tablewright_drift_items', 'drift items in the last reconcile (ignored ones excluded)', () => ctx.drift?.current()?.items);

  return {
    registry,
    observe(req, res, next) {
      const end = latency.startTimer();
      res.on('finish', () => {
        // The route pattern, never the raw URL: ids in paths would make a series per row.
        const route = (req.route?.path as string | undefined) ?? 'unmatched';
        const labels = { method: req.method, route };
        end(labels);
        requests.inc({ ...labels, status: String(res.statusCode) });
      });
      next();
    },
  };
}
