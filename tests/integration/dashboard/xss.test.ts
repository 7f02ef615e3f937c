import type { FastifyInstance } from 'fastify';
import { callSid as newCallSid } from '../../support/keys';
import {
  appFor,
  createEnv,
  login,
  makeAppointment,
  makeCall,
  makeUser,
  nextTuesday10,
  XSS,
  type Env,
} from './support';

let env: Env;
let app: FastifyInstance;
let admin: { cookie: string; csrf: string };
let apptId: string;
let sid: string;
const day = nextTuesday10();
const ESCAPED = '&lt;img src=x onerror=alert(1)&gt;';

beforeAll(async () => {
  env = await createEnv();
  app = await appFor(env);
  admin = await login(app, (await makeUser(env, 'admin')).email);
  sid = await makeCall(env, {
    turns: [
      {
        role: 'agent',
        text: 'Thanks for calling. May I have your name?',
        at: new Date().toISOString(),
        interrupted: false,
      },
      { role: 'caller', text: `My name is ${XSS}`, at: new Date().toISOString(), interrupted: false },
    ],
  });
  ({ id: apptId } = await makeAppointment(env, {
    name: XSS,
    phone: '+13125550177',
    startsAt: day.at,
    callSid: sid,
  }));
});
afterAll(async () => {
  await app.close();
  await env.close();
});

function expectText(body: string, where: string): void {
  expect({ where, raw: body.includes(XSS) }).toEqual({ where, raw: false });
  expect({ where, escaped: body.includes(ESCAPED) }).toEqual({ where, escaped: true });
  expect(body).not.toMatch(/<img/i);
}

const page = async (url: string) => {
  const res = await app.inject({ url, headers: { cookie: admin.cookie } });
  expect({ url, status: res.statusCode }).toEqual({ url, status: 200 });
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  return res.body;
};

describe('customer-supplied text is rendered as text, never as markup', () => {
  it('in the day view, the cancel confirmation and the call transcript', async () => {
    expectText(await page(`/dashboard?date=${day.date}`), 'day view');
    expectText(await page(`/dashboard/appointments/${apptId}/cancel`), 'cancel confirmation');
    expectText(await page(`/dashboard/calls/${sid}`), 'call detail');
  });

  it('in the live view (session state) and the admin pages (key names)', async () => {
    const liveSid = newCallSid();
    await env.deps.sessions.create({ callSid: liveSid, state: 'listening', intent: XSS });
    expectText(await page('/dashboard/live'), 'live calls');
    await env.deps.sessions.delete(liveSid);
    await env.accounts.createApiKey(XSS, 'staff');
    expectText(await page('/dashboard/admin/api-keys'), 'api keys');
  });

  it('in the login form echoing a rejected e-mail', async () => {
    const loginPage = await app.inject({ url: '/dashboard/login' });
    const cookie = String(loginPage.headers['set-cookie']).split(';')[0] as string;
    const res = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      payload: new URLSearchParams({
        email: `${XSS}@x.test`,
        password: 'p',
        _csrf: cookie.split('=')[1] as string,
      }).toString(),
    });
    expect(res.statusCode).toBe(401);
    expectText(res.body, 'login');
  });

  it('in JSON the name is data, served as application/json with nosniff', async () => {
    const res = await app.inject({
      url: `/api/appointments?from=${day.date}&to=${day.date}`,
      headers: { cookie: admin.cookie },
    });
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.json().appointments[0].customer.name).toBe(XSS);
  });

  it('every page carries the strict CSP: no inline script, no framing, no inline handlers in the markup', async () => {
    const res = await app.inject({ url: `/dashboard?date=${day.date}`, headers: { cookie: admin.cookie } });
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.body).not.toMatch(/<[a-z][^>]*\son[a-z]+=/i);
    expect(res.body).not.toMatch(/<[a-z][^>]*\sstyle=/i);
  });
});
