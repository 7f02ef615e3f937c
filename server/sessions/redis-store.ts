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
import {
  SessionWriteBehind,
  type SessionBatch,
  type SessionWrite,
  type WriteBehindLimits,
} from './write-behind';

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

// A live call's queued writes, replayed once Redis answers (write-behind.ts), in one round trip:
// ARGV = create TTL, create field count, collected merge, field count, create fields, hash fields,
// turns. The create is the ring's, if Redis missed it. A turn already at the list's end is not
// pushed again: a write that timed out may have been applied all the same. Encryption makes every
// turn's value unique, so comparing values is comparing turns.
const REPLAY = `local nc, nf = tonumber(ARGV[2]), tonumber(ARGV[4])
local i = 5
if nc > 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, i, i + nc - 1))
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
i = i + nc
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[3] ~= '' then
  local current = cjson.decode(redis.call('HGET', KEYS[1], 'collected') or '{}')
  for k, v in pairs(cjson.decode(ARGV[3])) do current[k] = v end
  redis.call('HSET', KEYS[1], 'collected', cjson.encode(current))
end
if nf > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, i, i + nf - 1)) end
i = i + nf
local m = #ARGV - i + 1
local ttl = redis.call('PTTL', KEYS[1])
if m > 0 and ttl >= 0 then
  local tail = redis.call('LRANGE', KEYS[2], -m, -1)
  local skip = 0
  for k = math.min(m, #tail), 1, -1 do
    local same = true
    for j = 1, k do
      if tail[#tail - k + j] ~= ARGV[i + j - 1] then
        same = false
        break
      end
    end
    if same then
      skip = k
      break
    end
  end
  if skip < m then redis.call('RPUSH', KEYS[2], unpack(ARGV, i + skip)) end
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return redis.call('LLEN', KEYS[2])`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type Scripted = RedisClient & {
  baylineUpdate(key: string, merge: string, ...args: string[]): Promise<number>;
  baylineAppend(session: string, turns: string, value: string): Promise<number>;
  baylineCreate(key: string, ttlMs: string, ...args: string[]): Promise<number>;
  baylineRelease(key: string, owner: string): Promise<number>;
  baylineReplay(session: string, turns: string, ...args: string[]): Promise<number>;
};

export class RedisSessionStore implements SessionStore {
  readonly backend = 'redis' as const;
  readonly #redis: Scripted;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #cipher: PiiCipher;
  readonly #metrics: Metrics | undefined;
  /** Writes of live calls: straight to Redis, queued and replayed while it is unavailable. */
  readonly #writes: SessionWriteBehind;

  constructor(opts: {
    redis: RedisClient;
    prefix: string;
    ttlSeconds: number;
    cipher: PiiCipher;
    metrics?: Metrics;
    writeBehind?: Partial<WriteBehindLimits>;
  }) {
    const redis = opts.redis as Scripted;
    // defineCommand sends EVALSHA and falls back to EVAL once: one round trip per operation.
    if (typeof redis.baylineUpdate !== 'function') {
      redis.defineCommand('baylineUpdate', { numberOfKeys: 1, lua: UPDATE });
      redis.defineCommand('baylineAppend', { numberOfKeys: 2, lua: APPEND });
      redis.defineCommand('baylineCreate', { numberOfKeys: 1, lua: CREATE });
      redis.defineCommand('baylineRelease', { numberOfKeys: 1, lua: RELEASE });
    }
    if (typeof redis.baylineReplay !== 'function')
      redis.defineCommand('baylineReplay', { numberOfKeys: 2, lua: REPLAY });
    this.#redis = redis;
    this.#prefix = opts.prefix;
    this.#ttlMs = opts.ttlSeconds * 1000;
    this.#cipher = opts.cipher;
    this.#metrics = opts.metrics;
    this.#writes = new SessionWriteBehind({
      io: {
        single: (callSid, write) => this.#single(callSid, write),
        replay: (callSid, batch) => this.#replay(callSid, batch),
        remove: (callSid) => this.#remove(callSid),
      },
      metrics: opts.metrics,
      limits: opts.writeBehind,
    });
  }

  /** Calls with writes queued for replay, and a call's queued turns (tests and ops). */
  get queuedCalls(): number {
    return this.#writes.queuedCalls;
  }

  queuedTurns(callSid: string): number {
    return this.#writes.queuedTurns(callSid);
  }

  async #timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const end = this.#metrics?.redisLatency.startTimer({ op });
    try {
      return await fn();
    } finally {
      end?.();
    }
  }

  /** Redis unavailable: queued and replayed (resolves true), so the live call's session still appears. */
  async create(init: SessionInit): Promise<boolean> {
    assertCallSid(init.callSid);
    const now = new Date().toISOString();
    const hash = toHash({ ...SESSION_DEFAULTS, ...init });
    const fields = Object.entries({ ...hash, createdAt: now, updatedAt: now }).flat();
    const write = { op: 'create', fields, expiresAtMs: Date.now() + this.#ttlMs } as const;
    return (await this.#writes.submit(init.callSid, write)) === 1;
  }

  async get(callSid: string): Promise<Session | null> {
    assertCallSid(callSid);
    const h = await this.#timed('get', () => this.#redis.hgetall(callKeys(this.#prefix, callSid).session));
    return fromHash(h);
  }

  /** Redis unavailable: queued behind the call's earlier writes and replayed (resolves true). */
  async update(callSid: string, patch: SessionPatch): Promise<boolean> {
    assertCallSid(callSid);
    const { collected, ...rest } = patch;
    const fields = { ...toHash(rest), updatedAt: new Date().toISOString() };
    const merge = collected && Object.keys(collected).length > 0 ? collected : null;
    return (await this.#writes.submit(callSid, { op: 'update', fields, collected: merge })) === 1;
  }

  /** Redis unavailable: queued behind the call's earlier writes and replayed in order (resolves -1). */
  async appendTurn(callSid: string, turn: Turn): Promise<number> {
    assertCallSid(callSid);
    return this.#writes.submit(callSid, { op: 'append', value: encodeTurn(this.#cipher, turn) });
  }

  async turns(callSid: string): Promise<Turn[]> {
    assertCallSid(callSid);
    const values = await this.#timed('turns', () =>
      this.#redis.lrange(callKeys(this.#prefix, callSid).turns, 0, -1),
    );
    return values.map((v) => decodeTurn(this.#cipher, v));
  }

  /** Drops the call's queued writes; Redis unavailable, the keys are deleted once it answers. */
  async delete(callSid: string): Promise<void> {
    assertCallSid(callSid);
    await this.#writes.remove(callSid);
  }

  async acquireLock(callSid: string, owner: string, ttlMs: number): Promise<boolean> {
    assertCallSid(callSid);
    const res = await this.#timed('lock', () =>
      this.#redis.set(callKeys(this.#prefix, callSid).lock, owner, 'PX', ttlMs, 'NX'),
    );
    return res === 'OK';
  }

  /** The call's queued writes get one more try first; none is replayed once the lock is let go. */
  async releaseLock(callSid: string, owner: string): Promise<void> {
    assertCallSid(callSid);
    await this.#writes.settle(callSid, async () => {
      await this.#timed('unlock', () =>
        this.#redis.baylineRelease(callKeys(this.#prefix, callSid).lock, owner),
      );
    });
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
    await this.#writes.close();
  }

  async #single(callSid: string, write: SessionWrite): Promise<number> {
    const keys = callKeys(this.#prefix, callSid);
    switch (write.op) {
      case 'create': {
        const ttl = String(Math.max(1, write.expiresAtMs - Date.now()));
        const n = await this.#timed('create', () =>
          this.#redis.baylineCreate(keys.session, ttl, ...write.fields),
        );
        if (n === 1) this.#indexLive(callSid, write.expiresAtMs);
        return n;
      }
      case 'update': {
        const merge = write.collected ? JSON.stringify(write.collected) : '';
        const args = Object.entries(write.fields).flat();
        return this.#timed('update', () => this.#redis.baylineUpdate(keys.session, merge, ...args));
      }
      case 'append':
        return this.#timed('append', () => this.#redis.baylineAppend(keys.session, keys.turns, write.value));
    }
  }

  async #replay(callSid: string, batch: SessionBatch): Promise<number> {
    const keys = callKeys(this.#prefix, callSid);
    const create = batch.create?.fields ?? [];
    const ttl = batch.create ? String(Math.max(1, batch.create.expiresAtMs - Date.now())) : '0';
    const merge = batch.collected ? JSON.stringify(batch.collected) : '';
    const fields = Object.entries(batch.fields).flat();
    const args = [
      ttl,
      String(create.length),
      merge,
      String(fields.length),
      ...create,
      ...fields,
      ...batch.turns,
    ];
    const n = await this.#timed('replay', () => this.#redis.baylineReplay(keys.session, keys.turns, ...args));
    if (batch.create && n >= 0) this.#indexLive(callSid, batch.create.expiresAtMs);
    return n;
  }

  async #remove(callSid: string): Promise<void> {
    const keys = callKeys(this.#prefix, callSid);
    await this.#timed('delete', () => this.#redis.del(keys.session, keys.turns));
    await this.#redis.zrem(liveIndexKey(this.#prefix), callSid).catch(() => undefined);
  }

  /** The live index is a convenience for the dashboard; it lives in its own slot. */
  #indexLive(callSid: string, expiresAtMs: number): void {
    void this.#redis.zadd(liveIndexKey(this.#prefix), expiresAtMs, callSid).catch(() => undefined);
  }
}
