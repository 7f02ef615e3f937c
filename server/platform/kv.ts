import type { RedisClient } from './redis';
import type { Metrics } from './metrics';

/** The small key-value cache the customer cache (and later rate limits) sit on. */
export interface Kv {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  del(...keys: string[]): Promise<void>;
}

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

  #evictExpired(): void {
    const now = Date.now();
    for (const [k, e] of this.#map) if (e.expiresAt <= now) this.#map.delete(k);
  }
}
