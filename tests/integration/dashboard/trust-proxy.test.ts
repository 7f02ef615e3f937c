/**
 * Which address a request comes from: the socket's peer unless TRUST_PROXY names the proxies whose
 * X-Forwarded-For is believed. A client must not be able to choose its own address, or the per-address
 * limits and the audit log mean nothing.
 */
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../../server/config';
import { appFor, auditRows, createEnv, type Env } from './support';

let env: Env;
beforeAll(async () => {
  env = await createEnv();
});
afterAll(async () => {
  await env.close();
});

/** Windows are aligned to the minute: start a counting test well inside one, never across two. */
async function freshWindow(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 8000) await new Promise((r) => setTimeout(r, left + 50));
}

/**
 * A login from `remoteAddress` (inject's own by default) forwarding `xff`. By default the password
 * is empty, which is refused before any password check: the limit is what is under test.
 */
const attempt = (
  app: FastifyInstance,
  email: string,
  xff: string,
  opts: { password?: string; remoteAddress?: string } = {},
) =>
  app.inject({
    method: 'POST',
    url: '/auth/login',
    ...(opts.remoteAddress === undefined ? {} : { remoteAddress: opts.remoteAddress }),
    headers: { 'x-forwarded-for': xff },
    payload: { email, password: opts.password ?? '' },
  });

describe('client address', () => {
  it('by default a forged X-Forwarded-For per request does not escape the per-address login limit', async () => {
    const app = await appFor(env);
    await freshWindow();
    const codes: number[] = [];
    for (let i = 0; i < 22; i++)
      codes.push((await attempt(app, `spray${i}@bayline.test`, `203.0.113.${i + 1}`)).statusCode);
    expect(codes.slice(0, 20).every((c) => c === 400)).toBe(true);
    expect(codes.slice(20)).toEqual([429, 429]);
    const failed = await attempt(app, 'who@bayline.test', '203.0.113.99', { password: 'a wrong password' });
    expect(failed.statusCode).toBe(429);
    await app.close();
  });

  it('by default the audit log records the peer, not the address a client claims', async () => {
    const app = await appFor(env);
    // Another socket address than the other test's, so its window is fresh.
    const res = await attempt(app, 'audit-me@bayline.test', '203.0.113.250', {
      remoteAddress: '192.0.2.200',
      password: 'a wrong password',
    });
    expect(res.statusCode).toBe(401);
    const ips = (await auditRows(env, 'auth.login_failed')).map((r) => r.ip);
    expect(ips).toContain('192.0.2.200');
    expect(ips).not.toContain('203.0.113.250');
    await app.close();
  });

  it('behind a listed proxy the client is the right-most address the proxy did not add', async () => {
    const app = await appFor(env, {
      config: loadConfig({ REDIS_KEY_PREFIX: env.tr.prefix, TRUST_PROXY: '10.1.0.0/16' }),
    });
    // The client forged the first entry; the proxy (10.1.2.3) appended the address it saw.
    const res = await attempt(app, 'behind-proxy@bayline.test', '203.0.113.251, 198.51.100.23', {
      remoteAddress: '10.1.2.3',
      password: 'a wrong password',
    });
    expect(res.statusCode).toBe(401);
    // A peer that is not a listed proxy is the client itself, whatever it forwards.
    const direct = await attempt(app, 'direct@bayline.test', '203.0.113.252', {
      remoteAddress: '192.0.2.201',
      password: 'a wrong password',
    });
    expect(direct.statusCode).toBe(401);
    const ips = (await auditRows(env, 'auth.login_failed')).map((r) => r.ip);
    expect(ips).toEqual(expect.arrayContaining(['198.51.100.23', '192.0.2.201']));
    expect(ips).not.toContain('203.0.113.251');
    expect(ips).not.toContain('203.0.113.252');
    await app.close();
  });
});
