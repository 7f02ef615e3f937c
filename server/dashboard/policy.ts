/**
 * The staff side's security numbers in one place. Defaults are what production runs; tests pass
 * smaller ones through `createStaffRoutes(options)` only where waiting for the real ones would be slow.
 */
export interface RateLimitRule {
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
}

export interface StaffPolicy {
  /** A session token's life; it is re-issued (sliding) while the staff member is active. */
  tokenTtlMs: number;
  /** A token older than this is re-issued on the next request, under the current signing key. */
  refreshAfterMs: number;
  /** No session outlives this from the moment of login, however active. */
  sessionMaxMs: number;
  /**
   * A previous signing key still verifies tokens it signed up to this long after this instance
   * started with the new key (a rolling deploy); such tokens are re-signed with the new key on use.
   */
  keyRotationGraceMs: number;
  /** Failed logins for one account (within `failureWindowMs`) before it is locked. */
  maxFailedLogins: number;
  failureWindowMs: number;
  lockMs: number;
  /** A failed login answers after base·2^(n-1) ms (n: failures so far), at most `failureDelayMaxMs`. */
  failureDelayBaseMs: number;
  failureDelayMaxMs: number;
  loginRate: RateLimitRule;
  /** Per authenticated principal (staff member or API key) on /api/*. */
  apiRate: RateLimitRule;
  /** Per client address, counting only requests that fail authentication on /api/*. */
  apiAuthFailureRate: RateLimitRule;
  /** Live-calls view refresh period, told to the page's script. */
  livePollMs: number;
}

const MINUTE = 60_000;

export const DEFAULT_POLICY: Readonly<StaffPolicy> = Object.freeze({
  tokenTtlMs: 30 * MINUTE,
  refreshAfterMs: 5 * MINUTE,
  sessionMaxMs: 12 * 60 * MINUTE,
  keyRotationGraceMs: 10 * MINUTE,
  maxFailedLogins: 5,
  failureWindowMs: 15 * MINUTE,
  lockMs: 15 * MINUTE,
  failureDelayBaseMs: 150,
  failureDelayMaxMs: 2400,
  loginRate: { limit: 20, windowMs: MINUTE },
  apiRate: { limit: 300, windowMs: MINUTE },
  apiAuthFailureRate: { limit: 30, windowMs: MINUTE },
  livePollMs: 3000,
});

export const ROLES = ['staff', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Minimum length of a chosen password; one-time passwords are generated longer. */
export const MIN_PASSWORD_LENGTH = 12;
/** Bounds the work a single login can ask of the password hash. */
export const MAX_PASSWORD_LENGTH = 256;
