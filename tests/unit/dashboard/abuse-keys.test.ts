/**
 * Rate-limit and login-failure counters live in Redis under names derived from client addresses and
 * e-mails. Those are few enough to enumerate, so the names carry an HMAC under a key derived from the
 * PII index key, never a plain hash anyone could recompute.
 */
import { createHash } from 'node:crypto';
import type { Accounts } from '../../../server/dashboard/accounts';
import { LoginService } from '../../../server/dashboard/login';
import { DEFAULT_POLICY } from '../../../server/dashboard/policy';
import { RateLimiter, subjectKeyFrom } from '../../../server/dashboard/rate-limit';
import { MemoryKv } from '../../../server/platform/kv';
import { PiiCipher } from '../../../server/platform/crypto';
import { testKeys } from '../../support/keys';

/** A Kv that remembers every key name it was asked about. */
class RecordingKv extends MemoryKv {
  readonly names = new Set<string>();
  override async get(key: string) {
    this.names.add(key);
    return super.get(key);
  }
  override async set(key: string, value: string, ttlMs: number) {
    this.names.add(key);
    return super.set(key, value, ttlMs);
  }
  override async incr(key: string, ttlMs: number) {
    this.names.add(key);
    return super.incr(key, ttlMs);
  }
  override async del(...keys: string[]) {
    for (const k of keys) this.names.add(k);
    return super.del(...keys);
  }
}

const plainHash = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 22);
const rule = { limit: 5, windowMs: 60_000 };

describe('subject key', () => {
  it('is derived from the PII index key: the same on every instance, different per deployment', () => {
    const { keys, indexKey } = testKeys();
    const a = subjectKeyFrom(new PiiCipher(keys, indexKey));
    const b = subjectKeyFrom(new PiiCipher(testKeys().keys, indexKey));
    const other = subjectKeyFrom(new PiiCipher(keys, testKeys().indexKey));
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(other)).toBe(false);
    expect(a.equals(indexKey)).toBe(false);
  });
});

describe('rate-limit key names', () => {
  it('carry a keyed hash of the address: not the address, not its plain SHA-256', async () => {
    const { keys, indexKey } = testKeys();
    const subjectKey = subjectKeyFrom(new PiiCipher(keys, indexKey));
    const kv = new RecordingKv();
    await new RateLimiter(kv, subjectKey).hit('login', '192.0.2.55', rule);
    const [name] = [...kv.names];
    expect(name).toMatch(/^rl:login:[A-Za-z0-9_-]{22}:\d+$/);
    expect(name).not.toContain('192.0.2.55');
    expect(name).not.toContain(plainHash('192.0.2.55'));
  });

  it('instances with the same key count together; another deployment names the address differently', async () => {
    const { keys, indexKey } = testKeys();
    const kv = new RecordingKv();
    const key = subjectKeyFrom(new PiiCipher(keys, indexKey));
    const one = new RateLimiter(kv, key);
    const two = new RateLimiter(kv, Buffer.from(key));
    await one.hit('login', '192.0.2.56', rule);
    expect((await two.hit('login', '192.0.2.56', rule)).remaining).toBe(3);
    const elsewhere = new RateLimiter(kv, subjectKeyFrom(new PiiCipher(keys, testKeys().indexKey)));
    expect((await elsewhere.hit('login', '192.0.2.56', rule)).remaining).toBe(4);
  });
});

describe('login counter key names', () => {
  it('carry a keyed hash of the e-mail, and an unlock clears the same names', async () => {
    const { keys, indexKey } = testKeys();
    const kv = new RecordingKv();
    const login = new LoginService({
      accounts: {
        userByEmail: async () => null,
        recordFailedLogin: async () => undefined,
        clearFailedLogins: async () => undefined,
      } as unknown as Accounts,
      kv,
      policy: { ...DEFAULT_POLICY, failureDelayBaseMs: 1, failureDelayMaxMs: 1 },
      subjectKey: subjectKeyFrom(new PiiCipher(keys, indexKey)),
    });
    const email = 'dana@example.com';
    expect((await login.attempt(email, 'not her password')).ok).toBe(false);
    const names = [...kv.names].sort();
    expect(names).toEqual([
      expect.stringMatching(/^login:fail:[A-Za-z0-9_-]{22}$/),
      expect.stringMatching(/^login:lock:[A-Za-z0-9_-]{22}$/),
    ]);
    for (const n of names) {
      expect(n).not.toContain(plainHash(`login:${email}`));
      expect(n).not.toContain('dana');
    }
    kv.names.clear();
    await login.unlock({ id: 'u1', email } as Parameters<LoginService['unlock']>[0]);
    expect([...kv.names].sort()).toEqual(names);
  });
});
