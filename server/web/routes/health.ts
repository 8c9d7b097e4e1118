import { describeCapabilities } from '../../db/privileges.js';
import { route } from '../route.js';

export const healthRoutes = [
  route('get', '/healthz', 'public', 'the process is alive', (_ctx, _req, res) => {
    res.json({ ok: true });
  }),

  route('get', '/readyz', 'public', 'the database answers (and the LISTEN connection is up, once there is one); ?details=1 (admin) lists what the role can and cannot do', async (ctx, req, res) => {
    const checks: Record<string, boolean> = {};
    try {
      await ctx.pool.query('SELECT 1');
      checks.database = true;
    } catch (err) {
      ctx.log.warn({ err }, 'readiness check: database unreachable');
      checks.database = false;
    }
    if (ctx.listener) checks.listener = ctx.listener.isConnected();
    const ok = Object.values(checks).every(Boolean);
    // Privileges name roles and tables: only for an admin, and only on request.
    if (req.query.details !== undefined && req.caller?.role === 'admin' && checks.database) {
      const privileges = await describeCapabilities(ctx.pool, { data: ctx.config.dataSchema, trash: ctx.config.trashSchema });
      res.status(ok ? 200 : 503).json({ ok, checks, privileges });
      return;
    }
    res.status(ok ? 200 : 503).json({ ok, checks });
  }),

  route('get', '/metrics', 'viewer', 'Prometheus metrics of this instance (text format; scrape with a bearer token)', async (ctx, _req, res) => {
    const registry = ctx.metrics!.registry;
    res.type(registry.contentType).send(await registry.metrics());
  }),
];
