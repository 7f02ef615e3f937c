import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../../server/config';
import { appFor, appWithPolicy, auditRows, createEnv, login, makeUser, PASSWORD, type Env } from './support';

let env: Env;
let app: FastifyInstance;
beforeAll(async () => {
  env = await createEnv();
  // Many clients behind one proxy: inject()'s peer (127.0.0.1) is the proxy, X-Forwarded-For the client.
  app = await appFor(env, {
    config: loadConfig({ REDIS_KEY_PREFIX: env.tr.prefix, TRUST_PROXY: '127.0.0.1' }),
  });
});
afterAll(async () => {
  await app.close();
  await env.close();
});

/** Windows are aligned to the minute: start a counting test well inside one, never across two. */
async function freshWindow(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 8000) await new Promise((r) => setTimeout(r, left + 50));
}

const attempt = (a: FastifyInstance, email: string, password: string, ip = '203.0.113.7') =>
  a.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'x-forwarded-for': ip },
    payload: { email, password },
  });

describe('login abuse limits (production policy)', () => {
  it('failures for one account slow down, then lock it; an unknown e-mail behaves the same', async () => {
    const u = await makeUser(env, 'staff');
    const ghost = 'nobody-here@bayline.test';
    // Both accounts at once: the delays are the point, and they run in parallel.
    const tries = async (email: string, n: number) => {
      const timings: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const res = await attempt(app, email, 'wrong password!', `198.51.100.${n * 10 + i}`);
        timings.push(performance.now() - started);
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual({
          error: { code: 'INVALID_CREDENTIALS', message: 'That e-mail and password do not match an account' },
        });
      }
      const locked = await attempt(app, email, n === 0 ? PASSWORD : 'anything at all', '198.51.100.99');
      return { timings, locked };
    };
    for (const { timings, locked } of await Promise.all([tries(u.email, 0), tries(ghost, 1)])) {
      // 150, 300, 600, 1200, 2400 ms of deliberate delay (plus the hash itself).
      expect(timings[4]!).toBeGreaterThan(timings[0]! + 1500);
      expect(locked.statusCode).toBe(429);
      expect(locked.json()).toMatchObject({ error: { code: 'LOGIN_LOCKED' } });
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
    }
    const row = await env.accounts.userById(u.id);
    expect(row?.failedLogins).toBe(5);
    expect(row?.lockedUntil?.getTime()).toBeGreaterThan(Date.now() + 14 * 60_000);
    expect((await auditRows(env, 'auth.locked')).map((r) => r.target_id).sort()).toEqual([u.id, null].sort());
    // An administrator's unlock (the users page) lets the right password in again.
    const adminSession = await login(app, (await makeUser(env, 'admin')).email);
    const unlock = await app.inject({
      method: 'POST',
      url: `/dashboard/admin/users/${u.id}/unlock`,
      headers: { cookie: adminSession.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `_csrf=${encodeURIComponent(adminSession.csrf)}`,
    });
    expect(unlock.statusCode).toBe(303);
    expect((await attempt(app, u.email, PASSWORD)).statusCode).toBe(200);
    expect((await env.accounts.userById(u.id))?.failedLogins).toBe(0);
  }, 30_000);

  it('login is rate limited per address with RateLimit-* headers and Retry-After', async () => {
    const ip = '192.0.2.55';
    await freshWindow();
    const first = await attempt(app, 'someone@bayline.test', '', ip);
    expect(first.statusCode).toBe(400);
    expect(first.headers['ratelimit-limit']).toBe('20');
    expect(first.headers['ratelimit-remaining']).toBe('19');
    expect(Number(first.headers['ratelimit-reset'])).toBeGreaterThan(0);
    expect(first.headers['ratelimit-policy']).toBe('20;w=60');
    for (let i = 0; i < 19; i++) await attempt(app, 'someone@bayline.test', '', ip);
    const refused = await attempt(app, 'someone@bayline.test', '', ip);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(refused.headers['ratelimit-remaining']).toBe('0');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    // Another address is not affected: the counter lives in Redis under a hashed address.
    expect((await attempt(app, 'someone@bayline.test', '', '192.0.2.56')).statusCode).toBe(400);
    const keys = await env.tr.keys();
    expect(keys.some((k) => k.includes(':rl:login:'))).toBe(true);
    expect(keys.some((k) => k.includes('192.0.2'))).toBe(false);
  });

  it('unauthenticated API requests are limited per address (30 a minute by default)', async () => {
    let last;
    await freshWindow();
    for (let i = 0; i < 31; i++)
      last = await app.inject({ url: '/api/me', headers: { 'x-forwarded-for': '192.0.2.77' } });
    expect(last?.statusCode).toBe(429);
    expect(last?.headers['retry-after']).toBeDefined();
  });
});

describe('API rate limit per principal', () => {
  it('counts each staff member and key separately, with standard headers', async () => {
    const small = await appWithPolicy(env, { policy: { apiRate: { limit: 3, windowMs: 60_000 } } });
    const { key } = await env.accounts.createApiKey('busy script', 'staff');
    const { key: other } = await env.accounts.createApiKey('quiet script', 'staff');
    const call = (k: string) => small.inject({ url: '/api/me', headers: { authorization: `Bearer ${k}` } });
    const seen = [];
    await freshWindow();
    for (let i = 0; i < 4; i++) seen.push(await call(key));
    expect(seen.map((r) => r.statusCode)).toEqual([200, 200, 200, 429]);
    expect(seen.map((r) => r.headers['ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
    expect(seen[3]?.headers['retry-after']).toBeDefined();
    expect(seen[3]?.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect((await call(other)).statusCode).toBe(200);
    await small.close();
  });
});
