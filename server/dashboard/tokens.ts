/**
 * Staff session tokens: compact JWS (HS256) with a `kid` header naming the AUTH_SIGNING_KEYS version
 * that signed it. The highest version signs; an older one still verifies what it signed for a grace
 * period after this instance started with the newer key, so a key rotation logs nobody out.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SessionClaims {
  /** staff_users.id */
  sub: string;
  /** Session id: logout revokes it, and with it every token re-issued from the same login. */
  sid: string;
  /** The session's CSRF token; pages echo it in forms and the X-CSRF-Token header. */
  csrf: string;
  /** Fingerprint of the password hash at login: changing the password ends every older session. */
  pv: string;
  /** Login time (seconds); bounds the session's whole life. */
  auth: number;
  iat: number;
  exp: number;
}

export type VerifyResult =
  | { ok: true; claims: SessionClaims; kid: number; stale: boolean }
  | { ok: false; reason: 'malformed' | 'unknown_key' | 'bad_signature' | 'expired' | 'retired_key' };

const HEADER_RE = /^[A-Za-z0-9_-]+$/;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function parseJson(part: string): Record<string, unknown> | null {
  if (!HEADER_RE.test(part)) return null;
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function isClaims(p: Record<string, unknown>): p is Record<string, unknown> & SessionClaims {
  return (
    ['sub', 'sid', 'csrf', 'pv'].every((k) => typeof p[k] === 'string' && (p[k] as string).length > 0) &&
    ['auth', 'iat', 'exp'].every((k) => Number.isSafeInteger(p[k]))
  );
}

export class TokenSigner {
  readonly currentKid: number;
  readonly #keys: ReadonlyMap<number, Buffer>;
  readonly #ttlS: number;
  readonly #refreshAfterS: number;
  readonly #maxS: number;
  readonly #retireAtS: number;
  readonly #now: () => number;

  constructor(
    keys: ReadonlyMap<number, Buffer>,
    opts: {
      ttlMs: number;
      refreshAfterMs: number;
      sessionMaxMs: number;
      graceMs: number;
      /** When this instance started with this key list (ms since epoch). */
      startedAt?: number;
      now?: () => number;
    },
  ) {
    if (keys.size === 0) throw new Error('at least one auth signing key is required');
    for (const [kid, key] of keys)
      if (key.length < 32) throw new Error(`auth signing key ${kid} is shorter than 32 bytes`);
    this.#keys = keys;
    this.currentKid = Math.max(...keys.keys());
    this.#now = opts.now ?? Date.now;
    this.#ttlS = Math.floor(opts.ttlMs / 1000);
    this.#refreshAfterS = Math.floor(opts.refreshAfterMs / 1000);
    this.#maxS = Math.floor(opts.sessionMaxMs / 1000);
    this.#retireAtS = Math.floor(((opts.startedAt ?? this.#now()) + opts.graceMs) / 1000);
  }

  /** Seconds since the epoch, the unit JWT claims use. */
  nowS(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** A fresh token for the session: current key, iat now, expiry capped by the session's life. */
  sign(session: Omit<SessionClaims, 'iat' | 'exp'>, kid = this.currentKid, iat = this.nowS()): string {
    const key = this.#keys.get(kid);
    if (!key) throw new Error(`no auth signing key ${kid}`);
    const exp = Math.min(iat + this.#ttlS, session.auth + this.#maxS);
    const body = `${b64({ alg: 'HS256', typ: 'JWT', kid: String(kid) })}.${b64({ ...session, iat, exp })}`;
    return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
  }

  verify(token: string): VerifyResult {
    const parts = token.split('.');
    if (parts.length !== 3 || token.length > 4096) return { ok: false, reason: 'malformed' };
    const [h, p, s] = parts as [string, string, string];
    const header = parseJson(h);
    if (!header || header.alg !== 'HS256' || typeof header.kid !== 'string' || !/^\d{1,6}$/.test(header.kid))
      return { ok: false, reason: 'malformed' };
    const kid = Number(header.kid);
    const key = this.#keys.get(kid);
    if (!key) return { ok: false, reason: 'unknown_key' };
    const expected = createHmac('sha256', key).update(`${h}.${p}`).digest();
    const given = Buffer.from(s, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return { ok: false, reason: 'bad_signature' };
    const payload = parseJson(p);
    if (!payload || !isClaims(payload)) return { ok: false, reason: 'malformed' };
    const now = this.nowS();
    const c = payload;
    // Each bound is checked, not trusted from the token: a lifetime longer than ours, an issue time
    // in the future or a login older than the session's maximum are refused even when signed.
    if (
      c.exp <= now ||
      c.iat > now + 60 ||
      c.exp - c.iat > this.#ttlS ||
      c.auth > c.iat ||
      now - c.auth > this.#maxS
    )
      return { ok: false, reason: 'expired' };
    if (kid !== this.currentKid && c.iat > this.#retireAtS) return { ok: false, reason: 'retired_key' };
    const claims: SessionClaims = {
      sub: c.sub,
      sid: c.sid,
      csrf: c.csrf,
      pv: c.pv,
      auth: c.auth,
      iat: c.iat,
      exp: c.exp,
    };
    return { ok: true, claims, kid, stale: kid !== this.currentKid || now - c.iat >= this.#refreshAfterS };
  }
}
