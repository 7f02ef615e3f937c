/**
 * Fixed-window rate limits on the shared key-value store (Redis in production, so every instance
 * counts together). Windows are aligned to the clock, so the reset time is known without asking
 * Redis for a TTL: one INCR round trip per check.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
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

export class RateLimiter {
  readonly #kv: Kv;
  readonly #now: () => number;

  constructor(kv: Kv, now: () => number = Date.now) {
    this.#kv = kv;
    this.#now = now;
  }

  /** Counts one request against `bucket` and says whether it is within the rule. */
  async hit(bucket: string, subject: string, rule: RateLimitRule): Promise<RateLimitState> {
    const now = this.#now();
    const window = Math.floor(now / rule.windowMs);
    const resetMs = (window + 1) * rule.windowMs - now;
    // Subjects (addresses, e-mails) are hashed: no key names a person or an address.
    const id = createHash('sha256').update(subject).digest('base64url').slice(0, 22);
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
