import type { FastifyInstance } from 'fastify';
import {
  appFor,
  auditRows,
  createEnv,
  login,
  makeAppointment,
  makeCall,
  makeUser,
  nextTuesday10,
  sessionCookie,
  type Env,
} from './support';

let env: Env;
let app: FastifyInstance;
let admin: { cookie: string; csrf: string };
const day = nextTuesday10();
const FORM = 'application/x-www-form-urlencoded';

beforeAll(async () => {
  env = await createEnv();
  app = await appFor(env);
  admin = await login(app, (await makeUser(env, 'admin')).email);
});
afterAll(async () => {
  await app.close();
  await env.close();
});

const get = (url: string, cookie = admin.cookie) => app.inject({ url, headers: { cookie } });
const post = (url: string, fields: Record<string, string>, cookie = admin.cookie) =>
  app.inject({
    method: 'POST',
    url,
    headers: { cookie, 'content-type': FORM },
    payload: new URLSearchParams(fields).toString(),
  });

describe('day view', () => {
  it('shows the day by bay and time: service, customer with masked phone, vehicle, source; audited', async () => {
    const sid = await makeCall(env, { turns: [] });
    await makeAppointment(env, {
      name: 'Mia Chen',
      phone: '+13125550163',
      startsAt: day.at,
      bayId: 4,
      callSid: sid,
    });
    const res = await get(`/dashboard?date=${day.date}`);
    expect(res.statusCode).toBe(200);
    const html = res.body;
    expect(html).toContain('<th scope="col">Bay 4</th>');
    expect(html).toContain('Oil change');
    expect(html).toContain('Mia Chen');
    expect(html).toContain('+1 ***-***-0163');
    expect(html).not.toContain('5550163');
    expect(html).toContain('2020 Subaru Outback');
    expect(html).toMatch(/<span class="source">Phone<\/span>/);
    expect(html).toContain(`href="/dashboard/calls/${sid}"`);
    // The booking sits in the row of its start time and the column of its bay (4th bay cell).
    const row = html.split('<tr').find((r) => r.includes('Mia Chen')) as string;
    expect(row).toMatch(/<th scope="row">1[01]:00<\/th>/);
    expect(row.split('<td').findIndex((c) => c.includes('Mia Chen'))).toBe(4);
    expect(html).toMatch(/rel="prev"/);
    expect((await auditRows(env, 'appointments.list')).at(-1)).toMatchObject({
      actor_type: 'staff',
      details: { via: 'dashboard', count: 1 },
    });
  });

  it('defaults to today, navigates by day, and refuses a malformed date with a 400 page', async () => {
    const today = await get('/dashboard');
    expect(today.body).toContain('(today)');
    const bad = await get('/dashboard?date=2026-13-01');
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('text/html');
    expect(bad.body).toContain('2026-13-01 is not a calendar date');
  });

  it('cancel: a confirmation page first, then the change, the flash and the audit row', async () => {
    const { id } = await makeAppointment(env, {
      name: 'Sam Ode',
      phone: '+13125550164',
      startsAt: day.at,
      bayId: 1,
    });
    const confirm = await get(`/dashboard/appointments/${id}/cancel`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('Yes, cancel booking');
    expect(confirm.body).toContain('Sam Ode');
    const done = await post(`/dashboard/appointments/${id}/cancel`, { _csrf: admin.csrf });
    expect(done.statusCode).toBe(303);
    const after = await get(done.headers.location as string);
    expect(after.body).toContain('Booking cancelled.');
    expect(after.body).toMatch(/class="appt cancelled"/);
    expect((await auditRows(env, 'appointment.cancel')).at(-1)).toMatchObject({
      target_id: id,
      details: expect.objectContaining({ via: 'dashboard' }),
    });
  });
});

describe('calls pages', () => {
  it('lists calls with outcome and latency, and shows a transcript (audited as a read)', async () => {
    const sid = await makeCall(env, {
      outcome: 'transferred',
      turns: [
        { role: 'agent', text: 'Hello, Bayline service.', at: new Date().toISOString(), interrupted: false },
        { role: 'caller', text: 'A person please.', at: new Date().toISOString(), interrupted: false },
      ],
    });
    const list = await get('/dashboard/calls');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain('Transferred');
    expect(list.body).toContain('515 ms (max 515 ms)');
    const detail = await get(`/dashboard/calls/${sid}`);
    expect(detail.body).toContain('A person please.');
    expect(detail.body).toContain('<h2>Latency per turn</h2>');
    expect((await auditRows(env, 'call.read')).at(-1)).toMatchObject({
      target_id: sid,
      details: { via: 'dashboard' },
    });
    expect((await get('/dashboard/calls/nonsense')).statusCode).toBe(400);
  });

  it('the live view renders the calls in progress and points its script at /api/live-calls', async () => {
    const sid = `CA${'c'.repeat(32)}`;
    await env.deps.sessions.create({ callSid: sid, state: 'speaking', intent: 'book' });
    const res = await get('/dashboard/live');
    expect(res.body).toContain('1 call in progress');
    expect(res.body).toContain('data-source="/api/live-calls"');
    expect(res.body).toContain('cccccccc');
    await env.deps.sessions.delete(sid);
  });
});

describe('calls page with more calls in the range than one page holds', () => {
  it('says more calls exist and links to them; the link shows the rest and leads back; a bad cursor is 400', async () => {
    await env.tdb.db.query(
      `INSERT INTO calls (call_sid, status, outcome, started_at)
       SELECT 'CA' || lpad(to_hex(g), 32, '0'), 'completed', 'info',
              timestamptz '2026-03-10 15:00:00+00' + g * interval '1 second'
         FROM generate_series(1, 1003) g`,
    );
    const rowsOf = (body: string) => body.match(/href="\/dashboard\/calls\/CA[0-9a-f]{32}"/g) ?? [];
    const first = await get('/dashboard/calls?from=2026-03-10&to=2026-03-10');
    expect(first.statusCode).toBe(200);
    expect(rowsOf(first.body)).toHaveLength(1000);
    expect(first.body).toContain(
      'Showing 1000 calls, newest first: more calls rang between 2026-03-10 and 2026-03-10.',
    );
    const older =
      /href="(\/dashboard\/calls\?from=2026-03-10&amp;to=2026-03-10&amp;cursor=[A-Za-z0-9_-]+)"/.exec(
        first.body,
      )?.[1];
    expect(older).toBeDefined();
    expect(first.body).not.toContain('← Newest calls');

    const second = await get((older as string).replace(/&amp;/g, '&'));
    expect(second.statusCode).toBe(200);
    expect(rowsOf(second.body)).toHaveLength(3);
    expect(second.body).not.toContain('Older calls');
    expect(second.body).not.toContain('more calls rang');
    expect(second.body).toContain(
      'href="/dashboard/calls?from=2026-03-10&amp;to=2026-03-10">← Newest calls</a>',
    );
    const shown = new Set([...rowsOf(first.body), ...rowsOf(second.body)]);
    expect(shown.size).toBe(1003);

    const bad = await get('/dashboard/calls?from=2026-03-10&to=2026-03-10&cursor=nonsense');
    expect(bad.statusCode).toBe(400);

    const whole = await get('/dashboard/calls?from=2026-03-11&to=2026-03-11');
    expect(whole.body).not.toContain('class="pager"');
  });
});

describe('admin pages', () => {
  it('create an API key (shown once), list it by prefix, revoke it; all audited', async () => {
    const created = await post('/dashboard/admin/api-keys', {
      _csrf: admin.csrf,
      name: 'DMS sync',
      role: 'staff',
    });
    expect(created.statusCode).toBe(200);
    const key = /id="new-key">(bk_[A-Za-z0-9_-]{43})</.exec(created.body)?.[1] as string;
    expect(key).toBeDefined();
    expect(
      (await app.inject({ url: '/api/me', headers: { authorization: `Bearer ${key}` } })).statusCode,
    ).toBe(200);
    const listed = await get('/dashboard/admin/api-keys');
    expect(listed.body).not.toContain(key);
    expect(listed.body).toContain(`${key.slice(0, 10)}…`);
    const row = (await env.accounts.listApiKeys()).find((k) => k.name === 'DMS sync');
    const revoked = await post(`/dashboard/admin/api-keys/${row?.id}/revoke`, { _csrf: admin.csrf });
    expect(revoked.headers.location).toBe('/dashboard/admin/api-keys?done=revoked');
    expect(
      (await app.inject({ url: '/api/me', headers: { authorization: `Bearer ${key}` } })).statusCode,
    ).toBe(401);
    expect((await auditRows(env, 'api_key.create')).at(-1)).toMatchObject({ target_id: row?.id });
    expect((await auditRows(env, 'api_key.revoke')).at(-1)).toMatchObject({ target_id: row?.id });
  });

  it('create a user with a one-time password that must be changed at first login', async () => {
    const created = await post('/dashboard/admin/users', {
      _csrf: admin.csrf,
      email: 'Advisor@Bayline.test',
      role: 'staff',
    });
    const otp = /id="new-password">([^<]+)</.exec(created.body)?.[1] as string;
    expect(otp).toMatch(/^[A-Za-z0-9]{5}(-[A-Za-z0-9]{5}){3}$/);
    const dup = await post('/dashboard/admin/users', {
      _csrf: admin.csrf,
      email: 'advisor@bayline.test',
      role: 'staff',
    });
    expect(dup.statusCode).toBe(409);
    // First login: the form flow leads to the password page and nowhere else.
    const loginPage = await app.inject({ url: '/dashboard/login' });
    const lc = String(loginPage.headers['set-cookie']).split(';')[0] as string;
    const res = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { cookie: lc, 'content-type': FORM },
      payload: new URLSearchParams({
        email: 'advisor@bayline.test',
        password: otp,
        _csrf: lc.split('=')[1] as string,
      }).toString(),
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/dashboard/password');
    const cookie = sessionCookie(res.headers['set-cookie']);
    const form = await get('/dashboard/password', cookie);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1] as string;
    const weak = await post(
      '/auth/password',
      { _csrf: csrf, currentPassword: otp, newPassword: 'short', confirmPassword: 'short' },
      cookie,
    );
    expect(weak.statusCode).toBe(400);
    expect(weak.body).toContain('at least 12 characters');
    const changed = await post(
      '/auth/password',
      {
        _csrf: csrf,
        currentPassword: otp,
        newPassword: 'tyre pressure sunday',
        confirmPassword: 'tyre pressure sunday',
      },
      cookie,
    );
    expect(changed.statusCode).toBe(303);
    expect(changed.headers.location).toBe('/dashboard?done=password');
    const next = sessionCookie(changed.headers['set-cookie']);
    expect((await get('/dashboard?done=password', next)).body).toContain('Password saved.');
    const user = await env.accounts.userByEmail('advisor@bayline.test');
    expect(user?.mustChangePassword).toBe(false);
    expect((await auditRows(env, 'auth.password_changed')).at(-1)).toMatchObject({ actor_id: user?.id });
  });

  it('the audit log page shows entries newest first and filters by action and record', async () => {
    const res = await get('/dashboard/admin/audit?action=api_key.revoke');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<code>api_key.revoke</code>');
    expect(res.body).not.toContain('<code>api_key.create</code>');
    const api = await app.inject({ url: '/api/audit?limit=2', headers: { cookie: admin.cookie } });
    const body = api.json() as { entries: Array<{ id: string; action: string }>; nextBefore: string | null };
    expect(body.entries).toHaveLength(2);
    expect(Number(body.entries[0]?.id)).toBeGreaterThan(Number(body.entries[1]?.id));
    expect(body.nextBefore).toBe(body.entries[1]?.id);
    expect(
      (await app.inject({ url: '/api/audit?before=x', headers: { cookie: admin.cookie } })).statusCode,
    ).toBe(400);
  });

  it('the audit log cannot be edited: the database refuses UPDATE and DELETE', async () => {
    await expect(env.tdb.db.query("UPDATE audit_log SET action = 'nothing'")).rejects.toThrow(/append-only/);
    await expect(env.tdb.db.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
  });
});

describe('first admin of a fresh install', () => {
  it('is created only while there is no staff user at all', async () => {
    expect(await env.accounts.ensureFirstAdmin()).toBeNull();
    const fresh = await createEnv();
    try {
      const first = await fresh.accounts.ensureFirstAdmin();
      expect(first).toEqual({ email: 'admin@bayline.local', password: expect.stringMatching(/^\S{23}$/) });
      expect(await fresh.accounts.ensureFirstAdmin()).toBeNull();
      expect((await fresh.accounts.userByEmail('admin@bayline.local'))?.mustChangePassword).toBe(true);
    } finally {
      await fresh.close();
    }
  });
});
