/**
 * Builds the long-lived parts from config, in start order, and closes them in reverse. Shared by
 * main.ts and the scripts (migrate, seed, admin, session) so they all reach the same stores.
 */
import path from 'node:path';
import type { Config } from './config';
import type { Logger } from './platform/logger';
import { createMetrics, type Metrics } from './platform/metrics';
import { createDb, type Db } from './platform/postgres';
import { PiiCipher } from './platform/crypto';
import { createRedis, connectRedis, type RedisClient } from './platform/redis';
import { MemoryKv, RedisKv, type Kv } from './platform/kv';
import { DATA_DIR, loadOrCreateDevKeys } from './platform/dev-keys';
import { startEmbeddedPostgres } from './platform/embedded-postgres';
import { migrate } from './platform/migrate';
import { seedDemo } from './platform/seed';
import { MemorySessionStore, RedisSessionStore, type SessionStore } from './sessions';
import { CustomerDirectory, CustomerRepository } from './customers';

export { DATA_DIR };

export interface Runtime {
  metrics: Metrics;
  db: Db;
  cipher: PiiCipher;
  authSigningKeys: ReadonlyMap<number, Buffer>;
  redis: RedisClient | undefined;
  kv: Kv;
  sessions: SessionStore;
  customers: CustomerDirectory;
  embedded: boolean;
  close(): Promise<void>;
}

export async function startRuntime(
  config: Config,
  logger: Logger,
  opts: { migrateAndSeed?: boolean } = {},
): Promise<Runtime> {
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const fn of closers.reverse())
      await fn().catch((err: unknown) => logger.error({ err }, 'shutdown step failed'));
  };
  try {
    const metrics = createMetrics();
    const keys =
      config.piiKeys && config.piiIndexKey && config.authSigningKeys
        ? {
            piiKeys: config.piiKeys,
            piiIndexKey: config.piiIndexKey,
            authSigningKeys: config.authSigningKeys,
          }
        : await loadOrCreateDevKeys(DATA_DIR);
    if (!config.piiKeys)
      logger.warn(
        { dir: DATA_DIR },
        'PII_KEYS not set: using development keys kept under ./data (demo only)',
      );
    const cipher = new PiiCipher(keys.piiKeys, keys.piiIndexKey);

    let databaseUrl = config.databaseUrl;
    const embedded = databaseUrl === undefined;
    if (embedded) {
      const pglite = await startEmbeddedPostgres({ dataDir: path.join(DATA_DIR, 'pg'), logger });
      closers.push(() => pglite.close());
      databaseUrl = pglite.url;
    }
    // PGlite serves one session for every connection: no per-connection settings there.
    const db = createDb({
      url: databaseUrl as string,
      max: embedded ? 4 : 10,
      metrics,
      ...(embedded ? {} : { statementTimeoutMs: 9_500 }),
    });
    closers.push(() => db.close());
    if (embedded || opts.migrateAndSeed) {
      const m = await migrate(db.pool);
      logger.info({ applied: m.applied.length }, 'migrations applied');
      await seedDemo(db, cipher, { timezone: config.timezone });
    }

    let redis: RedisClient | undefined;
    let sessions: SessionStore;
    let kv: Kv;
    if (config.redis.kind === 'memory') {
      logger.warn(
        'REDIS_URL not set: in-process session store, single instance only; sessions do not survive a restart',
      );
      sessions = new MemorySessionStore({ ttlSeconds: config.sessionTtlSeconds, cipher });
      kv = new MemoryKv();
    } else {
      const client = createRedis(config.redis);
      redis = client;
      closers.push(async () => {
        await client.quit().catch(() => client.disconnect());
      });
      await connectRedis(client, 5000).catch((err: unknown) =>
        logger.error({ err }, 'Redis not reachable at start; retrying in background'),
      );
      sessions = new RedisSessionStore({
        redis: client,
        prefix: config.redisKeyPrefix,
        ttlSeconds: config.sessionTtlSeconds,
        cipher,
        metrics,
      });
      kv = new RedisKv(client, config.redisKeyPrefix, metrics);
    }
    closers.push(() => sessions.close());

    const customers = new CustomerDirectory({
      repo: new CustomerRepository(db, cipher),
      kv,
      cipher,
      ttlSeconds: config.customerCacheTtlSeconds,
      metrics,
      logger,
    });
    return {
      metrics,
      db,
      cipher,
      authSigningKeys: keys.authSigningKeys,
      redis,
      kv,
      sessions,
      customers,
      embedded,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
