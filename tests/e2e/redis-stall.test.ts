/**
 * A Redis that stays connected but stops answering (a failover in progress, CLIENT PAUSE, a
 * black-holed network): the server reaches the real Redis through a TCP proxy that can hold every
 * byte (freeze) and let them through later (thaw), so only this file's server sees the stall. Calls
 * must go on (DESIGN § Resilience): Twilio's webhooks answer, the greeting plays, the caller is
 * answered; /health/redis says 503; and all is well again once Redis answers.
 */
import net from 'node:net';
import { buildApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { createLogger } from '../../server/platform/logger';
import { createMetrics } from '../../server/platform/metrics';
import { RedisKv } from '../../server/platform/kv';
import { connectRedis, createRedis, type RedisClient } from '../../server/platform/redis';
import { seedDemo } from '../../server/platform/seed';
import { RedisSessionStore } from '../../server/sessions';
import { CustomerDirectory, CustomerRepository } from '../../server/customers';
import { createProviders } from '../../server/providers';
import { createDemoBrain, startEmulators, type RunningEmulators } from '../../server/providers/emulators';
import { createVoice } from '../../server/voice';
import { createTestDb, type TestDb } from '../support/pg';
import { createTestRedis, REDIS_URL, type TestRedis } from '../support/redis';
import { testCipher } from '../support/keys';
import { TwilioCaller } from '../support/twilio-caller';
import { postSignedWebhook } from '../support/twilio-webhook';
import { freePort, nextMondayMorning, TZ, type Stack } from './harness';
import { agentReply, callTurns, finalCall, say, until } from './flow';

jest.setTimeout(90_000);

/** Forwards TCP to the real Redis; frozen, it holds what the client sends, as a paused server would. */
class FreezableProxy {
  readonly #server: net.Server;
  readonly #pairs = new Set<{ client: net.Socket; upstream: net.Socket; held: Buffer[] }>();
  #frozen = false;

  constructor(target: { host: string; port: number }) {
    this.#server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      const pair = { client, upstream, held: [] as Buffer[] };
      this.#pairs.add(pair);
      client.on('data', (chunk) => (this.#frozen ? pair.held.push(chunk) : upstream.write(chunk)));
      upstream.on('data', (chunk) => client.write(chunk));
      const end = () => {
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      for (const s of [client, upstream]) {
        s.on('error', end);
        s.on('close', end);
      }
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    return `redis://127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
  }

  freeze(): void {
    this.#frozen = true;
  }

  thaw(): void {
    this.#frozen = false;
    for (const p of this.#pairs) for (const chunk of p.held.splice(0)) p.upstream.write(chunk);
  }

  async close(): Promise<void> {
    for (const p of this.#pairs) p.client.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

/** The server as serve.ts composes it, its Redis client made by the product's createRedis. */
interface StallStack {
  baseUrl: string;
  authToken: string;
  accountSid: string;
  proxy: FreezableProxy;
  tdb: TestDb;
  tr: TestRedis;
  emulators: RunningEmulators;
  cipher: ReturnType<typeof testCipher>;
  caller(from: string): TwilioCaller;
  close(): Promise<void>;
}

async function startStallStack(): Promise<StallStack> {
  const now = nextMondayMorning();
  const tdb = await createTestDb();
  const tr = await createTestRedis();
  const cipher = testCipher();
  await seedDemo(tdb.db, cipher);
  const target = new URL(REDIS_URL);
  const proxy = new FreezableProxy({ host: target.hostname, port: Number(target.port || 6379) });
  const proxyUrl = await proxy.listen();
  const emulators = await startEmulators({
    elevenlabs: { msPerChar: 25 },
    openai: { chat: { handler: createDemoBrain({ now: () => now, timeZone: TZ }) } },
  });
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    REDIS_URL: proxyUrl,
    REDIS_KEY_PREFIX: tr.prefix,
    TRANSFER_PHONE_NUMBER: '+13125550100',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'silent',
  });
  if (config.redis.kind === 'memory') throw new Error('REDIS_URL was not taken');
  const logger = createLogger({ level: config.logLevel, destination: process.stderr });
  const metrics = createMetrics();
  const redis: RedisClient = createRedis(config.redis);
  await connectRedis(redis, 5000);
  const sessions = new RedisSessionStore({
    redis,
    prefix: tr.prefix,
    ttlSeconds: config.sessionTtlSeconds,
    cipher,
    metrics,
  });
  const kv = new RedisKv(redis, tr.prefix, metrics);
  const customers = new CustomerDirectory({
    repo: new CustomerRepository(tdb.db, cipher),
    kv,
    cipher,
    ttlSeconds: config.customerCacheTtlSeconds,
    metrics,
  });
  const lifecycle = { draining: false };
  const voice = createVoice({
    config,
    logger,
    runtime: { db: tdb.db, cipher, sessions, customers, metrics },
    providers: createProviders(config, logger, emulators.urls),
    lifecycle,
    now: () => now,
  });
  const app = await buildApp({
    config,
    logger,
    metrics,
    db: tdb.db,
    cipher,
    kv,
    authSigningKeys: new Map([[1, Buffer.alloc(32, 7)]]),
    sessions,
    customers,
    lifecycle,
    voice: voice.deps,
  });
  await app.listen({ port, host: '127.0.0.1' });
  await voice.phrases.warm();
  const baseUrl = `http://127.0.0.1:${port}`;
  const callers: TwilioCaller[] = [];
  return {
    baseUrl,
    authToken: config.twilio.authToken,
    accountSid: config.twilio.accountSid,
    proxy,
    tdb,
    tr,
    emulators,
    cipher,
    caller(from) {
      const c = new TwilioCaller({
        baseUrl,
        authToken: config.twilio.authToken,
        accountSid: config.twilio.accountSid,
        from,
      });
      callers.push(c);
      return c;
    },
    async close() {
      proxy.thaw();
      await Promise.all(callers.map((c) => c.close().catch(() => undefined)));
      await app.close();
      voice.registry.close();
      redis.disconnect();
      await proxy.close();
      await emulators.close();
      await tr.cleanup();
      await tdb.drop();
    },
  };
}

/** Resolves with how long `p` took, or rejects once `ms` have passed (a hung request fails the test). */
async function timed<T>(p: Promise<T>, ms: number): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    const value = await Promise.race([p, deadline]);
    return { value, ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

let stack: StallStack;
/** flow.ts reads only the database and the cipher, which this stack has as the harness's does. */
const flowStack = () => stack as unknown as Stack;
beforeAll(async () => {
  stack = await startStallStack();
});
afterAll(async () => {
  await stack?.close();
});
afterEach(() => {
  stack.proxy.thaw();
});

const healthRedis = async () => {
  const res = await fetch(`${stack.baseUrl}/health/redis`);
  return { status: res.status, body: (await res.json()) as { status: string; error?: string } };
};

const statusCallback = (callSid: string) =>
  postSignedWebhook({
    baseUrl: stack.baseUrl,
    publicBaseUrl: stack.baseUrl,
    path: '/twilio/status',
    authToken: stack.authToken,
    params: { CallSid: callSid, AccountSid: stack.accountSid, CallStatus: 'completed' },
  });

describe('Redis connected but not answering', () => {
  it('rung before the stall: the greeting plays at once and the caller is answered', async () => {
    const caller = stack.caller('+13125550142');
    const ring = await caller.placeCall();
    expect(ring.streamUrl).toBeDefined();
    stack.proxy.freeze();
    // The stream's start waits on the call lock: bounded, it must not hold up the greeting.
    await caller.connect();
    const { ms: greetingMs } = await timed(
      caller.waitFor((c) => c.media.length > 0, 10_000),
      10_000,
    );
    expect(greetingMs).toBeLessThan(1_000);
    await agentReply(caller, 0);
    await say(caller, 'hours');
    await caller.stop();
    await finalCall(flowStack(), caller.callSid);
    const turns = await callTurns(flowStack(), caller.callSid);
    expect(turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual([
      'What time do you open on Saturday?',
    ]);
    // Seconds without a reply: the client dropped that connection and retries; it comes back.
    stack.proxy.thaw();
    await until(async () => (await healthRedis()).status === 200, 15_000);
  });

  it("Twilio's webhooks answer in time, /health/redis says 503, and all is well once it answers", async () => {
    stack.proxy.freeze();
    // Caller lookup (cache read and write) and the session's creation all wait on Redis.
    const caller = stack.caller('+13125550199');
    const ring = await timed(caller.placeCall(), 10_000);
    expect(ring.value.status).toBe(200);
    expect(ring.value.streamUrl).toBeDefined();
    expect(ring.ms).toBeLessThan(3_000);
    // The stream never comes (the caller hung up while ringing): the status callback closes it.
    const status = await timed(statusCallback(caller.callSid), 10_000);
    expect(status.value.status).toBe(204);
    expect(status.ms).toBeLessThan(2_000);
    expect(await finalCall(flowStack(), caller.callSid)).toMatchObject({ outcome: 'abandoned' });

    const health = await timed(healthRedis(), 5_000);
    expect(health.value.status).toBe(503);
    expect(health.value.body).toMatchObject({ status: 'error' });
    expect(typeof health.value.body.error).toBe('string');
    expect(health.ms).toBeLessThan(1_500);

    // Redis answers again. The commands that timed out get their replies now, which must not be
    // taken for later commands': health, the session, the lock and the cleanup all come right.
    stack.proxy.thaw();
    await until(async () => (await healthRedis()).status === 200, 15_000);
    expect((await healthRedis()).body).toMatchObject({ status: 'ok' });
    const next = stack.caller('+13125550142');
    expect((await next.placeCall()).streamUrl).toBeDefined();
    const session = `${stack.tr.prefix}call:{${next.callSid}}`;
    expect(await stack.tr.redis.exists(session)).toBe(1);
    await next.connect();
    await agentReply(next, 0);
    expect(await stack.tr.redis.exists(`${session}:lock`)).toBe(1);
    await next.stop();
    await finalCall(flowStack(), next.callSid);
    await until(async () => (await stack.tr.redis.exists(session)) === 0);
  });
});
