import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestRedis {
  redis: Redis;
  prefix: string;
  keys(): Promise<string[]>;
  cleanup(): Promise<void>;
}

/** Every key matching `pattern` (SCAN, so a busy shared Redis is never blocked by KEYS). */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

/** A real Redis connection and a key prefix of this test's own; cleanup deletes every key under it. */
export async function createTestRedis(): Promise<TestRedis> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const prefix = `test:${randomBytes(4).toString('hex')}:`;
  const keys = () => scanKeys(redis, `${prefix}*`);
  return {
    redis,
    prefix,
    keys,
    async cleanup() {
      const found = await keys();
      if (found.length) await redis.del(...found);
      await redis.quit();
    },
  };
}
