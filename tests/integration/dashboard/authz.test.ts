import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../../server/config';
import { TokenSigner } from '../../../server/dashboard/tokens';
import { passwordFingerprint } from '../../../server/dashboard/sessions';
import { appFor, createEnv, KEY1, KEY2, login, makeUser, PASSWORD, sessionCookie, type Env } from './support';

let env: Env;
let app: FastifyInstance;
let staffUser: Awaited<ReturnType<typeof makeUser>>;
let staff: { cookie: string; csrf: string };
let admin: { cookie: string; csrf: string };
let staffKey: string;
let adminKey: string;

const API_READS = [
  '/api/me',
  '/api/appointments',
  '/api/calls',
  `/api/calls/CA${'0'.repeat(32)}`,
  '/api/live-calls',
];
const ADMIN_API = ['/api/audit'];
const ADMIN_PAGES = ['/dashboard/admin/api-keys', '/dashboard/admin/users', '/dashboard/admin/audit'];
const STAFF_PAGES = ['/dashboard', '/dashboard/calls', '/dashboard/live', '/dashboard/password'];

const policy = {
  ttlMs: 30 * 60_000,
  refreshAfterMs: 5 * 60_000,
  sessionMaxMs: 12 * 3600_000,
  graceMs: 10 * 60_000,
};

/** A token as another instance (or an attacker with the key) would sign it. */
function forge(
  keys: Map<number, Buffer>,
  claims: { sub: string; pv: string },
  opts: { kid?: number; iat?: number; auth?: number } = {},
) {
  const signer = new TokenSigner(keys, policy);
  const now = signer.nowS();
  return signer.sign(
    {
      sub: claims.sub,
      sid: randomBytes(8).toString('hex'),
      csrf: 'c',
      pv: claims.pv,
      auth: opts.auth ?? opts.iat ?? now,
    },
    opts.kid,
    opts.iat ?? now,
  );
}

beforeAll(async () => {
  env = await createEnv();
  app = await appFor(env);
  staffUser = await makeUser(env, 'staff');
  staff = await login(app, staffUser.email);
  admin = await login(app, (await makeUser(env, 'admin')).email);
  staffKey = (await env.accounts.createApiKey('staff key', 'staff')).key;
  adminKey = (await env.accounts.createApiKey('admin key', 'admin')).key;
});
afterAll(async () => {
  await app.close();
  await env.close();
});

const get = (url: string, headers: Record<string, string> = {}) => app.inject({ url, headers });

describe('authorisation matrix', () => {
  it('no credentials: every API route is 401 JSON; every page redirects to the login', async () => {
    for (const url of [...API_READS, ...ADMIN_API]) {
      const res = await get(url);
      expect({ url, status: res.statusCode, body: res.json() }).toEqual({
        url,
        status: 401,
        body: { error: { code: 'UNAUTHORIZED', message: expect.any(String) } },
      });
    }
    const cancel = await app.inject({ method: 'POST', url: `/api/appointments/${randomUUID()}/cancel` });
    expect(cancel.statusCode).toBe(401);
    for (const url of [...STAFF_PAGES, ...ADMIN_PAGES]) {
      const res = await get(url);
      expect({ url, status: res.statusCode }).toEqual({ url, status: 303 });
      expect(res.headers.location).toBe(`/dashboard/login?next=${encodeURIComponent(url)}`);
    }
  });

  it('staff (session or key) read the API; admin-only routes say 403 to them and 200 to admins', async () => {
    for (const auth of [{ cookie: staff.cookie }, { authorization: `Bearer ${staffKey}` }] as Array<
      Record<string, string>
    >) {
      for (const url of API_READS) {
        const res = await get(url, auth);
        expect({ url, status: res.statusCode }).toEqual({
          url,
          status: url.includes('/api/calls/CA') ? 404 : 200,
        });
      }
      const denied = await get('/api/audit', auth);
      expect(denied.statusCode).toBe(403);
      expect(denied.json()).toEqual({ error: { code: 'FORBIDDEN', message: expect.any(String) } });
    }
    for (const url of ADMIN_PAGES) {
      expect((await get(url, { cookie: staff.cookie })).statusCode).toBe(403);
      expect((await get(url, { cookie: admin.cookie })).statusCode).toBe(200);
    }
    expect((await get('/api/audit', { cookie: admin.cookie })).statusCode).toBe(200);
    expect((await get('/api/audit', { authorization: `Bearer ${adminKey}` })).statusCode).toBe(200);
  });

  it('API keys: a wrong, malformed or revoked key is 401; only the key SHA-256 is stored', async () => {
    for (const key of ['bk_' + 'A'.repeat(43), 'nonsense', '']) {
      expect((await get('/api/me', { authorization: `Bearer ${key}` })).statusCode).toBe(401);
    }
    expect((await get('/api/me', { authorization: `Basic ${staffKey}` })).statusCode).toBe(401);
    const { key, row } = await env.accounts.createApiKey('short-lived', 'staff');
    expect((await get('/api/me', { authorization: `Bearer ${key}` })).json()).toMatchObject({
      kind: 'api_key',
      role: 'staff',
    });
    const stored = await env.tdb.db.query<{ key_sha256: Buffer; prefix: string; last_used_at: Date | null }>(
      'SELECT key_sha256, prefix, last_used_at FROM api_keys WHERE id = $1',
      [row.id],
    );
    expect(stored.rows[0]?.key_sha256.toString('hex')).toBe(createHash('sha256').update(key).digest('hex'));
    expect(stored.rows[0]?.prefix).toBe(key.slice(0, 10));
    expect(stored.rows[0]?.last_used_at).toBeInstanceOf(Date);
    await env.accounts.revokeApiKey(row.id);
    expect((await get('/api/me', { authorization: `Bearer ${key}` })).statusCode).toBe(401);
  });

  it('tokens: expired, tampered, unknown-key and header-forged tokens are 401', async () => {
    const claims = {
      sub: staffUser.id,
      pv: passwordFingerprint((await env.accounts.userById(staffUser.id))!.passwordHash),
    };
    const keys = new Map([[1, KEY1]]);
    const good = forge(keys, claims);
    expect((await get('/api/me', { cookie: `bl_session=${good}` })).statusCode).toBe(200);
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    const expired = forge(keys, claims, { iat: hourAgo });
    const [h, p, s] = good.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, exp: (payload.exp as number) + 86400 })).toString('base64url')}.${s}`;
    const otherKey = forge(new Map([[1, randomBytes(32)]]), claims);
    const noneAlg = `${Buffer.from('{"alg":"none","kid":"1"}').toString('base64url')}.${p}.`;
    const unknownKid = forge(new Map([[9, KEY2]]), claims, { kid: 9 });
    for (const [name, token] of Object.entries({
      expired,
      tampered,
      otherKey,
      noneAlg,
      unknownKid,
      junk: 'abc',
    })) {
      const res = await get('/api/me', { cookie: `bl_session=${token}` });
      expect({ name, status: res.statusCode }).toEqual({ name, status: 401 });
      expect(String(res.headers['set-cookie'])).toContain('Max-Age=0');
    }
  });

  it('key rotation: after AUTH_SIGNING_KEYS gains version 2, key-1 sessions still work and are re-signed with key 2', async () => {
    const rotated = await appFor(env, {
      authSigningKeys: new Map([
        [1, KEY1],
        [2, KEY2],
      ]),
    });
    const res = await rotated.inject({ url: '/api/me', headers: { cookie: staff.cookie } });
    expect(res.statusCode).toBe(200);
    const fresh = sessionCookie(res.headers['set-cookie']);
    const header = JSON.parse(Buffer.from(fresh.split('=')[1]!.split('.')[0]!, 'base64url').toString());
    expect(header).toMatchObject({ alg: 'HS256', kid: '2' });
    expect((await rotated.inject({ url: '/api/me', headers: { cookie: fresh } })).statusCode).toBe(200);
    // Once key 1 is removed from the list, tokens it signed are refused; those from key 2 live on.
    const only2 = await appFor(env, { authSigningKeys: new Map([[2, KEY2]]) });
    expect((await only2.inject({ url: '/api/me', headers: { cookie: staff.cookie } })).statusCode).toBe(401);
    expect((await only2.inject({ url: '/api/me', headers: { cookie: fresh } })).statusCode).toBe(200);
    await rotated.close();
    await only2.close();
  });

  it('logout revokes the session: the same cookie is refused afterwards', async () => {
    const s = await login(app, staffUser.email);
    const out = await app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
    });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/bl_session=; .*Max-Age=0/);
    expect((await get('/api/me', { cookie: s.cookie })).statusCode).toBe(401);
    expect((await get('/api/me', { cookie: staff.cookie })).statusCode).toBe(200);
  });

  it('a disabled user or a changed password ends existing sessions', async () => {
    const u = await makeUser(env, 'staff');
    const s = await login(app, u.email);
    await env.accounts.setDisabled(u.id, true);
    expect((await get('/api/me', { cookie: s.cookie })).statusCode).toBe(401);
    await env.accounts.setDisabled(u.id, false);
    const s2 = await login(app, u.email);
    const changed = await app.inject({
      method: 'POST',
      url: '/auth/password',
      headers: { cookie: s2.cookie, 'x-csrf-token': s2.csrf },
      payload: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase here' },
    });
    expect(changed.statusCode).toBe(200);
    expect((await get('/api/me', { cookie: s2.cookie })).statusCode).toBe(401);
    expect((await get('/api/me', { cookie: sessionCookie(changed.headers['set-cookie']) })).statusCode).toBe(
      200,
    );
  });

  it('a one-time password must be changed first: the API says 403 PASSWORD_CHANGE_REQUIRED, pages redirect', async () => {
    const { user, password } = await env.accounts.createUser('new.hire@bayline.test', 'staff');
    const s = await login(app, user.email, password);
    const api = await get('/api/appointments', { cookie: s.cookie });
    expect(api.statusCode).toBe(403);
    expect(api.json()).toMatchObject({ error: { code: 'PASSWORD_CHANGE_REQUIRED' } });
    const page = await get('/dashboard', { cookie: s.cookie });
    expect(page.statusCode).toBe(303);
    expect(page.headers.location).toBe('/dashboard/password');
    expect((await get('/dashboard/password', { cookie: s.cookie })).statusCode).toBe(200);
  });

  it('the session cookie is HttpOnly and SameSite=Strict, and Secure behind https', async () => {
    const u = await makeUser(env, 'staff');
    const plain = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: u.email, password: PASSWORD },
    });
    const cookie = String(plain.headers['set-cookie']);
    expect(cookie).toMatch(/^bl_session=[^;]+; Path=\/; Max-Age=1800; HttpOnly; SameSite=Strict$/);
    // Behind a TLS-terminating proxy that TRUST_PROXY lists (inject()'s peer is 127.0.0.1).
    const proxied = await appFor(env, {
      config: loadConfig({ REDIS_KEY_PREFIX: env.tr.prefix, TRUST_PROXY: '127.0.0.1' }),
    });
    const tls = await proxied.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'x-forwarded-proto': 'https' },
      payload: { email: u.email, password: PASSWORD },
    });
    expect(String(tls.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict; Secure$/);
    // From a peer that is not a listed proxy, the header is the client's own claim and is ignored.
    const forged = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'x-forwarded-proto': 'https' },
      payload: { email: u.email, password: PASSWORD },
    });
    expect(String(forged.headers['set-cookie'])).toMatch(/SameSite=Strict$/);
    await proxied.close();
  });
});
