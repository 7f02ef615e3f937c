import type { Kv } from '../platform/kv';
import type { PiiCipher } from '../platform/crypto';
import type { Metrics } from '../platform/metrics';
import type { Logger } from '../platform/logger';
import { normalizePhone } from '../platform/phone';
import type { CustomerRepository } from './repository';
import type { CustomerView } from './types';

const NEGATIVE = '-';

/**
 * Caller lookup by phone through a cache over Postgres. A hit never touches Postgres; concurrent
 * misses for one number share one query (single-flight); unknown numbers are cached briefly;
 * any change to a customer, vehicle or appointment deletes the entry. Redis trouble degrades to
 * Postgres, never to an error.
 */
export class CustomerDirectory {
  readonly #repo: CustomerRepository;
  readonly #kv: Kv;
  readonly #cipher: PiiCipher;
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #metrics: Metrics | undefined;
  readonly #log: Logger | undefined;
  readonly #inflight = new Map<string, Promise<CustomerView | null>>();
  // Bumped by invalidate(); a miss that started before an invalidation must not cache its result.
  readonly #generation = new Map<string, number>();

  constructor(opts: {
    repo: CustomerRepository;
    kv: Kv;
    cipher: PiiCipher;
    ttlSeconds: number;
    negativeTtlMs?: number;
    metrics?: Metrics;
    logger?: Logger;
  }) {
    this.#repo = opts.repo;
    this.#kv = opts.kv;
    this.#cipher = opts.cipher;
    this.#ttlMs = opts.ttlSeconds * 1000;
    this.#negativeTtlMs = opts.negativeTtlMs ?? 30_000;
    this.#metrics = opts.metrics;
    this.#log = opts.logger;
  }

  /** Throws ValidationError(INVALID_PHONE) for a number that is not a phone number. */
  phoneIndex(rawPhone: string): string {
    return this.#cipher.blindIndex(normalizePhone(rawPhone));
  }

  cacheKey(phoneIndex: string): string {
    return `cust:{${phoneIndex}}`;
  }

  async lookupByPhone(rawPhone: string): Promise<CustomerView | null> {
    return this.lookupByIndex(this.phoneIndex(rawPhone));
  }

  async lookupByIndex(index: string): Promise<CustomerView | null> {
    const key = this.cacheKey(index);
    const cached = await this.#kv.get(key).catch((err: unknown) => {
      this.#log?.warn({ err }, 'customer cache read failed');
      return null;
    });
    if (cached === NEGATIVE) {
      this.#metrics?.customerCache.inc({ result: 'negative' });
      return null;
    }
    if (cached !== null) {
      try {
        const view = JSON.parse(this.#cipher.decrypt(cached)) as CustomerView;
        this.#metrics?.customerCache.inc({ result: 'hit' });
        return view;
      } catch (err) {
        // A value under a retired key or a corrupt entry is just a miss.
        this.#log?.warn({ err }, 'customer cache entry unreadable');
      }
    }
    this.#metrics?.customerCache.inc({ result: 'miss' });
    const pending = this.#inflight.get(index);
    if (pending) return pending;
    const load = this.#load(index, key).finally(() => this.#inflight.delete(index));
    this.#inflight.set(index, load);
    return load;
  }

  async #load(index: string, key: string): Promise<CustomerView | null> {
    const generation = this.#generation.get(index) ?? 0;
    const view = await this.#repo.findViewByPhoneIndex(index);
    if ((this.#generation.get(index) ?? 0) === generation) {
      const value = view ? this.#cipher.encrypt(JSON.stringify(view)) : NEGATIVE;
      await this.#kv.set(key, value, view ? this.#ttlMs : this.#negativeTtlMs).catch((err: unknown) => {
        this.#log?.warn({ err }, 'customer cache write failed');
      });
    }
    return view;
  }

  /** By id, straight from Postgres: for the rare stream that lands on an instance that did not see the ring. */
  async lookupById(customerId: string): Promise<CustomerView | null> {
    return this.#repo.findViewById(customerId);
  }

  async invalidateIndex(index: string): Promise<void> {
    this.#generation.set(index, (this.#generation.get(index) ?? 0) + 1);
    // Generations only matter while a load is in flight; keep the map from growing without bound.
    if (this.#generation.size > 10_000) this.#generation.clear();
    await this.#kv.del(this.cacheKey(index)).catch((err: unknown) => {
      this.#log?.warn({ err }, 'customer cache delete failed');
    });
  }

  async invalidateCustomer(customerId: string): Promise<void> {
    const index = await this.#repo.phoneIndexOf(customerId);
    if (index) await this.invalidateIndex(index);
  }
}
