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
  type Env,
} from './support';

let env: Env;
let app: FastifyInstance;
let staff: { cookie: string; csrf: string };
let bearer: string;
const day = nextTuesday10();
let apptId: string;
let customerId: string;
let sid: string;

beforeAll(async () => {
  env = await createEnv();
  app = await appFor(env);
  const u = await makeUser(env, 'staff');
  staff = await login(app, u.email);
  bearer = `Bearer ${(await env.accounts.createApiKey('reporting', 'staff')).key}`;
  ({ id: apptId, customerId } = await makeAppointment(env, {
    name: 'Ana Ruiz',
    phone: '+13125550111',
    startsAt: day.at,
    minutes: 60,
    bayId: 2,
  }));
  sid = await makeCall(env, {
    customerId,
    turns: [
      { role: 'agent', text: 'Hi Ana, how can I help?', at: new Date().toISOString(), interrupted: false },
      { role: 'caller', text: 'I need an oil change', at: new Date().toISOString(), interrupted: false },
      { role: 'agent', text: 'Booked for Tuesday at ten.', at: new Date().toISOString(), interrupted: true },
    ],
  });
});
afterAll(async () => {
  await app.close();
  await env.close();
});

describe('GET /api/appointments', () => {
  it('answers the CONTRACT shape, times with the dealership offset, and audits the read', async () => {
    const res = await app.inject({
      url: `/api/appointments?from=${day.date}&to=${day.date}`,
      headers: { authorization: bearer },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { appointments: Array<Record<string, unknown>> };
    expect(body.appointments).toHaveLength(1);
    const a = body.appointments[0] as Record<string, unknown>;
    expect(Object.keys(a).sort()).toEqual(
      [
        'id',
        'startsAt',
        'endsAt',
        'status',
        'service',
        'bay',
        'customer',
        'vehicle',
        'source',
        'callSid',
      ].sort(),
    );
    expect(a).toEqual({
      id: apptId,
      startsAt: expect.stringMatching(new RegExp(`^${day.date}T1[01]:00:00-0[56]:00$`)),
      endsAt: expect.stringMatching(new RegExp(`^${day.date}T1[12]:00:00-0[56]:00$`)),
      status: 'booked',
      service: { code: 'OIL', name: 'Oil change' },
      bay: { id: 2, name: 'Bay 2' },
      customer: { id: customerId, name: 'Ana Ruiz', phoneMasked: '+1 ***-***-0111' },
      vehicle: { year: 2020, make: 'Subaru', model: 'Outback' },
      source: 'staff',
      callSid: null,
    });
    const rows = await auditRows(env, 'appointments.list');
    expect(rows.at(-1)).toMatchObject({
      actor_type: 'api_key',
      target_type: 'appointment_range',
      target_id: `${day.date}..${day.date}`,
      ip: '127.0.0.1',
      details: { via: 'api', count: 1 },
    });
  });

  it('filters by status and validates dates, ranges and status with clear 400s', async () => {
    const get = (q: string) =>
      app.inject({ url: `/api/appointments?${q}`, headers: { authorization: bearer } });
    expect((await get(`from=${day.date}&to=${day.date}&status=cancelled`)).json()).toEqual({
      appointments: [],
    });
    for (const [q, code] of [
      ['from=2026-02-30&to=2026-03-01', 'INVALID_DATE'],
      ['from=tomorrow', 'INVALID_DATE'],
      ['from=2026-03-05&to=2026-03-01', 'INVALID_RANGE'],
      ['from=2026-01-01&to=2027-06-01', 'INVALID_RANGE'],
      [`from=${day.date}&status=lost`, 'INVALID_STATUS'],
      [`from=${day.date}&from=${day.date}`, 'INVALID_PARAMETER'],
    ] as const) {
      const res = await get(q);
      expect({ q, status: res.statusCode, body: res.json() }).toEqual({
        q,
        status: 400,
        body: { error: { code, message: expect.any(String) } },
      });
    }
  });
});

describe('POST /api/appointments/:id/cancel', () => {
  it('validates the id (400) and says 404 for an unknown one', async () => {
    const post = (id: string) =>
      app.inject({
        method: 'POST',
        url: `/api/appointments/${id}/cancel`,
        headers: { authorization: bearer },
      });
    expect((await post('not-a-uuid')).json()).toMatchObject({ error: { code: 'INVALID_ID' } });
    const missing = await post('00000000-0000-4000-8000-000000000000');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'APPOINTMENT_NOT_FOUND' } });
  });

  it('cancels with a session (and its CSRF token), audits it, and refuses a second cancel with 409', async () => {
    const res = await app.inject({
      method: 'POST',
      url: `/api/appointments/${apptId}/cancel`,
      headers: { cookie: staff.cookie, 'x-csrf-token': staff.csrf },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ cancelled: true, appointment: { id: apptId, status: 'cancelled' } });
    const rows = await auditRows(env, 'appointment.cancel');
    expect(rows).toEqual([
      expect.objectContaining({
        actor_type: 'staff',
        target_type: 'appointment',
        target_id: apptId,
        ip: '127.0.0.1',
        details: expect.objectContaining({ via: 'api', service: 'OIL', bay: 2 }),
      }),
    ]);
    const again = await app.inject({
      method: 'POST',
      url: `/api/appointments/${apptId}/cancel`,
      headers: { cookie: staff.cookie, 'x-csrf-token': staff.csrf },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'NOT_CANCELLABLE' } });
  });
});

describe('calls', () => {
  it('GET /api/calls/:callSid answers the CONTRACT shape with the decrypted transcript, and audits the read', async () => {
    const res = await app.inject({ url: `/api/calls/${sid}`, headers: { authorization: bearer } });
    expect(res.statusCode).toBe(200);
    const call = res.json() as Record<string, unknown>;
    expect(Object.keys(call).sort()).toEqual(
      [
        'callSid',
        'status',
        'startedAt',
        'endedAt',
        'fromMasked',
        'customerId',
        'outcome',
        'turns',
        'latency',
      ].sort(),
    );
    expect(call).toMatchObject({
      callSid: sid,
      status: 'completed',
      fromMasked: '+1 ***-***-0142',
      customerId,
      outcome: 'booked',
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/),
      endedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/),
    });
    expect(call.turns).toEqual([
      { role: 'agent', text: 'Hi Ana, how can I help?', at: expect.any(String), interrupted: false },
      { role: 'caller', text: 'I need an oil change', at: expect.any(String), interrupted: false },
      { role: 'agent', text: 'Booked for Tuesday at ten.', at: expect.any(String), interrupted: true },
    ]);
    expect(call.latency).toEqual([
      { sttMs: 120.3, llmFirstTokenMs: 300, ttsFirstByteMs: 90, firstFrameMs: 5, totalMs: 515 },
      { sttMs: 120.3, llmFirstTokenMs: 300, ttsFirstByteMs: 90, firstFrameMs: 5, totalMs: 516 },
    ]);
    expect(await auditRows(env, 'call.read')).toEqual([
      expect.objectContaining({
        actor_type: 'api_key',
        target_type: 'call',
        target_id: sid,
        details: { via: 'api', turns: 3 },
      }),
    ]);
  });

  it('GET /api/calls lists the day in the contract shape, transcripts included and audited; bad ids and ranges are 400, unknown calls 404', async () => {
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Chicago' }).format(new Date());
    const res = await app.inject({
      url: `/api/calls?from=${today}&to=${today}`,
      headers: { authorization: bearer },
    });
    expect(res.statusCode).toBe(200);
    const { calls } = res.json() as { calls: Array<Record<string, unknown>> };
    expect(calls.map((c) => c.callSid)).toEqual([sid]);
    expect(calls[0]).toMatchObject({ outcome: 'booked', latency: expect.any(Array) });
    expect((calls[0]?.turns as Array<{ text: string }>).map((t) => t.text)).toEqual([
      'Hi Ana, how can I help?',
      'I need an oil change',
      'Booked for Tuesday at ten.',
    ]);
    expect((await auditRows(env, 'calls.list')).at(-1)).toMatchObject({
      details: { count: 1, transcripts: sid },
    });
    const bad = await app.inject({ url: '/api/calls/CA123', headers: { authorization: bearer } });
    expect(bad.json()).toMatchObject({ error: { code: 'INVALID_CALL_SID' } });
    expect(bad.statusCode).toBe(400);
    const unknown = await app.inject({
      url: `/api/calls/CA${'a'.repeat(32)}`,
      headers: { authorization: bearer },
    });
    expect(unknown.statusCode).toBe(404);
    const wide = await app.inject({
      url: '/api/calls?from=2026-01-01&to=2026-12-31',
      headers: { authorization: bearer },
    });
    expect(wide.json()).toMatchObject({ error: { code: 'INVALID_RANGE' } });
  });

  it('GET /api/live-calls reads the session store, with no personal data', async () => {
    const live = '+13125550142';
    const liveSid = `CA${'b'.repeat(32)}`;
    await env.deps.sessions.create({
      callSid: liveSid,
      customerId: customerId,
      state: 'listening',
      intent: 'book',
    });
    const res = await app.inject({ url: '/api/live-calls', headers: { authorization: bearer } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      calls: [
        {
          callSid: liveSid,
          state: 'listening',
          intent: 'book',
          customerKnown: true,
          speaking: false,
          startedAt: expect.any(String),
          updatedAt: expect.any(String),
        },
      ],
    });
    expect(res.body).not.toContain(live.slice(-4));
    await env.deps.sessions.delete(liveSid);
  });
});

describe('GET /api/calls paging (more calls in the range than one answer holds)', () => {
  // 1005 calls on one day (10:00 Chicago), four to a microsecond, all within one millisecond: the
  // page boundary falls inside a tie, and a cursor rounded to JavaScript's milliseconds would fail.
  const DAY = '2026-03-10';
  beforeAll(async () => {
    await env.tdb.db.query(
      `INSERT INTO calls (call_sid, status, started_at)
       SELECT 'CA' || lpad(to_hex(g), 32, '0'), 'completed',
              timestamptz '2026-03-10 15:00:00+00' + (g / 4) * interval '1 microsecond'
         FROM generate_series(1, 1005) g`,
    );
  });
  const list = (cursor?: string) =>
    app.inject({
      url: `/api/calls?from=${DAY}&to=${DAY}${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      headers: { authorization: bearer },
    });
  type Page = { calls: Array<{ callSid: string }>; truncated: boolean; nextCursor: string | null };

  it('says the list is truncated and hands out a cursor; the cursor fetches the rest, no call lost or repeated', async () => {
    const first = await list();
    expect(first.statusCode).toBe(200);
    const p1 = first.json() as Page;
    expect(Object.keys(p1)).toEqual(['calls', 'truncated', 'nextCursor']);
    expect(p1.calls).toHaveLength(1000);
    expect(p1.truncated).toBe(true);
    expect(p1.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(p1.nextCursor).not.toContain(p1.calls.at(-1)?.callSid);

    const second = await list(p1.nextCursor as string);
    expect(second.statusCode).toBe(200);
    const p2 = second.json() as Page;
    expect(p2.calls).toHaveLength(5);
    expect(p2).toMatchObject({ truncated: false, nextCursor: null });

    const { rows } = await env.tdb.db.query<{ call_sid: string }>(
      `SELECT call_sid FROM calls WHERE started_at >= timestamptz '2026-03-10 06:00:00+00'
          AND started_at < timestamptz '2026-03-11 05:00:00+00'
        ORDER BY started_at DESC, call_sid`,
    );
    expect(rows).toHaveLength(1005);
    expect([...p1.calls, ...p2.calls].map((c) => c.callSid)).toEqual(rows.map((r) => r.call_sid));
    expect((await auditRows(env, 'calls.list')).slice(-2).map((r) => r.details)).toMatchObject([
      { count: 1000, cursor: null, truncated: true },
      { count: 5, cursor: p1.nextCursor, truncated: false },
    ]);
  });

  it('a range that fits in one answer says so: truncated false, nextCursor null', async () => {
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Chicago' }).format(new Date());
    const res = await app.inject({
      url: `/api/calls?from=${today}&to=${today}`,
      headers: { authorization: bearer },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json() as Page;
    expect(Object.keys(body)).toEqual(['calls', 'truncated', 'nextCursor']);
    expect(body.calls.map((c) => c.callSid)).toEqual([sid]);
    expect(body).toMatchObject({ truncated: false, nextCursor: null });
  });

  it('a malformed or tampered cursor is a 400 INVALID_CURSOR, never a server error', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    const sid = `CA${'0'.repeat(31)}1`;
    for (const cursor of [
      'not a cursor!',
      'AAAA',
      b64(`2026-03-10T15:00:00.000000Z ${sid} extra`),
      b64(`2026-02-30T15:00:00.000000Z ${sid}`),
      b64(`2026-03-10T25:00:00.000000Z ${sid}`),
      b64(`0000-01-01T00:00:00.000000Z ${sid}`),
      b64(`2026-03-10T15:00:00.000Z ${sid}`),
      b64(`2026-03-10T15:00:00.000000Z CA123`),
      b64(`2026-03-10T15:00:00.000000Z ${sid}'; DROP TABLE calls; --`),
    ]) {
      const res = await list(cursor);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        error: { code: 'INVALID_CURSOR', message: expect.stringContaining('cursor') },
      });
    }
    const repeated = await app.inject({
      url: `/api/calls?from=${DAY}&to=${DAY}&cursor=a&cursor=b`,
      headers: { authorization: bearer },
    });
    expect(repeated.statusCode).toBe(400);
  });
});

describe('response headers', () => {
  it('API answers carry nosniff, HSTS, frame-ancestors none and no-store', async () => {
    const res = await app.inject({ url: '/api/live-calls', headers: { authorization: bearer } });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-type']).toContain('application/json');
  });
});
