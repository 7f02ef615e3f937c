/**
 * Password login with per-account abuse limits. Every attempt for one e-mail is counted (before the
 * password is checked, so parallel guesses count too); failures answer ever more slowly, and after
 * `maxFailedLogins` the account is locked for `lockMs`. Unknown e-mails go through exactly the same
 * steps (a dummy hash, the same counters, the same lock), so no answer and no timing says whether
 * an account exists. Password checks go through a process-wide ceiling (`LOGIN_HASH_SLOTS`): beyond
 * it an attempt is refused as busy, without counting against the account.
 */
import type { Kv } from '../platform/kv';
import { AppError } from '../platform/errors';
import type { Accounts, StaffUser } from './accounts';
import { dummyHash, LOGIN_HASH_SLOTS, verifyPassword, type HashSlots } from './passwords';
import type { StaffPolicy } from './policy';
import { RateLimitedError, subjectId } from './rate-limit';

export class InvalidCredentialsError extends AppError {
  constructor() {
    super('INVALID_CREDENTIALS', 'That e-mail and password do not match an account', { statusCode: 401 });
  }
}

export class LoginLockedError extends RateLimitedError {
  constructor(retryAfterS: number) {
    super(
      retryAfterS,
      'LOGIN_LOCKED',
      'Too many failed attempts for this account; wait and try again, or ask an administrator',
    );
  }
}

/** Too many password checks in flight on this instance; says nothing about the account. */
export class LoginBusyError extends RateLimitedError {
  constructor() {
    super(1, 'LOGIN_BUSY', 'Too many sign-ins are being checked right now; try again in a moment');
  }
}

export type LoginResult =
  | { ok: true; user: StaffUser }
  | {
      ok: false;
      error: InvalidCredentialsError | LoginLockedError | LoginBusyError;
      user: StaffUser | null;
      locked: boolean;
    };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LoginService {
  readonly #accounts: Accounts;
  readonly #kv: Kv;
  readonly #policy: StaffPolicy;
  readonly #now: () => number;
  readonly #slots: HashSlots;
  readonly #subjectKey: Buffer;

  constructor(opts: {
    accounts: Accounts;
    kv: Kv;
    policy: StaffPolicy;
    now?: () => number;
    /** The ceiling on password checks at once; the process-wide one unless a test gives its own. */
    slots?: HashSlots;
    /** Keys the e-mail's hash in key names (see `subjectKeyFrom`). */
    subjectKey: Buffer;
  }) {
    this.#accounts = opts.accounts;
    this.#kv = opts.kv;
    this.#policy = opts.policy;
    this.#now = opts.now ?? Date.now;
    this.#slots = opts.slots ?? LOGIN_HASH_SLOTS;
    this.#subjectKey = opts.subjectKey;
  }

  #keys(email: string): { lockKey: string; failKey: string } {
    const h = subjectId(this.#subjectKey, `login:${email}`);
    return { lockKey: `login:lock:${h}`, failKey: `login:fail:${h}` };
  }

  async attempt(email: string, password: string): Promise<LoginResult> {
    const p = this.#policy;
    const { lockKey, failKey } = this.#keys(email);
    const now = this.#now();
    const [lockedUntilRaw, user] = await Promise.all([
      this.#kv.get(lockKey),
      this.#accounts.userByEmail(email),
    ]);
    const lockedUntil = Math.max(Number(lockedUntilRaw ?? 0), user?.lockedUntil?.getTime() ?? 0);
    if (lockedUntil > now) {
      return {
        ok: false,
        error: new LoginLockedError(Math.ceil((lockedUntil - now) / 1000)),
        user,
        locked: false,
      };
    }
    // The slot comes before the count: an attempt refused for load is not a failure of the account.
    const release = await this.#slots.acquire();
    if (!release) return { ok: false, error: new LoginBusyError(), user, locked: false };
    let n: number;
    let verified: boolean;
    try {
      n = await this.#kv.incr(failKey, p.failureWindowMs);
      if (n > p.maxFailedLogins) {
        return { ok: false, error: new LoginLockedError(Math.ceil(p.lockMs / 1000)), user, locked: false };
      }
      const hash = user && !user.disabledAt ? user.passwordHash : await dummyHash();
      verified = await verifyPassword(password, hash);
    } finally {
      release();
    }
    if (verified && user && !user.disabledAt) {
      await Promise.all([this.#kv.del(failKey), this.#accounts.clearFailedLogins(user.id)]);
      return { ok: true, user };
    }
    const locking = n >= p.maxFailedLogins;
    const until = now + p.lockMs;
    // The database write happens only for real accounts; it runs under the delay so it cannot be timed.
    await Promise.all([
      sleep(Math.min(p.failureDelayBaseMs * 2 ** (n - 1), p.failureDelayMaxMs)),
      locking ? this.#kv.set(lockKey, String(until), p.lockMs) : undefined,
      locking ? this.#kv.del(failKey) : undefined,
      user ? this.#accounts.recordFailedLogin(user.id, locking ? new Date(until) : null) : undefined,
    ]);
    return { ok: false, error: new InvalidCredentialsError(), user, locked: locking };
  }

  /** An administrator's unlock: clears the counters in both stores. */
  async unlock(user: StaffUser): Promise<void> {
    const { lockKey, failKey } = this.#keys(user.email);
    await Promise.all([this.#kv.del(lockKey, failKey), this.#accounts.clearFailedLogins(user.id)]);
  }
}
