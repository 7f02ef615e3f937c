import type { FastifyInstance } from 'fastify';
import {
  appFor,
  createEnv,
  login,
  makeAppointment,
  makeUser,
  nextTuesday10,
  PASSWORD,
  type Env,
} from './support';

let env: Env;
let app: FastifyInstance;
let s: { cookie: string; csrf: string };
let adminS: { cookie: string; csrf: string };
const day = nextTuesday10();

beforeAll(async () => {
  env = await createEnv();
  app = await appFor(env);
  s = await login(app, (await makeUser(env, 'staff')).email);
  adminS = await login(app, (await makeUser(env, 'admin')).email);
});
afterAll(async () => {
  await app.close();
  await env.close();
});

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = 'application/x-www-form-urlencoded';

async function booked(phone: string): Promise<string> {
  return (await makeAppointment(env, { name: 'Pat Lee', phone, startsAt: day.at, bayId: 3 })).id;
}

async function status(id: string): Promise<string> {
  const { rows } = await env.tdb.db.query<{ status: string }>(
    'SELECT status FROM appointments WHERE id = $1',
    [id],
  );
  return rows[0]?.status ?? 'missing';
}

describe('CSRF protection of cookie-authenticated changes', () => {
  it('refuses a cancel with no token, a wrong token, a foreign Origin or a cross-site fetch', async () => {
    const id = await booked('+13125550121');
    const url = `/api/appointments/${id}/cancel`;
    const cases: Array<[string, Record<string, string>]> = [
      ['no token', { cookie: s.cookie }],
      ['wrong token', { cookie: s.cookie, 'x-csrf-token': 'x'.repeat(s.csrf.length) }],
      ["another session's token", { cookie: s.cookie, 'x-csrf-token': adminS.csrf }],
      ['foreign origin', { cookie: s.cookie, 'x-csrf-token': s.csrf, origin: 'https://evil.example' }],
      ['cross-site fetch', { cookie: s.cookie, 'x-csrf-token': s.csrf, 'sec-fetch-site': 'cross-site' }],
    ];
    for (const [name, headers] of cases) {
      const res = await app.inject({ method: 'POST', url, headers });
      expect({ name, status: res.statusCode, body: res.json() }).toEqual({
        name,
        status: 403,
        body: { error: { code: 'CSRF_REJECTED', message: expect.any(String) } },
      });
    }
    expect(await status(id)).toBe('booked');
    const ok = await app.inject({
      method: 'POST',
      url,
      headers: {
        cookie: s.cookie,
        'x-csrf-token': s.csrf,
        origin: 'http://localhost:80',
        'sec-fetch-site': 'same-origin',
      },
    });
    expect(ok.statusCode).toBe(200);
    expect(await status(id)).toBe('cancelled');
  });

  it('dashboard forms need the hidden _csrf field; with it the cancel goes through and redirects', async () => {
    const id = await booked('+13125550122');
    const url = `/dashboard/appointments/${id}/cancel`;
    const bad = await app.inject({
      method: 'POST',
      url,
      headers: { cookie: s.cookie, 'content-type': FORM },
      payload: form({ date: day.date }),
    });
    expect(bad.statusCode).toBe(403);
    expect(bad.headers['content-type']).toContain('text/html');
    expect(await status(id)).toBe('booked');
    const good = await app.inject({
      method: 'POST',
      url,
      headers: { cookie: s.cookie, 'content-type': FORM },
      payload: form({ _csrf: s.csrf, date: day.date }),
    });
    expect(good.statusCode).toBe(303);
    expect(good.headers.location).toBe(`/dashboard?date=${day.date}&done=cancelled`);
    expect(await status(id)).toBe('cancelled');
  });

  it('admin changes (create key, revoke, create user) and logout are refused without the token', async () => {
    const { row } = await env.accounts.createApiKey('keep me', 'staff');
    for (const url of [
      '/dashboard/admin/api-keys',
      `/dashboard/admin/api-keys/${row.id}/revoke`,
      '/dashboard/admin/users',
      '/auth/logout',
      '/auth/password',
    ]) {
      const res = await app.inject({
        method: 'POST',
        url,
        headers: { cookie: adminS.cookie, 'content-type': FORM },
        payload: form({ name: 'x', role: 'admin', email: 'x@bayline.test' }),
      });
      expect({ url, status: res.statusCode }).toEqual({ url, status: 403 });
    }
    const keys = await env.accounts.listApiKeys();
    expect(keys.map((k) => [k.name, k.revokedAt])).toEqual([['keep me', null]]);
    expect((await env.accounts.listUsers()).some((u) => u.email === 'x@bayline.test')).toBe(false);
  });

  it('an API key needs no CSRF token (it is not an ambient credential)', async () => {
    const id = await booked('+13125550123');
    const { key } = await env.accounts.createApiKey('integration', 'staff');
    const res = await app.inject({
      method: 'POST',
      url: `/api/appointments/${id}/cancel`,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.statusCode).toBe(200);
  });

  it('the login form carries a double-submit token; a forged login form is refused', async () => {
    const u = await makeUser(env, 'staff');
    const page = await app.inject({ url: '/dashboard/login' });
    expect(page.statusCode).toBe(200);
    const cookie = String(page.headers['set-cookie']).split(';')[0] as string;
    const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] as string;
    expect(cookie).toBe(`bl_login_csrf=${token}`);
    const forged = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': FORM },
      payload: form({ email: u.email, password: PASSWORD, _csrf: 'guess' }),
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.headers['set-cookie']).toBeUndefined();
    const real = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': FORM, cookie },
      payload: form({ email: u.email, password: PASSWORD, _csrf: token, next: '/dashboard/calls' }),
    });
    expect(real.statusCode).toBe(303);
    expect(real.headers.location).toBe('/dashboard/calls');
    const crossSite = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': FORM, cookie, origin: 'https://evil.example' },
      payload: form({ email: u.email, password: PASSWORD, _csrf: token }),
    });
    expect(crossSite.statusCode).toBe(403);
  });

  it('never redirects a login to another site', async () => {
    const u = await makeUser(env, 'staff');
    const page = await app.inject({ url: '/dashboard/login' });
    const cookie = String(page.headers['set-cookie']).split(';')[0] as string;
    const token = cookie.split('=')[1] as string;
    for (const next of ['https://evil.example/', '//evil.example/dashboard', '/\\evil.example', '/api/me']) {
      const res = await app.inject({
        method: 'POST',
        url: '/auth/login',
        headers: { 'content-type': FORM, cookie },
        payload: form({ email: u.email, password: PASSWORD, _csrf: token, next }),
      });
      expect({ next, location: res.headers.location }).toEqual({ next, location: '/dashboard' });
    }
  });
});
