import type { RedisClient } from '../platform/redis';
import type { PiiCipher } from '../platform/crypto';
import type { Metrics } from '../platform/metrics';
import {
  SESSION_DEFAULTS,
  assertCallSid,
  callKeys,
  decodeTurn,
  encodeTurn,
  fromHash,
  liveIndexKey,
  toHash,
} from './codec';
import type { Session, SessionInit, SessionPatch, SessionStore, Turn } from './types';

// HSET on an existing hash keeps its TTL; refusing a missing key stops an update from resurrecting
// an expired session as a key without expiry. `collected` is merged key by key (ARGV[1], JSON or
// empty), so concurrent writers of different collected keys lose nothing.
const UPDATE = `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] ~= '' then
  local current = cjson.decode(redis.call('HGET', KEYS[1], 'collected') or '{}')
  for k, v in pairs(cjson.decode(ARGV[1])) do current[k] = v end
  redis.call('HSET', KEYS[1], 'collected', cjson.encode(current))
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1`;

// The turns list takes the session's remaining TTL, so the two expire together.
const APPEND = `local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then return 0 end
local n = redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
return n`;

const CREATE = `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type Scripted = RedisClient & {
  baylineUpdate(key: string, merge: string, ...args: string[]): Promise<number>;
  baylineAppend(session: string, turns: string, value: string): Promise<number>;
  baylineCreate(key: string, ttlMs: string, ...args: string[]): Promise<number>;
  baylineRelease(key: string, owner: string): Promise<number>;
};

export class RedisSessionStore implements SessionStore {
  readonly backend = 'redis' as const;
  readonly #redis: Scripted;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #cipher: PiiCipher;
  readonly #metrics: Metrics | undefined;

  constructor(opts: {
    redis: RedisClient;
    prefix: string;
    ttlSeconds: number;
    cipher: PiiCipher;
    metrics?: Metrics;
  }) {
    const redis = opts.redis as Scripted;
    // defineCommand sends EVALSHA and falls back to EVAL once: one round trip per operation.
    if (typeof redis.baylineUpdate !== 'function') {
      redis.defineCommand('baylineUpdate', { numberOfKeys: 1, lua: UPDATE });
      redis.defineCommand('baylineAppend', { numberOfKeys: 2, lua: APPEND });
      redis.defineCommand('baylineCreate', { numberOfKeys: 1, lua: CREATE });
      redis.defineCommand('baylineRelease', { numberOfKeys: 1, lua: RELEASE });
    }
    this.#redis = redis;
    this.#prefix = opts.prefix;
    this.#ttlMs = opts.ttlSeconds * 1000;
    this.#cipher = opts.cipher;
    this.#metrics = opts.metrics;
  }

  async #timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const end = this.#metrics?.redisLatency.startTimer({ op });
    try {
      return await fn();
    } finally {
      end?.();
    }
  }

  async create(init: SessionInit): Promise<boolean> {
    assertCallSid(init.callSid);
    const now = new Date().toISOString();
    const hash = toHash({ ...SESSION_DEFAULTS, ...init });
    const args = Object.entries({ ...hash, createdAt: now, updatedAt: now }).flat();
    const keys = callKeys(this.#prefix, init.callSid);
    const created = await this.#timed('create', () =>
      this.#redis.baylineCreate(keys.session, String(this.#ttlMs), ...args),
    );
    if (created === 1) {
      // The live index is a convenience for the dashboard; it lives in its own slot.
      void this.#redis
        .zadd(liveIndexKey(this.#prefix), Date.now() + this.#ttlMs, init.callSid)
        .catch(() => undefined);
    }
    return created === 1;
  }

  async get(callSid: string): Promise<Session | null> {
    assertCallSid(callSid);
    const h = await this.#timed('get', () => this.#redis.hgetall(callKeys(this.#prefix, callSid).session));
    return fromHash(h);
  }

  async update(callSid: string, patch: SessionPatch): Promise<boolean> {
    assertCallSid(callSid);
    const { collected, ...rest } = patch;
    const merge = collected && Object.keys(collected).length > 0 ? JSON.stringify(collected) : '';
    const args = Object.entries({ ...toHash(rest), updatedAt: new Date().toISOString() }).flat();
    const ok = await this.#timed('update', () =>
      this.#redis.baylineUpdate(callKeys(this.#prefix, callSid).session, merge, ...args),
    );
    return ok === 1;
  }

  async appendTurn(callSid: string, turn: Turn): Promise<number> {
    assertCallSid(callSid);
    const keys = callKeys(this.#prefix, callSid);
    const value = encodeTurn(this.#cipher, turn);
    return this.#timed('append', () => this.#redis.baylineAppend(keys.session, keys.turns, value));
  }

  async turns(callSid: string): Promise<Turn[]> {
    assertCallSid(callSid);
    const values = await this.#timed('turns', () =>
      this.#redis.lrange(callKeys(this.#prefix, callSid).turns, 0, -1),
    );
    return values.map((v) => decodeTurn(this.#cipher, v));
  }

  async delete(callSid: string): Promise<void> {
    assertCallSid(callSid);
    const keys = callKeys(this.#prefix, callSid);
    await this.#timed('delete', () => this.#redis.del(keys.session, keys.turns));
    await this.#redis.zrem(liveIndexKey(this.#prefix), callSid).catch(() => undefined);
  }

  async acquireLock(callSid: string, owner: string, ttlMs: number): Promise<boolean> {
    assertCallSid(callSid);
    const res = await this.#timed('lock', () =>
      this.#redis.set(callKeys(this.#prefix, callSid).lock, owner, 'PX', ttlMs, 'NX'),
    );
    return res === 'OK';
  }

  async releaseLock(callSid: string, owner: string): Promise<void> {
    assertCallSid(callSid);
    await this.#timed('unlock', () =>
      this.#redis.baylineRelease(callKeys(this.#prefix, callSid).lock, owner),
    );
  }

  async isLocked(callSid: string): Promise<boolean> {
    assertCallSid(callSid);
    const n = await this.#timed('lock_check', () => this.#redis.exists(callKeys(this.#prefix, callSid).lock));
    return n === 1;
  }

  async listLive(limit = 200): Promise<Session[]> {
    const index = liveIndexKey(this.#prefix);
    await this.#redis.zremrangebyscore(index, '-inf', Date.now());
    const sids = await this.#redis.zrevrange(index, 0, limit - 1);
    const sessions = await Promise.all(sids.map((sid) => this.get(sid)));
    return sessions.filter((s): s is Session => s !== null);
  }

  async ttlMs(callSid: string): Promise<number> {
    assertCallSid(callSid);
    return this.#redis.pttl(callKeys(this.#prefix, callSid).session);
  }

  async ping(): Promise<number> {
    const started = performance.now();
    await this.#timed('ping', () => this.#redis.ping());
    return performance.now() - started;
  }

  async close(): Promise<void> {
    // The client is owned by the composition root, which quits it after every user is closed.
  }
}
