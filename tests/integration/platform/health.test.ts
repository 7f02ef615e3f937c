import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../../server/app';
import { loadConfig } from '../../../server/config';
import { createLogger } from '../../../server/platform/logger';
import { createMetrics } from '../../../server/platform/metrics';
import { MemoryKv } from '../../../server/platform/kv';
import { MemorySessionStore, RedisSessionStore, type SessionStore } from '../../../server/sessions';
import { CustomerDirectory, CustomerRepository } from '../../../server/customers';
import { createTestDb, type TestDb } from '../../support/pg';
import { REDIS_URL } from '../../support/redis';
import { testCipher } from '../../support/keys';

const cipher = testCipher();
let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb();
});
afterAll(async () => {
  await tdb.drop();
});

async function appWith(
  sessions: SessionStore,
  lifecycle = { draining: false },
  clusterMetrics?: () => Promise<string | null>,
): Promise<FastifyInstance> {
  const metrics = createMetrics();
  return buildApp({
    ...(clusterMetrics ? { clusterMetrics } : {}),
    config: loadConfig({}),
    logger: createLogger({ level: 'silent' }),
    metrics,
    db: tdb.db,
    cipher,
    sessions,
    customers: new CustomerDirectory({
      repo: new CustomerRepository(tdb.db, cipher),
      kv: new MemoryKv(),
      cipher,
      ttlSeconds: 300,
    }),
    lifecycle,
    kv: new MemoryKv(),
    authSigningKeys: new Map([[1, Buffer.alloc(32, 7)]]),
  });
}

/** A TCP peer on loopback that accepts connections and never says a word: a hung Redis. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function redisClient(url: string): Redis {
  const r = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 200,
  });
  r.on('error', () => undefined);
  return r;
}

describe('health endpoints', () => {
  it('/health/redis answers 200 with latency after a real PING', async () => {
    const redis = redisClient(REDIS_URL);
    await redis.connect();
    const app = await appWith(
      new RedisSessionStore({ redis, prefix: 'test:health:', ttlSeconds: 60, cipher }),
    );
    const res = await app.inject('/health/redis');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', backend: 'redis' });
    expect(typeof res.json().latencyMs).toBe('number');
    await app.close();
    redis.disconnect();
  });

  it('/health/redis answers 503 within 1 s when Redis is unreachable', async () => {
    // Port 1 refuses at once; the silent server accepts and then never answers (a hung Redis).
    const silent = await silentServer();
    for (const url of ['redis://127.0.0.1:1', silent.url]) {
      const redis = redisClient(url);
      redis.connect().catch(() => undefined);
      const app = await appWith(
        new RedisSessionStore({ redis, prefix: 'test:health:', ttlSeconds: 60, cipher }),
      );
      const started = performance.now();
      const res = await app.inject('/health/redis');
      const elapsed = performance.now() - started;
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ status: 'error' });
      expect(typeof res.json().error).toBe('string');
      expect(elapsed).toBeLessThan(1500);
      const ready = await app.inject('/health/ready');
      expect(ready.statusCode).toBe(503);
      await app.close();
      redis.disconnect();
    }
    await silent.close();
  });

  it('says backend memory on the embedded store; ready and db are 200; liveness is 200', async () => {
    const app = await appWith(new MemorySessionStore({ ttlSeconds: 60, cipher }));
    expect((await app.inject('/health/redis')).json()).toMatchObject({ status: 'ok', backend: 'memory' });
    expect((await app.inject('/health/db')).statusCode).toBe(200);
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
    expect((await app.inject('/health')).statusCode).toBe(200);
    await app.close();
  });

  it('/health/ready is 503 while draining', async () => {
    const lifecycle = { draining: false };
    const app = await appWith(new MemorySessionStore({ ttlSeconds: 60, cipher }), lifecycle);
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
    lifecycle.draining = true; // what main.ts does on SIGTERM
    const res = await app.inject('/health/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ draining: true });
    expect((await app.inject('/health')).statusCode).toBe(200);
    await app.close();
  });

  it('/metrics exposes the product metrics in Prometheus text', async () => {
    const app = await appWith(new MemorySessionStore({ ttlSeconds: 60, cipher }));
    await app.inject('/health/db');
    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    for (const name of [
      'bayline_active_calls',
      'bayline_db_latency_seconds_bucket',
      'bayline_redis_latency_seconds',
      'process_cpu_seconds_total',
    ]) {
      expect(res.body).toContain(name);
    }
    await app.close();
  });

  it("/metrics in a cluster worker serves every worker's metrics, or 503 when they do not arrive", async () => {
    const sessions = new MemorySessionStore({ ttlSeconds: 60, cipher });
    let answer: string | null = 'bayline_active_calls 7\n';
    const app = await appWith(sessions, { draining: false }, async () => answer);
    const ok = await app.inject('/metrics');
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toContain('text/plain');
    expect(ok.body).toBe('bayline_active_calls 7\n');
    answer = null;
    const failed = await app.inject('/metrics');
    expect(failed.statusCode).toBe(503);
    expect(failed.json()).toEqual({
      error: { code: 'METRICS_UNAVAILABLE', message: 'Cluster metrics did not arrive' },
    });
    await app.close();
    await sessions.close();
  });
});
