import { RedisKv } from '../../../server/platform/kv';
import { createTestRedis, type TestRedis } from '../../support/redis';

let tr: TestRedis;
beforeAll(async () => {
  tr = await createTestRedis();
});
afterAll(async () => {
  await tr.cleanup();
});

describe('RedisKv.incr (the rate limits and lockouts sit on it)', () => {
  it('is atomic under concurrency and sets the expiry once, on creation', async () => {
    const kv = new RedisKv(tr.redis, tr.prefix);
    const counts = await Promise.all(Array.from({ length: 50 }, () => kv.incr('rl:test', 5000)));
    expect(counts.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const ttl = await tr.redis.pttl(`${tr.prefix}rl:test`);
    expect(ttl).toBeGreaterThan(4000);
    expect(ttl).toBeLessThanOrEqual(5000);
    await kv.incr('rl:test', 60_000);
    expect(await tr.redis.pttl(`${tr.prefix}rl:test`)).toBeLessThanOrEqual(5000);
  });

  it('starts again from 1 once the window has expired', async () => {
    const kv = new RedisKv(tr.redis, tr.prefix);
    expect(await kv.incr('rl:short', 50)).toBe(1);
    expect(await kv.incr('rl:short', 50)).toBe(2);
    await new Promise((r) => setTimeout(r, 80));
    expect(await kv.incr('rl:short', 50)).toBe(1);
  });
});
