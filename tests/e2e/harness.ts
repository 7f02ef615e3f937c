/**
 * The whole product on loopback: the server as main.ts composes it (real Redis, real PostgreSQL),
 * the provider emulators speaking the vendors' wire formats to the real SDKs, and Twilio callers.
 */
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../server/app';
import { loadConfig, type Config } from '../../server/config';
import { createLogger } from '../../server/platform/logger';
import { createMetrics, type Metrics } from '../../server/platform/metrics';
import { RedisKv } from '../../server/platform/kv';
import type { Db } from '../../server/platform/postgres';
import { connectRedis, createRedis, type RedisClient } from '../../server/platform/redis';
import { seedDemo } from '../../server/platform/seed';
import { RedisSessionStore } from '../../server/sessions';
import { CustomerDirectory, CustomerRepository } from '../../server/customers';
import { createProviders } from '../../server/providers';
import {
  createDemoBrain,
  startEmulators,
  type EmulatorOptions,
  type RunningEmulators,
} from '../../server/providers/emulators';
import type { PhraseCache } from '../../server/conversation/phrases';
import { createVoice } from '../../server/voice';
import type { PiiCipher } from '../../server/platform/crypto';
import { createTestDb, type TestDb } from '../support/pg';
import { createTestRedis, type TestRedis } from '../support/redis';
import { testCipher } from '../support/keys';
import { TwilioCaller, type TwilioCallerOptions } from '../support/twilio-caller';
import { postSignedWebhook, type RingResult } from '../support/twilio-webhook';

export const TZ = 'America/Chicago';

/** The next Monday, 10:00 in Chicago: "tomorrow" is always a Tuesday, and always in the future. */
export function nextMondayMorning(from = new Date()): Date {
  const d = new Date(from.getTime() + 7 * 86_400_000);
  while (new Intl.DateTimeFormat('en-US', { timeZone: TZ, weekday: 'short' }).format(d) !== 'Mon')
    d.setTime(d.getTime() + 86_400_000);
  const ymd = new Intl.DateTimeFormat('en-CA', {
    timeZone: TZ,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(d);
  return new Date(`${ymd}T16:00:00Z`); // 10:00 CST (16:00 UTC); in CDT it is 11:00, still a morning
}

export interface Stack {
  config: Config;
  baseUrl: string;
  app: FastifyInstance;
  emulators: RunningEmulators;
  tdb: TestDb;
  tr: TestRedis;
  cipher: PiiCipher;
  metrics: Metrics;
  phrases: PhraseCache;
  now: Date;
  /** Undoes what a test scripted or broke: the demo brain answers again and no emulator fails. */
  resetProviders(): void;
  /** Twilio's signed status callback for a call. */
  postStatus(callSid: string, status: string): Promise<RingResult>;
  dial(opts?: Partial<TwilioCallerOptions>): Promise<TwilioCaller>;
  caller(opts?: Partial<TwilioCallerOptions>): TwilioCaller;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface StackOptions {
  emulators?: EmulatorOptions;
  env?: Record<string, string>;
  /**
   * The product's own Redis client (createRedis from config) reaches Redis at this URL, e.g. a proxy
   * the test controls; by default it shares the test's client. Keys stay under the test's prefix.
   */
  redisUrl?: string;
  /** The product's pool (e.g. through a gate the test controls); by default the test schema's. */
  db?: (tdb: TestDb) => Db;
  /** Synthesise the fixed phrases before the first call (default true). */
  warmPhrases?: boolean;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const now = nextMondayMorning();
  const tdb = await createTestDb();
  const tr = await createTestRedis();
  const cipher = testCipher();
  await seedDemo(tdb.db, cipher);
  const db = opts.db ? opts.db(tdb) : tdb.db;
  const emulators = await startEmulators({
    ...opts.emulators,
    elevenlabs: { msPerChar: 25, ...opts.emulators?.elevenlabs },
    openai: {
      ...opts.emulators?.openai,
      chat: { handler: createDemoBrain({ now: () => now, timeZone: TZ }), ...opts.emulators?.openai?.chat },
    },
  });
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
    REDIS_KEY_PREFIX: tr.prefix,
    TRANSFER_PHONE_NUMBER: '+13125550100',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'silent',
    ...opts.env,
  });
  let productRedis: RedisClient | undefined;
  if (opts.redisUrl) {
    if (config.redis.kind === 'memory') throw new Error('REDIS_URL was not taken');
    productRedis = createRedis(config.redis);
    await connectRedis(productRedis, 5000);
  }
  const redis = productRedis ?? tr.redis;
  const logger = createLogger({ level: config.logLevel, destination: process.stderr });
  const metrics = createMetrics();
  const sessions = new RedisSessionStore({
    redis,
    prefix: tr.prefix,
    ttlSeconds: config.sessionTtlSeconds,
    cipher,
    metrics,
  });
  const kv = new RedisKv(redis, tr.prefix, metrics);
  const customers = new CustomerDirectory({
    repo: new CustomerRepository(db, cipher),
    kv,
    cipher,
    ttlSeconds: config.customerCacheTtlSeconds,
    metrics,
  });
  const providers = createProviders(config, logger, emulators.urls, metrics);
  const lifecycle = { draining: false };
  const voice = createVoice({
    config,
    logger,
    runtime: { db, cipher, sessions, customers, metrics },
    providers,
    lifecycle,
    now: () => now,
  });
  const app = await buildApp({
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
  if (opts.warmPhrases !== false) await voice.phrases.warm();
  const baseUrl = `http://127.0.0.1:${port}`;
  const callers: TwilioCaller[] = [];
  const callerOpts = (o: Partial<TwilioCallerOptions>): TwilioCallerOptions => ({
    baseUrl,
    authToken: config.twilio.authToken,
    accountSid: config.twilio.accountSid,
    ...o,
  });
  return {
    config,
    baseUrl,
    app,
    emulators,
    tdb,
    tr,
    cipher,
    metrics,
    phrases: voice.phrases,
    now,
    resetProviders() {
      emulators.openai.chat.respond(createDemoBrain({ now: () => now, timeZone: TZ }));
      emulators.openai.chat.faults.clear();
      emulators.elevenlabs.faults.clear();
      emulators.twilio.faults.clear();
      emulators.openai.realtime.resetFaults();
    },
    postStatus(callSid, status) {
      return postSignedWebhook({
        baseUrl,
        publicBaseUrl: config.publicBaseUrl,
        path: '/twilio/status',
        authToken: config.twilio.authToken,
        params: { CallSid: callSid, AccountSid: config.twilio.accountSid, CallStatus: status },
      });
    },
    caller(o = {}) {
      const c = new TwilioCaller(callerOpts(o));
      callers.push(c);
      return c;
    },
    async dial(o = {}) {
      const c = await TwilioCaller.dial(callerOpts(o));
      callers.push(c);
      return c;
    },
    async close() {
      await Promise.all(callers.map((c) => c.close().catch(() => undefined)));
      await app.close();
      voice.registry.close();
      productRedis?.disconnect();
      await emulators.close();
      if (db !== tdb.db) await db.close().catch(() => undefined);
      await tr.cleanup();
      await tdb.drop();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
