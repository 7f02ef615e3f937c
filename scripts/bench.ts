/**
 * `npm run bench`: session store and customer lookup on the real Redis and PostgreSQL (loopback by
 * default; REDIS_URL / DATABASE_URL override), in a schema and key prefix of its own, removed after.
 * Options: --n N (iterations, default 5000), --json FILE (write the figures).
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
import { measure, printTable, type Stats } from './bench-lib';
import { argValue } from './cli';

const args = process.argv.slice(2);
const N = Number(argValue(args, '--n') ?? 5000);
const JSON_OUT = argValue(args, '--json');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function main(): Promise<void> {
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
  console.log(
    `Bayline bench — node ${process.version}, Redis ${REDIS_URL.replace(/\/\/.*@/, '//***@')}, n=${N}`,
  );
  console.log('(customer lookup: miss includes one DEL round trip to evict the entry first)');
  printTable(results);
  if (JSON_OUT) await writeFile(JSON_OUT, JSON.stringify({ node: process.version, results }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
