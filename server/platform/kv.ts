import type { RedisClient } from './redis';
import type { Metrics } from './metrics';

/** The small key-value store the customer cache, rate limits and session revocations sit on. */
export interface Kv {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  del(...keys: string[]): Promise<void>;
  /**
   * Atomically adds 1 and returns the new count. The expiry is set only when the key is created,
   * so a counter lives `ttlMs` from its first increment (a fixed window), however often it is hit.
   */
  incr(key: string, ttlMs: number): Promise<number>;
}

// One round trip, atomic: a counter never exists without its expiry (a crash between INCR and
// PEXPIRE would leave a rate-limit key that never resets).
const INCR_WITH_TTL = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

export class RedisKv implements Kv {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #metrics: Metrics | undefined;

  constructor(redis: RedisClient, prefix: string, metrics?: Metrics) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#metrics = metrics;
  }

  async get(key: string): Promise<string | null> {
    const end = this.#metrics?.redisLatency.startTimer({ op: 'kv_get' });
    try {
      return await this.#redis.get(this.#prefix + key);
    } finally {
      end?.();
    }
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    const end = this.#metrics?.redisLatency.startTimer({ op: 'kv_set' });
    try {
      await this.#redis.set(this.#prefix + key, value, 'PX', ttlMs);
    } finally {
      end?.();
    }
  }

  async incr(key: string, ttlMs: number): Promise<number> {
    const end = this.#metrics?.redisLatency.startTimer({ op: 'kv_incr' });
    try {
      return Number(await this.#redis.eval(INCR_WITH_TTL, 1, this.#prefix + key, Math.ceil(ttlMs)));
    } finally {
      end?.();
    }
  }

  async del(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    // One DEL per key: in a cluster, keys of different customers live in different slots.
    await Promise.all(keys.map((k) => this.#redis.del(this.#prefix + k)));
  }
}

export class MemoryKv implements Kv {
  readonly #map = new Map<string, { value: string; expiresAt: number }>();

  async get(key: string): Promise<string | null> {
    const e = this.#map.get(key);
    if (!e) return null;
    if (e.expiresAt <= Date.now()) {
      this.#map.delete(key);
      return null;
    }
    return e.value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    if (this.#map.size > 100_000) this.#evictExpired();
    this.#map.set(key, { value, expiresAt: Date.now() + ttlMs });
  }

  async del(...keys: string[]): Promise<void> {
    for (const k of keys) this.#map.delete(k);
  }

  async incr(key: string, ttlMs: number): Promise<number> {
    const now = Date.now();
    const e = this.#map.get(key);
    if (!e || e.expiresAt <= now) {
      if (this.#map.size > 100_000) this.#evictExpired();
      this.#map.set(key, { value: '1', expiresAt: now + ttlMs });
      return 1;
    }
    const n = (Number.parseInt(e.value, 10) || 0) + 1;
    e.value = String(n);
    return n;
  }

  #evictExpired(): void {
    const now = Date.now();
    for (const [k, e] of this.#map) if (e.expiresAt <= now) this.#map.delete(k);
  }
}
