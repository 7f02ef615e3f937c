/**
 * A staff app on the real PostgreSQL and Redis (own schema, own key prefix), seeded with the demo
 * dealership, plus helpers to make users, keys, bookings and calls, and to log in through the API.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../../server/app';
import { loadConfig } from '../../../server/config';
import { createLogger } from '../../../server/platform/logger';
import { createMetrics } from '../../../server/platform/metrics';
import { RedisKv } from '../../../server/platform/kv';
import { seedDemo } from '../../../server/platform/seed';
import { RedisSessionStore } from '../../../server/sessions';
import { CustomerDirectory, CustomerRepository } from '../../../server/customers';
import { CallRepository, type CallTurn } from '../../../server/calls';
import { Accounts } from '../../../server/dashboard/accounts';
import { createStaffRoutes, type StaffRouteOptions } from '../../../server/dashboard';
import { hashPassword } from '../../../server/dashboard/passwords';
import type { PiiCipher } from '../../../server/platform/crypto';
import { createTestDb, type TestDb } from '../../support/pg';
import { createTestRedis, type TestRedis } from '../../support/redis';
import { callSid as newCallSid, testCipher } from '../../support/keys';

export const TZ = 'America/Chicago';
export const XSS = '<img src=x onerror=alert(1)>';
export const PASSWORD = 'correct horse battery staple';
export const KEY1 = Buffer.alloc(32, 1);
export const KEY2 = Buffer.alloc(32, 2);

export interface Env {
  tdb: TestDb;
  tr: TestRedis;
  cipher: PiiCipher;
  deps: AppDeps;
  accounts: Accounts;
  close(): Promise<void>;
}

export async function createEnv(): Promise<Env> {
  const tdb = await createTestDb();
  const tr = await createTestRedis();
  const cipher = testCipher();
  await seedDemo(tdb.db, cipher);
  const metrics = createMetrics();
  const kv = new RedisKv(tr.redis, tr.prefix, metrics);
  const deps: AppDeps = {
    config: loadConfig({ REDIS_KEY_PREFIX: tr.prefix }),
    logger: createLogger({ level: 'silent' }),
    metrics,
    db: tdb.db,
    cipher,
    kv,
    sessions: new RedisSessionStore({ redis: tr.redis, prefix: tr.prefix, ttlSeconds: 600, cipher }),
    customers: new CustomerDirectory({
      repo: new CustomerRepository(tdb.db, cipher),
      kv,
      cipher,
      ttlSeconds: 60,
    }),
    authSigningKeys: new Map([[1, KEY1]]),
    lifecycle: { draining: false },
  };
  return {
    tdb,
    tr,
    cipher,
    deps,
    accounts: new Accounts(tdb.db),
    async close() {
      await tr.cleanup();
      await tdb.drop();
    },
  };
}

/** The app exactly as production builds it. */
export const appFor = (env: Env, overrides: Partial<AppDeps> = {}) => buildApp({ ...env.deps, ...overrides });

/** The staff routes alone with a custom policy (short windows for abuse tests). */
export async function appWithPolicy(env: Env, opts: StaffRouteOptions): Promise<FastifyInstance> {
  const app = Fastify({ trustProxy: true });
  await app.register(async (scope) => createStaffRoutes(opts)(scope, env.deps));
  return app;
}

/** A user whose password is already chosen (no one-time password step). */
export async function makeUser(
  env: Env,
  role: 'staff' | 'admin',
  email = `${role}-${Math.random().toString(36).slice(2, 8)}@bayline.test`,
) {
  const { user } = await env.accounts.createUser(email, role);
  await env.accounts.setPassword(user.id, await hashPassword(PASSWORD));
  return { ...user, email };
}

export interface Session {
  cookie: string;
  csrf: string;
  token: string;
}

export function sessionCookie(setCookie: string | string[] | undefined): string {
  const all = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  const c = all.find((s) => s.startsWith('bl_session='));
  if (!c) throw new Error('no session cookie set');
  return c.split(';')[0] as string;
}

export async function login(app: FastifyInstance, email: string, password = PASSWORD): Promise<Session> {
  const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  const cookie = sessionCookie(res.headers['set-cookie']);
  return {
    cookie,
    csrf: (res.json() as { csrfToken: string }).csrfToken,
    token: cookie.slice('bl_session='.length),
  };
}

/** A customer (name as given, stored encrypted), a vehicle and a booked appointment. */
export async function makeAppointment(
  env: Env,
  opts: {
    name: string;
    phone: string;
    startsAt: Date;
    minutes?: number;
    bayId?: number;
    callSid?: string | null;
  },
): Promise<{ id: string; customerId: string }> {
  const { cipher, tdb } = env;
  const c = await tdb.db.query<{ id: string }>(
    `INSERT INTO customers (name_enc, phone_enc, phone_index, pii_key_version) VALUES ($1, $2, $3, $4)
     ON CONFLICT (phone_index) DO UPDATE SET updated_at = now() RETURNING id`,
    [
      cipher.encrypt(opts.name),
      cipher.encrypt(opts.phone),
      cipher.blindIndex(opts.phone),
      cipher.currentVersion,
    ],
  );
  const customerId = (c.rows[0] as { id: string }).id;
  const v = await tdb.db.query<{ id: string }>(
    "INSERT INTO vehicles (customer_id, year, make, model) VALUES ($1, 2020, 'Subaru', 'Outback') RETURNING id",
    [customerId],
  );
  const ends = new Date(opts.startsAt.getTime() + (opts.minutes ?? 30) * 60_000);
  const a = await tdb.db.query<{ id: string }>(
    `INSERT INTO appointments (customer_id, vehicle_id, service_code, bay_id, starts_at, ends_at, source, call_sid)
     VALUES ($1, $2, 'OIL', $3, $4, $5, $6, $7) RETURNING id`,
    [
      customerId,
      (v.rows[0] as { id: string }).id,
      opts.bayId ?? 1,
      opts.startsAt,
      ends,
      opts.callSid ? 'phone' : 'staff',
      opts.callSid ?? null,
    ],
  );
  return { id: (a.rows[0] as { id: string }).id, customerId };
}

/** A finished call with its transcript and latency, as the telephony side writes it. */
export async function makeCall(
  env: Env,
  opts: { turns: CallTurn[]; customerId?: string | null; outcome?: string },
): Promise<string> {
  const sid = newCallSid();
  const calls = new CallRepository(env.tdb.db, env.cipher);
  await calls.start({
    callSid: sid,
    fromE164: '+13125550142',
    fromMasked: '+1 ***-***-0142',
    customerId: null,
  });
  await calls.finish({
    callSid: sid,
    streamSid: 'MZ' + '0'.repeat(32),
    outcome: opts.outcome ?? 'booked',
    customerId: opts.customerId ?? null,
    turns: opts.turns,
    latency: opts.turns
      .filter((t) => t.role === 'agent')
      .map((_, i) => ({
        sttMs: 120.26,
        llmFirstTokenMs: 300,
        ttsFirstByteMs: 90,
        firstFrameMs: 5,
        totalMs: 515 + i,
      })),
  });
  return sid;
}

/** 10:00 local on the Tuesday at least a week ahead (a weekday the demo dealership is open). */
export function nextTuesday10(): { date: string; at: Date } {
  const d = new Date(Date.now() + 7 * 86_400_000);
  const fmt = (x: Date) =>
    new Intl.DateTimeFormat('en-CA', {
      timeZone: TZ,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    }).format(x);
  while (new Intl.DateTimeFormat('en-US', { timeZone: TZ, weekday: 'short' }).format(d) !== 'Tue')
    d.setTime(d.getTime() + 86_400_000);
  const date = fmt(d);
  // 16:00 UTC is 10:00 CST or 11:00 CDT: inside opening hours either way.
  return { date, at: new Date(`${date}T16:00:00Z`) };
}

export async function auditRows(env: Env, action: string) {
  const { rows } = await env.tdb.db.query<{
    actor_type: string;
    actor_id: string | null;
    target_type: string | null;
    target_id: string | null;
    ip: string | null;
    details: Record<string, unknown>;
  }>(
    'SELECT actor_type, actor_id, target_type, target_id, ip, details FROM audit_log WHERE action = $1 ORDER BY id',
    [action],
  );
  return rows;
}
