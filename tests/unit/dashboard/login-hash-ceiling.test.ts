/**
 * Password checks are memory-hard and run on libuv's small thread pool, and anyone can ask for one:
 * the login path lets only a few run at once in the process, queues a few more briefly, and refuses
 * the rest as busy without counting them against the account.
 */
import type { Accounts } from '../../../server/dashboard/accounts';
import { LoginService } from '../../../server/dashboard/login';
import { DEFAULT_POLICY } from '../../../server/dashboard/policy';
import { MemoryKv, type Kv } from '../../../server/platform/kv';

const mockChecks = { active: 0, peak: 0, total: 0 };
jest.mock('../../../server/dashboard/passwords', () => {
  const actual = jest.requireActual('../../../server/dashboard/passwords');
  return {
    ...actual,
    dummyHash: async () => 'scrypt$15$8$1$AAAA$AAAA',
    // Stands in for scrypt: takes a while, and says how many ran at once.
    verifyPassword: async () => {
      mockChecks.active++;
      mockChecks.total++;
      mockChecks.peak = Math.max(mockChecks.peak, mockChecks.active);
      await new Promise((r) => setTimeout(r, 20));
      mockChecks.active--;
      return false;
    },
  };
});

/** A Kv that remembers which counters were created. */
class CountingKv extends MemoryKv {
  readonly counted = new Set<string>();
  override async incr(key: string, ttlMs: number): Promise<number> {
    this.counted.add(key);
    return super.incr(key, ttlMs);
  }
}

const noAccounts = {
  userByEmail: async () => null,
  recordFailedLogin: async () => undefined,
  clearFailedLogins: async () => undefined,
} as unknown as Accounts;

const service = (kv: Kv) =>
  new LoginService({
    accounts: noAccounts,
    kv,
    policy: { ...DEFAULT_POLICY, failureDelayBaseMs: 1, failureDelayMaxMs: 1 },
    subjectKey: Buffer.alloc(32, 1),
  });

it('a burst of 50 logins runs at most two password checks at once; the overflow is refused, not counted', async () => {
  const kv = new CountingKv();
  const login = service(kv);
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => login.attempt(`burst${i}@bayline.test`, 'a guess at it')),
  );
  expect(mockChecks.peak).toBeLessThanOrEqual(2);
  const codes = results.map((r) => (r.ok ? 'OK' : r.error.code));
  const busy = codes.filter((c) => c === 'LOGIN_BUSY').length;
  const checked = codes.filter((c) => c === 'INVALID_CREDENTIALS').length;
  expect(busy + checked).toBe(50);
  // Two running and a queue of 32 are served; the rest are told to come back.
  expect(checked).toBeGreaterThanOrEqual(34);
  expect(busy).toBeGreaterThan(0);
  expect(mockChecks.total).toBe(checked);
  // Only checked attempts count against their accounts.
  expect(kv.counted.size).toBe(checked);
  for (const r of results)
    if (!r.ok && r.error.code === 'LOGIN_BUSY') {
      expect(r.error.statusCode).toBe(429);
      expect(r.locked).toBe(false);
    }
  // Once the burst is over, the slots are free again.
  const after = await login.attempt('after@bayline.test', 'a guess at it');
  expect(after.ok === false && after.error.code).toBe('INVALID_CREDENTIALS');
});
