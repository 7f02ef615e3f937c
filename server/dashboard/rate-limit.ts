/**
 * Fixed-window rate limits on the shared key-value store (Redis in production, so every instance
 * counts together). Windows are aligned to the clock, so the reset time is known without asking
 * Redis for a TTL: one INCR round trip per check.
 */
import { createHmac } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { PiiCipher } from '../platform/crypto';
import type { Kv } from '../platform/kv';
import { AppError } from '../platform/errors';
import type { RateLimitRule } from './policy';

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetS: number;
  windowS: number;
  allowed: boolean;
}

// A label no phone number can equal: the blind index of it is a key of its own, not a phone's index.
const SUBJECT_KEY_LABEL = 'bayline/abuse-subjects/v1';

/**
 * The key for subjects in key names, derived from the PII index key (HMAC of a fixed label): every
 * instance derives the same one, so they count together, and it never rotates, so counters and
 * locks survive a key rotation.
 */
export function subjectKeyFrom(cipher: Pick<PiiCipher, 'blindIndex'>): Buffer {
  return Buffer.from(cipher.blindIndex(SUBJECT_KEY_LABEL), 'base64url');
}

/**
 * How a subject (an address, an e-mail) appears in a key name. Keyed, because the subjects are few
 * enough to enumerate: every IPv4 address, a list of staff e-mails.
 */
export function subjectId(subjectKey: Buffer, subject: string): string {
  return createHmac('sha256', subjectKey).update(subject).digest('base64url').slice(0, 22);
}

export class RateLimiter {
  readonly #kv: Kv;
  readonly #now: () => number;
  readonly #subjectKey: Buffer;

  constructor(kv: Kv, subjectKey: Buffer, now: () => number = Date.now) {
    this.#kv = kv;
    this.#now = now;
    this.#subjectKey = subjectKey;
  }

  /** Counts one request against `bucket` and says whether it is within the rule. */
  async hit(bucket: string, subject: string, rule: RateLimitRule): Promise<RateLimitState> {
    const now = this.#now();
    const window = Math.floor(now / rule.windowMs);
    const resetMs = (window + 1) * rule.windowMs - now;
    // No key names a person or an address, nor a hash anyone could match by enumeration.
    const id = subjectId(this.#subjectKey, subject);
    const count = await this.#kv.incr(`rl:${bucket}:${id}:${window}`, resetMs + 1000);
    return {
      limit: rule.limit,
      remaining: Math.max(0, rule.limit - count),
      resetS: Math.max(1, Math.ceil(resetMs / 1000)),
      windowS: Math.ceil(rule.windowMs / 1000),
      allowed: count <= rule.limit,
    };
  }
}

/** RateLimit-* headers (IETF httpapi draft) on every limited response; Retry-After when refused. */
export function setRateLimitHeaders(reply: FastifyReply, s: RateLimitState): void {
  reply.header('RateLimit-Limit', String(s.limit));
  reply.header('RateLimit-Remaining', String(s.remaining));
  reply.header('RateLimit-Reset', String(s.resetS));
  reply.header('RateLimit-Policy', `${s.limit};w=${s.windowS}`);
  if (!s.allowed) reply.header('Retry-After', String(s.resetS));
}

export class RateLimitedError extends AppError {
  readonly retryAfterS: number;
  constructor(retryAfterS: number, code = 'RATE_LIMITED', message = 'Too many requests; try again later') {
    super(code, message, { statusCode: 429, retryable: true });
    this.retryAfterS = retryAfterS;
  }
}
