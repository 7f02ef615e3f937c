import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from './config';
import type { Logger } from './platform/logger';
import type { Metrics } from './platform/metrics';
import type { Db } from './platform/postgres';
import type { PiiCipher } from './platform/crypto';
import { AppError } from './platform/errors';
import type { SessionStore } from './sessions';
import type { Kv } from './platform/kv';
import type { CustomerDirectory } from './customers';
import { healthRoutes } from './health';
import { staffRoutes } from './dashboard';
import websocket from '@fastify/websocket';
import { telephonyRoutes, WEBSOCKET_OPTIONS } from './telephony/routes';
import type { VoiceDeps } from './telephony/voice-deps';

export interface Lifecycle {
  /** Set on SIGTERM: stop admitting calls, readiness says 503, live calls finish. */
  draining: boolean;
}

export interface AppDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  db: Db;
  cipher: PiiCipher;
  sessions: SessionStore;
  customers: CustomerDirectory;
  /** Redis (or in-process) key-value store: rate limits, revocations, short-lived state. */
  kv: Kv;
  /** Staff session token keys by version; the highest signs. */
  authSigningKeys: ReadonlyMap<number, Buffer>;
  lifecycle: Lifecycle;
  /** In a cluster worker: every worker's metrics, aggregated by the primary (null: no answer). */
  clusterMetrics?: () => Promise<string | null>;
  /** The phone agent; absent in apps built for the API or health alone. */
  voice?: VoiceDeps;
}

/** Builds the app; never listens (main.ts does, tests use inject() or listen on port 0). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    trustProxy: deps.config.trustProxy.length > 0 ? [...deps.config.trustProxy] : false,
    return503OnClosing: true,
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof AppError) {
      if (err.statusCode >= 500) req.log.error({ err }, 'request failed');
      return reply.code(err.statusCode).send(err.toJSON());
    }
    const e = err as { statusCode?: number; code?: string; message?: string; validation?: unknown };
    if (e.validation || (e.statusCode && e.statusCode < 500)) {
      return reply
        .code(e.statusCode ?? 400)
        .send({ error: { code: e.code ?? 'BAD_REQUEST', message: e.message ?? 'Bad request' } });
    }
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ error: { code: 'INTERNAL', message: 'Internal error' } });
  });

  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'No such route' } }),
  );

  healthRoutes(app, deps);
  await app.register(async (scope) => staffRoutes(scope, deps));
  if (deps.voice) {
    await app.register(websocket, WEBSOCKET_OPTIONS);
    const voice = deps.voice;
    await app.register(async (scope) => telephonyRoutes(scope, voice));
  }
  return app;
}
