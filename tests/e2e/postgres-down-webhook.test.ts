/**
 * PostgreSQL down at ring time. The product reaches Postgres through a TCP gate this test holds:
 * cutting it drops every connection and refuses new ones, as a crashed or unreachable server
 * does, while the shared PostgreSQL keeps serving the other test files.
 */
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../server/app';
import { loadConfig, type Config } from '../../server/config';
import { createLogger } from '../../server/platform/logger';
import { createMetrics } from '../../server/platform/metrics';
import { RedisKv } from '../../server/platform/kv';
import { createDb, type Db } from '../../server/platform/postgres';
import { seedDemo } from '../../server/platform/seed';
import { RedisSessionStore } from '../../server/sessions';
import { CustomerDirectory, CustomerRepository } from '../../server/customers';
import { createProviders } from '../../server/providers';
import { createDemoBrain, startEmulators, type RunningEmulators } from '../../server/providers/emulators';
import { PHRASES, type PhraseCache } from '../../server/conversation/phrases';
import { signRequest } from '../../server/telephony/signature';
import { createVoice } from '../../server/voice';
import { createTestDb, DATABASE_URL, type TestDb } from '../support/pg';
import { createTestRedis, type TestRedis } from '../support/redis';
import { testCipher } from '../support/keys';
import { TwilioCaller } from '../support/twilio-caller';
import { freePort, nextMondayMorning, TZ } from './harness';
import { agentReply, until } from './flow';

jest.setTimeout(60_000);

/** A TCP hop in front of PostgreSQL that can be cut (every socket dropped, new ones refused). */
class PgGate {
  readonly #server = net.createServer((client) => this.#accept(client));
  readonly #sockets = new Set<net.Socket>();
  #up = true;
  port = 0;

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.port = (this.#server.address() as net.AddressInfo).port;
    return this;
  }

  url(): string {
    const u = new URL(DATABASE_URL);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  cut(): void {
    this.#up = false;
    for (const s of this.#sockets) s.destroy();
  }

  restore(): void {
    this.#up = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  #accept(client: net.Socket): void {
    if (!this.#up) {
      client.destroy();
      return;
    }
    const target = new URL(DATABASE_URL);
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }
}

interface GatedStack {
  config: Config;
  baseUrl: string;
  gate: PgGate;
  emulators: RunningEmulators;
  phrases: PhraseCache;
  caller(from: string): TwilioCaller;
  postStatus(callSid: string, status: string): Promise<Response>;
  close(): Promise<void>;
}

/** The stack as harness.ts builds it, except that the product's pool goes through the gate. */
async function startGatedStack(opts: { pgUpAtStart: boolean }): Promise<GatedStack> {
  const now = nextMondayMorning();
  const tdb: TestDb = await createTestDb();
  const tr: TestRedis = await createTestRedis();
  const cipher = testCipher();
  await seedDemo(tdb.db, cipher);
  const gate = await new PgGate().start();
  if (!opts.pgUpAtStart) gate.cut();
  const db: Db = createDb({ url: gate.url(), searchPath: tdb.searchPath, max: 4 });
  const emulators = await startEmulators({
    elevenlabs: { msPerChar: 5 },
    openai: { chat: { handler: createDemoBrain({ now: () => now, timeZone: TZ }) } },
  });
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    REDIS_KEY_PREFIX: tr.prefix,
    TRANSFER_PHONE_NUMBER: '+13125550100',
    MAX_CONCURRENT_CALLS: '1',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'silent',
  });
  const logger = createLogger({ level: config.logLevel, destination: process.stderr });
  const metrics = createMetrics();
  const kv = new RedisKv(tr.redis, tr.prefix, metrics);
  const sessions = new RedisSessionStore({
    redis: tr.redis,
    prefix: tr.prefix,
    ttlSeconds: config.sessionTtlSeconds,
    cipher,
    metrics,
  });
  const customers = new CustomerDirectory({
    repo: new CustomerRepository(db, cipher),
    kv,
    cipher,
    ttlSeconds: config.customerCacheTtlSeconds,
    metrics,
  });
  const lifecycle = { draining: false };
  const voice = createVoice({
    config,
    logger,
    runtime: { db, cipher, sessions, customers, metrics },
    providers: createProviders(config, logger, emulators.urls),
    lifecycle,
    now: () => now,
  });
  const app: FastifyInstance = await buildApp({
    config,
    logger,
    metrics,
    db,
    cipher,
    kv,
    authSigningKeys: new Map([[1, Buffer.alloc(32, 7)]]),
    sessions,
    customers,
    lifecycle,
    voice: voice.deps,
  });
  await app.listen({ port, host: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${port}`;
  const callers: TwilioCaller[] = [];
  return {
    config,
    baseUrl,
    gate,
    emulators,
    phrases: voice.phrases,
    caller(from) {
      const c = new TwilioCaller({ baseUrl, authToken: config.twilio.authToken, from });
      callers.push(c);
      return c;
    },
    postStatus(callSid, status) {
      const url = `${baseUrl}/twilio/status`;
      const params = { CallSid: callSid, CallStatus: status, AccountSid: config.twilio.accountSid };
      return fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': signRequest(config.twilio.authToken, url, params),
        },
        body: new URLSearchParams(params).toString(),
      });
    },
    async close() {
      await Promise.all(callers.map((c) => c.close().catch(() => undefined)));
      await app.close();
      voice.registry.close();
      await emulators.close();
      await db.close().catch(() => undefined);
      await gate.close();
      await tr.cleanup();
      await tdb.drop();
    },
  };
}

const synthesised = (stack: GatedStack) =>
  stack.emulators.elevenlabs.requests.all.map((r) => String(r.body.text));

describe('Postgres down after the dealership was loaded at start', () => {
  let stack: GatedStack;
  beforeAll(async () => {
    stack = await startGatedStack({ pgUpAtStart: true });
  });
  afterAll(async () => {
    await stack.close();
  });
  afterEach(() => {
    jest.restoreAllMocks();
    stack.gate.restore();
  });

  it('once the facts are past their TTL: TwiML, the greeting names the dealership, and the stream plays', async () => {
    stack.gate.cut();
    // Well past the dealership cache's 60 s: only the last good value can answer now.
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 120_000);
    const caller = stack.caller('+13125550199');
    const ring = await caller.placeCall();
    expect(ring.status).toBe(200);
    expect(ring.streamUrl).toBeDefined();
    expect(synthesised(stack)).toContain(
      'Thanks for calling Bayline Motors service. How can I help you today?',
    );
    // media-stream.ts reads the dealership again at `start`; served stale, the call goes on.
    await caller.connect();
    await agentReply(caller, 0);
    expect(caller.closeCode).toBeUndefined();
    expect(caller.media.length).toBeGreaterThan(0);
    await caller.stop();
  });

  it('a failure after admission gives the slot back and hands the caller to the desk', async () => {
    // Nothing on this path fails on its own any more; a throwing synthesis stands for the unforeseen.
    const spy = jest.spyOn(stack.phrases, 'get').mockImplementationOnce(() => {
      throw new Error('synthesis unavailable');
    });
    const failing = stack.caller('+13125550142');
    const ring = await failing.placeCall();
    expect(spy).toHaveBeenCalled();
    expect(ring.status).toBe(200);
    expect(ring.streamUrl).toBeUndefined();
    expect(ring.body).toContain('<Dial>+13125550100</Dial>');
    expect(ring.body).toContain('<Say');
    // MAX_CONCURRENT_CALLS is 1: a held slot would send the next caller to the desk as overflow.
    const next = stack.caller('+13125550199');
    expect((await next.placeCall()).streamUrl).toBeDefined();
    await stack.postStatus(next.callSid, 'completed');
  });
});

describe('Postgres down since start (the dealership never loaded)', () => {
  let stack: GatedStack;
  beforeAll(async () => {
    stack = await startGatedStack({ pgUpAtStart: false });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('the webhook still answers with <Connect><Stream>, greeting without the dealership name', async () => {
    const caller = stack.caller('+13125550142');
    const started = Date.now();
    const ring = await caller.placeCall();
    expect(ring.status).toBe(200);
    expect(ring.streamUrl).toBeDefined();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(synthesised(stack)).toContain(
      'Thanks for calling the dealership service. How can I help you today?',
    );
    expect(await stack.postStatus(caller.callSid, 'completed')).toMatchObject({ status: 204 });
  });

  it('the stream is not closed (1011): the caller hears why and is put through to the desk', async () => {
    const caller = stack.caller('+13125550199');
    const ring = await caller.placeCall();
    expect(ring.streamUrl).toBeDefined();
    await caller.connect();
    const transfers = () =>
      stack.emulators.twilio.requests.all.filter((r) => r.callSid === caller.callSid && r.form.Twiml);
    // The announcement plays out, its mark comes back, and the live call is sent to the desk.
    await until(() => transfers().length > 0, 15_000);
    expect(transfers()[0]?.form.Twiml).toContain('<Dial>+13125550100</Dial>');
    expect(synthesised(stack)).toContain(PHRASES.handOffNoFacts);
    expect(caller.media.length).toBeGreaterThan(0);
    expect(caller.closeCode).toBeUndefined();
    await caller.stop();
  });
});
