import { Redis, Cluster, type RedisOptions } from 'ioredis';
import type { Config } from '../config';

export type RedisClient = Redis | Cluster;

/**
 * A command on a connection that stays up but no longer answers (a failover in progress, `CLIENT
 * PAUSE`, a black-holed network) fails after this long instead of never. Far above a healthy round
 * trip (≈ 1 ms), and below the health probe's 1 s.
 */
const REDIS_COMMAND_TIMEOUT_MS = 500;
/** No byte back for this long with commands outstanding: the connection is dropped and rebuilt. */
const REDIS_SOCKET_TIMEOUT_MS = 5000;

/**
 * Commands fail fast while Redis is unreachable (no offline queue), and within
 * REDIS_COMMAND_TIMEOUT_MS while it is connected but silent: the call path never waits on Redis for
 * long, and health checks answer within their budget instead of queueing behind a reconnect. A
 * connection silent for REDIS_SOCKET_TIMEOUT_MS is replaced, so a failover or a dead peer that TCP
 * has not noticed yet does not leave every command timing out on it.
 */
const BASE: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
  socketTimeout: REDIS_SOCKET_TIMEOUT_MS,
  connectTimeout: 2000,
  retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
  lazyConnect: true,
};

export function createRedis(redis: Exclude<Config['redis'], { kind: 'memory' }>): RedisClient {
  switch (redis.kind) {
    case 'url':
      return new Redis(redis.url, BASE);
    case 'sentinel': {
      const auth = redis.url ? authFrom(redis.url) : {};
      return new Redis({ ...BASE, ...auth, sentinels: [...redis.nodes], name: redis.name });
    }
    case 'cluster': {
      const auth = redis.url ? authFrom(redis.url) : {};
      return new Cluster([...redis.nodes], {
        enableOfflineQueue: false,
        lazyConnect: true,
        redisOptions: { ...BASE, ...auth },
      });
    }
  }
}

function authFrom(url: string): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const u = new URL(url);
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** Connects, or rejects after `timeoutMs`; the client keeps retrying in the background either way. */
export async function connectRedis(client: RedisClient, timeoutMs: number): Promise<void> {
  client.on('error', () => undefined); // connection errors surface through health checks and metrics
  await Promise.race([
    client.connect(),
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error('Redis connect timed out')), timeoutMs).unref(),
    ),
  ]);
}
