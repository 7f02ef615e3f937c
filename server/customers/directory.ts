import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Kv } from '../platform/kv';
import type { PiiCipher } from '../platform/crypto';
import type { Metrics } from '../platform/metrics';
import type { Logger } from '../platform/logger';
import { normalizePhone } from '../platform/phone';
import type { CustomerRepository } from './repository';
import type { CustomerView } from './types';

const NEGATIVE = '-';
// A fill slower than this (first generation read to the last) deletes what it wrote: the argument in
// #fill needs the generation key to outlive the fill, and its TTL is far longer than this.
const FILL_DEADLINE_MS = 5_000;
// The argument in #fill only needs the generation key to outlive FILL_DEADLINE_MS; outliving every
// entry (either TTL) written before the invalidation that set it leaves a wide margin.
const GENERATION_MARGIN_MS = 60_000;

/** A generation token; null when none exists; undefined when Redis did not answer. */
type Generation = string | null | undefined;

/** Set by an invalidation in this process while the fill runs: its result is returned, never cached. */
interface FillGuard {
  invalidated: boolean;
}

/**
 * Caller lookup by phone through a cache over Postgres. A hit is one GET and never touches Postgres;
 * concurrent misses for one number share one query (single-flight); unknown numbers are cached
 * briefly; any change to a customer, vehicle or appointment deletes the entry. Redis trouble
 * degrades to Postgres, never to an error.
 *
 * Instances share Redis, so a miss here can read Postgres before another instance commits a change
 * and invalidates, then write its stale view after the invalidation. Each invalidation therefore
 * also writes a fresh random token to `cust:{idx}:gen`, and a miss re-reads that token after writing
 * its entry and deletes the entry if the token moved (see #fill). The entry itself is unchanged.
 */
export class CustomerDirectory {
  readonly #repo: CustomerRepository;
  readonly #kv: Kv;
  readonly #cipher: PiiCipher;
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #generationTtlMs: number;
  readonly #metrics: Metrics | undefined;
  readonly #log: Logger | undefined;
  // An invalidation here flags its index's fill and removes it, so the fill caches nothing (even when
  // Redis writes fail) and no lookup that starts after the invalidation joins it.
  readonly #inflight = new Map<string, { promise: Promise<CustomerView | null>; guard: FillGuard }>();

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
    this.#generationTtlMs = Math.max(this.#ttlMs, this.#negativeTtlMs) + GENERATION_MARGIN_MS;
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

  /** Same hash tag as the entry, so both live on one Redis Cluster slot (one order of commands). */
  generationKey(phoneIndex: string): string {
    return `cust:{${phoneIndex}}:gen`;
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
    if (pending) return pending.promise;
    const guard: FillGuard = { invalidated: false };
    const promise = this.#fill(index, key, guard).finally(() => {
      if (this.#inflight.get(index)?.guard === guard) this.#inflight.delete(index);
    });
    this.#inflight.set(index, { promise, guard });
    return promise;
  }

  /**
   * Why no stale entry outlives a race with another instance's invalidation. That instance, after
   * the change C has committed, does W (SET gen to a fresh random token), then D (DEL entry). This
   * fill does R1 (GET gen: G1), Q (the query), S (SET entry), R2 (GET gen: G2), and deletes its entry
   * when G2 differs from G1. Its entry is stale only if Q read before C, so R1 < Q < C < W < D.
   * Both keys share one slot, so Redis runs these commands in one order:
   * - S before D: D deletes the entry.
   * - S after D: R2 follows S, hence W, and reads W's token or a later invalidation's. G1 was read
   *   before W and tokens are random, so G2 differs and this fill deletes its entry. The gen key
   *   cannot have expired in between (letting "none" match "none"): R2 - W < R2 - R1, which stays
   *   under FILL_DEADLINE_MS, far below its TTL; a slower fill deletes its entry regardless.
   * At worst, another lookup reads the stale entry between S and the delete: one round trip.
   * Redis failures never leave an unverified entry: no G1, no write; a failed write (which may still
   * have landed) is verified like any other; an unreadable G2 counts as moved.
   */
  async #fill(index: string, key: string, guard: FillGuard): Promise<CustomerView | null> {
    const startedAt = performance.now();
    const before = await this.#readGeneration(index);
    const view = await this.#repo.findViewByPhoneIndex(index);
    if (before === undefined || !this.#current(guard, startedAt)) return view;
    const value = view ? this.#cipher.encrypt(JSON.stringify(view)) : NEGATIVE;
    await this.#kv.set(key, value, view ? this.#ttlMs : this.#negativeTtlMs).catch((err: unknown) => {
      this.#log?.warn({ err }, 'customer cache write failed');
    });
    const after = await this.#readGeneration(index);
    if (after !== before || !this.#current(guard, startedAt)) {
      await this.#kv.del(key).catch((err: unknown) => {
        this.#log?.warn({ err }, 'customer cache delete failed');
      });
    }
    return view;
  }

  #current(guard: FillGuard, startedAt: number): boolean {
    return !guard.invalidated && performance.now() - startedAt < FILL_DEADLINE_MS;
  }

  async #readGeneration(index: string): Promise<Generation> {
    return this.#kv.get(this.generationKey(index)).catch((err: unknown) => {
      this.#log?.warn({ err }, 'customer cache generation read failed');
      return undefined;
    });
  }

  /** By id, straight from Postgres: for the rare stream that lands on an instance that did not see the ring. */
  async lookupById(customerId: string): Promise<CustomerView | null> {
    return this.#repo.findViewById(customerId);
  }

  /** Call after the change has committed (the argument in #fill relies on it). */
  async invalidateIndex(index: string): Promise<void> {
    const pending = this.#inflight.get(index);
    if (pending) {
      pending.guard.invalidated = true;
      this.#inflight.delete(index);
    }
    // The generation strictly before the delete: a fill's check depends on that order.
    const token = randomBytes(12).toString('base64url');
    await this.#kv.set(this.generationKey(index), token, this.#generationTtlMs).catch((err: unknown) => {
      this.#log?.warn({ err }, 'customer cache generation write failed');
    });
    await this.#kv.del(this.cacheKey(index)).catch((err: unknown) => {
      this.#log?.warn({ err }, 'customer cache delete failed');
    });
  }

  async invalidateCustomer(customerId: string): Promise<void> {
    const index = await this.#repo.phoneIndexOf(customerId);
    if (index) await this.invalidateIndex(index);
  }
}
