import type { PiiCipher } from '../platform/crypto';
import { SESSION_DEFAULTS, assertCallSid, decodeTurn, encodeTurn, fromHash, toHash } from './codec';
import type { Session, SessionInit, SessionPatch, SessionStore, Turn } from './types';

interface Entry {
  hash: Record<string, string>;
  turns: string[];
  expiresAt: number;
}

/**
 * The embedded, single-instance store: same interface and semantics as Redis (TTL fixed at create,
 * atomic updates, encrypted turns, exclusive locks). Expiry is lazy plus a slow unref'd sweep.
 */
export class MemorySessionStore implements SessionStore {
  readonly backend = 'memory' as const;
  readonly #entries = new Map<string, Entry>();
  readonly #locks = new Map<string, { owner: string; expiresAt: number }>();
  readonly #ttlMs: number;
  readonly #cipher: PiiCipher;
  readonly #sweep: NodeJS.Timeout;

  constructor(opts: { ttlSeconds: number; cipher: PiiCipher }) {
    this.#ttlMs = opts.ttlSeconds * 1000;
    this.#cipher = opts.cipher;
    this.#sweep = setInterval(() => this.#sweepExpired(), 10_000).unref();
  }

  #live(callSid: string): Entry | undefined {
    const e = this.#entries.get(callSid);
    if (e && e.expiresAt <= Date.now()) {
      this.#entries.delete(callSid);
      return undefined;
    }
    return e;
  }

  #sweepExpired(): void {
    const now = Date.now();
    for (const [sid, e] of this.#entries) if (e.expiresAt <= now) this.#entries.delete(sid);
    for (const [sid, l] of this.#locks) if (l.expiresAt <= now) this.#locks.delete(sid);
  }

  async create(init: SessionInit): Promise<boolean> {
    assertCallSid(init.callSid);
    if (this.#live(init.callSid)) return false;
    const now = new Date().toISOString();
    const hash = { ...toHash({ ...SESSION_DEFAULTS, ...init }), createdAt: now, updatedAt: now };
    this.#entries.set(init.callSid, { hash, turns: [], expiresAt: Date.now() + this.#ttlMs });
    return true;
  }

  async get(callSid: string): Promise<Session | null> {
    assertCallSid(callSid);
    const e = this.#live(callSid);
    return e ? fromHash(e.hash) : null;
  }

  async update(callSid: string, patch: SessionPatch): Promise<boolean> {
    assertCallSid(callSid);
    const e = this.#live(callSid);
    if (!e) return false;
    const { collected, ...rest } = patch;
    if (collected) {
      const current = JSON.parse(e.hash.collected ?? '{}') as Record<string, unknown>;
      e.hash.collected = JSON.stringify({ ...current, ...collected });
    }
    Object.assign(e.hash, toHash(rest), { updatedAt: new Date().toISOString() });
    return true;
  }

  async appendTurn(callSid: string, turn: Turn): Promise<number> {
    assertCallSid(callSid);
    const e = this.#live(callSid);
    if (!e) return 0;
    return e.turns.push(encodeTurn(this.#cipher, turn));
  }

  async turns(callSid: string): Promise<Turn[]> {
    assertCallSid(callSid);
    return (this.#live(callSid)?.turns ?? []).map((t) => decodeTurn(this.#cipher, t));
  }

  async delete(callSid: string): Promise<void> {
    assertCallSid(callSid);
    this.#entries.delete(callSid);
  }

  async acquireLock(callSid: string, owner: string, ttlMs: number): Promise<boolean> {
    assertCallSid(callSid);
    const held = this.#locks.get(callSid);
    if (held && held.expiresAt > Date.now()) return false;
    this.#locks.set(callSid, { owner, expiresAt: Date.now() + ttlMs });
    return true;
  }

  async releaseLock(callSid: string, owner: string): Promise<void> {
    assertCallSid(callSid);
    if (this.#locks.get(callSid)?.owner === owner) this.#locks.delete(callSid);
  }

  async isLocked(callSid: string): Promise<boolean> {
    assertCallSid(callSid);
    const held = this.#locks.get(callSid);
    return held !== undefined && held.expiresAt > Date.now();
  }

  async listLive(limit = 200): Promise<Session[]> {
    const out: Session[] = [];
    for (const sid of this.#entries.keys()) {
      const e = this.#live(sid);
      const s = e && fromHash(e.hash);
      if (s) out.push(s);
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
  }

  async ttlMs(callSid: string): Promise<number> {
    const e = this.#live(callSid);
    return e ? e.expiresAt - Date.now() : -2;
  }

  async ping(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    this.#entries.clear();
    this.#locks.clear();
  }
}
