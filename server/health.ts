import type { FastifyInstance } from 'fastify';
import type { AppDeps } from './app';

const PROBE_TIMEOUT_MS = 1000;

function timeout(ms: number): Promise<never> {
  return new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref(),
  );
}

async function probe(
  fn: () => Promise<number>,
): Promise<{ ok: true; latencyMs: number } | { ok: false; error: string }> {
  try {
    const latencyMs = await Promise.race([fn(), timeout(PROBE_TIMEOUT_MS)]);
    return { ok: true, latencyMs: Math.round(latencyMs * 1000) / 1000 };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : 'unknown error' };
  }
}

/** Liveness, readiness and per-dependency probes for ops and load balancers. */
export function healthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/health/redis', async (_req, reply) => {
    const r = await probe(() => deps.sessions.ping());
    const backend = deps.sessions.backend;
    if (r.ok) return { status: 'ok', latencyMs: r.latencyMs, backend };
    return reply.code(503).send({ status: 'error', error: r.error, backend });
  });

  app.get('/health/db', async (_req, reply) => {
    const r = await probe(() => deps.db.ping(PROBE_TIMEOUT_MS));
    if (r.ok) return { status: 'ok', latencyMs: r.latencyMs };
    return reply.code(503).send({ status: 'error', error: r.error });
  });

  app.get('/health/ready', async (_req, reply) => {
    const [redis, db] = await Promise.all([
      probe(() => deps.sessions.ping()),
      probe(() => deps.db.ping(PROBE_TIMEOUT_MS)),
    ]);
    const draining = deps.lifecycle.draining;
    const body = {
      status: redis.ok && db.ok && !draining ? 'ok' : 'unavailable',
      redis: redis.ok,
      db: db.ok,
      draining,
    };
    return reply.code(body.status === 'ok' ? 200 : 503).send(body);
  });

  app.get('/metrics', async (_req, reply) => {
    const text = deps.clusterMetrics ? await deps.clusterMetrics() : await deps.metrics.registry.metrics();
    // One worker's figures alone would read as the server's: fail the scrape instead.
    if (text === null)
      return reply
        .code(503)
        .send({ error: { code: 'METRICS_UNAVAILABLE', message: 'Cluster metrics did not arrive' } });
    return reply.header('content-type', deps.metrics.registry.contentType).send(text);
  });
}
