/**
 * `npm run bench`: session store and customer lookup on the real Redis and PostgreSQL (loopback by
 * default; REDIS_URL / DATABASE_URL override), in a schema and key prefix of its own, removed after;
 * the per-frame media path (parse, validate, decode, detect, forward, pace) in operations/s; and
 * what one model or TTS request costs beyond the provider's latency (bench-providers.ts).
 * Options: --n N (iterations, default 5000; frame ops run 40× as many, provider requests a tenth),
 * --suite all|store|frame|provider, --json FILE (write the figures).
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import pg from 'pg';
import { Redis } from 'ioredis';
import { PiiCipher } from '../server/platform/crypto';
import { createDb } from '../server/platform/postgres';
import { migrate } from '../server/platform/migrate';
import { seedDemo } from '../server/platform/seed';
import { RedisKv } from '../server/platform/kv';
import { RedisSessionStore } from '../server/sessions';
import { CustomerDirectory, CustomerRepository } from '../server/customers';
import os from 'node:os';
import { frameSuite, measure, printTable, socketSuite, type FrameSuiteResult, type Stats } from './bench-lib';
import { providerSuite } from './bench-providers';
import { argValue } from './cli';

const args = process.argv.slice(2);
const N = Number(argValue(args, '--n') ?? 5000);
const JSON_OUT = argValue(args, '--json');
const SUITE = argValue(args, '--suite') ?? 'all';
if (!['all', 'store', 'frame', 'provider'].includes(SUITE)) {
  console.error('--suite must be all, store, frame or provider');
  process.exit(2);
}
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function storeSuite(): Promise<Stats[]> {
  const cipher = new PiiCipher(new Map([[1, randomBytes(32)]]), randomBytes(32));
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const prefix = `bench:${randomBytes(4).toString('hex')}:`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const db = createDb({ url: DATABASE_URL, searchPath: `${schema},public`, max: 4 });
  const redis = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false });
  await redis.connect();
  const results: Stats[] = [];
  try {
    await migrate(db.pool);
    await seedDemo(db, cipher);

    const store = new RedisSessionStore({ redis, prefix, ttlSeconds: 3600, cipher });
    const sids = Array.from({ length: 64 }, () => `CA${randomBytes(16).toString('hex')}`);
    for (const sid of sids) await store.create({ callSid: sid, customerId: 'c' });
    const sid = (i: number) => sids[i % sids.length] as string;
    results.push(
      await measure('session.create', N, () =>
        store.create({ callSid: `CA${randomBytes(16).toString('hex')}` }),
      ),
    );
    results.push(await measure('session.get', N, (i) => store.get(sid(i))));
    results.push(
      await measure('session.update', N, (i) =>
        store.update(sid(i), { state: i % 2 ? 'listening' : 'speaking', speaking: i % 2 === 0 }),
      ),
    );
    results.push(
      await measure('session.update (collected merge)', N, (i) =>
        store.update(sid(i), { collected: { serviceCode: 'OIL', n: i } }),
      ),
    );
    const turn = {
      role: 'caller' as const,
      text: 'Tomorrow morning, around nine if you have it.',
      at: new Date().toISOString(),
      interrupted: false,
    };
    results.push(await measure('session.appendTurn (encrypted)', N, (i) => store.appendTurn(sid(i), turn)));
    results.push(
      await measure('session.lock+unlock', Math.floor(N / 2), async (i) => {
        await store.acquireLock(sid(i), 'bench', 10_000);
        await store.releaseLock(sid(i), 'bench');
      }),
    );

    const repo = new CustomerRepository(db, cipher);
    const dir = new CustomerDirectory({ repo, kv: new RedisKv(redis, prefix), cipher, ttlSeconds: 300 });
    await dir.lookupByPhone('+13125550142');
    results.push(await measure('customer lookup: hit', N, () => dir.lookupByPhone('+13125550142')));
    const index = dir.phoneIndex('+13125550199');
    results.push(
      await measure('customer lookup: miss (PG + cache fill)', Math.floor(N / 5), async () => {
        await redis.del(`${prefix}${dir.cacheKey(index)}`);
        await dir.lookupByIndex(index);
      }),
    );
    results.push(await measure('customer lookup: negative hit', N, () => dir.lookupByPhone('+13125550123')));
  } finally {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    await db.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
  return results;
}

async function main(): Promise<void> {
  const all = SUITE === 'all';
  const store = all || SUITE === 'store' ? await storeSuite() : [];
  const frame: FrameSuiteResult | null = all || SUITE === 'frame' ? frameSuite(N * 40) : null;
  const sockets = all || SUITE === 'frame' ? await socketSuite(N * 4) : [];
  const providerN = Math.max(20, Math.floor(N / 10));
  const providers = all || SUITE === 'provider' ? await providerSuite(providerN) : [];
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  console.log(
    `Bayline bench — node ${process.version}, ${os.cpus().length} × ${cpu}, load ${os.loadavg()[0]?.toFixed(2)}`,
  );
  if (store.length) {
    console.log(`session store and customer lookup: Redis ${REDIS_URL.replace(/\/\/.*@/, '//***@')}, n=${N}`);
    console.log('(customer lookup: miss includes one DEL round trip to evict the entry first)');
    printTable(store);
  }
  if (frame) {
    console.log(`frame path (sync, timed in one batch of n=${N * 40}: p50 = p99 = mean per op)`);
    printTable(frame.stats, 'µs');
    console.log(
      `per frame: ${frame.perFrameUs.inbound.toFixed(2)} µs in, ${frame.perFrameUs.outbound.toFixed(2)} µs out → ` +
        `${frame.callsPerCore} calls per core at 50 frames/s each way (frame path only, no sockets)`,
    );
    console.log(`the same messages through ws over loopback (both ends in this process, n=${N * 4}):`);
    printTable(sockets, 'µs');
  }
  if (providers.length) {
    console.log(
      `provider requests: adapters and SDKs over loopback HTTP to the emulators (own process), every emulated latency 0, n=${providerN}:`,
    );
    printTable(providers);
  }
  const results = [...store, ...(frame?.stats ?? []), ...sockets, ...providers];
  if (JSON_OUT)
    await writeFile(
      JSON_OUT,
      JSON.stringify(
        {
          node: process.version,
          cpus: os.cpus().length,
          cpu,
          loadavg: os.loadavg(),
          n: N,
          suite: SUITE,
          results,
          frame: frame ? { perFrameUs: frame.perFrameUs, callsPerCore: frame.callsPerCore } : null,
        },
        null,
        2,
      ),
    );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
