import { CustomerDirectory, CustomerRepository } from '../../../server/customers';
import { RedisKv } from '../../../server/platform/kv';
import { createMetrics } from '../../../server/platform/metrics';
import { seedDemo } from '../../../server/platform/seed';
import { createTestDb, type TestDb } from '../../support/pg';
import { createTestRedis, type TestRedis } from '../../support/redis';
import { testCipher } from '../../support/keys';

class CountingRepository extends CustomerRepository {
  lookups = 0;
  override async findViewByPhoneIndex(index: string) {
    this.lookups++;
    return super.findViewByPhoneIndex(index);
  }
}

const cipher = testCipher();
let tdb: TestDb;
let tr: TestRedis;

beforeAll(async () => {
  tdb = await createTestDb();
  tr = await createTestRedis();
  await seedDemo(tdb.db, cipher);
});
afterAll(async () => {
  await tr.cleanup();
  await tdb.drop();
});

function directory(opts: { negativeTtlMs?: number } = {}) {
  const repo = new CountingRepository(tdb.db, cipher);
  const metrics = createMetrics();
  const dir = new CustomerDirectory({
    repo,
    kv: new RedisKv(tr.redis, tr.prefix, metrics),
    cipher,
    ttlSeconds: 300,
    metrics,
    ...opts,
  });
  const count = async (result: string) =>
    (await metrics.customerCache.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { repo, dir, count };
}

describe('customer directory', () => {
  it('finds one caller however the number is written (blind index)', async () => {
    const { dir } = directory();
    const views = await Promise.all(
      ['+1 (312) 555-0142', '3125550142', '+13125550142'].map((p) => dir.lookupByPhone(p)),
    );
    expect(views.map((v) => v?.name)).toEqual(['Dana Whitfield', 'Dana Whitfield', 'Dana Whitfield']);
    expect(new Set(views.map((v) => v?.id)).size).toBe(1);
    expect(views[0]?.firstName).toBe('Dana');
    expect(views[0]?.vehicles.map((v) => `${v.year} ${v.make} ${v.model}`)).toEqual([
      '2019 Toyota Camry',
      '2022 Honda CR-V',
    ]);
    expect(views[0]).toHaveProperty('upcoming');
    expect(views[0]).toHaveProperty('lastServiceDate');
  });

  it('serves a hit from Redis without touching Postgres, and stores it encrypted under the blind index', async () => {
    const { repo, dir, count } = directory();
    await dir.invalidateIndex(dir.phoneIndex('+13125550199'));
    expect((await dir.lookupByPhone('+13125550199'))?.name).toBe('Luis Ortega');
    expect(repo.lookups).toBe(1);
    for (let i = 0; i < 5; i++) expect((await dir.lookupByPhone('3125550199'))?.name).toBe('Luis Ortega');
    expect(repo.lookups).toBe(1);
    expect(await count('hit')).toBe(5);
    expect(await count('miss')).toBe(1);
    const key = `${tr.prefix}cust:{${dir.phoneIndex('+13125550199')}}`;
    const raw = await tr.redis.get(key);
    expect(raw).not.toBeNull();
    expect(raw).not.toContain('Luis');
    expect(key).not.toContain('5550199');
    const ttl = await tr.redis.pttl(key);
    expect(ttl).toBeGreaterThan(290_000);
    expect(ttl).toBeLessThanOrEqual(300_000);
  });

  it('single-flight: 100 concurrent lookups of one uncached number make one query', async () => {
    const { repo, dir } = directory();
    await dir.invalidateIndex(dir.phoneIndex('+13125550142'));
    const views = await Promise.all(Array.from({ length: 100 }, () => dir.lookupByPhone('+13125550142')));
    expect(repo.lookups).toBe(1);
    expect(views.every((v) => v?.name === 'Dana Whitfield')).toBe(true);
  });

  it('caches unknown numbers briefly (negative cache)', async () => {
    const { repo, dir, count } = directory({ negativeTtlMs: 400 });
    expect(await dir.lookupByPhone('+13125550123')).toBeNull();
    expect(await dir.lookupByPhone('+13125550123')).toBeNull();
    expect(repo.lookups).toBe(1);
    expect(await count('negative')).toBe(1);
    await new Promise((r) => setTimeout(r, 450));
    expect(await dir.lookupByPhone('+13125550123')).toBeNull();
    expect(repo.lookups).toBe(2);
  });

  it('is invalidated when the customer changes', async () => {
    const { repo, dir } = directory();
    const before = await dir.lookupByPhone('+13125550199');
    const id = before?.id as string;
    await new CustomerRepository(tdb.db, cipher).addVehicle(tdb.db, id, {
      year: 2024,
      make: 'Kia',
      model: 'EV9',
    });
    await dir.invalidateCustomer(id);
    const after = await dir.lookupByPhone('+13125550199');
    expect(after?.vehicles.map((v) => v.model)).toContain('EV9');
    expect(repo.lookups).toBeGreaterThanOrEqual(1);
  });

  it('rejects an invalid phone number with a clear error', async () => {
    const { dir } = directory();
    await expect(dir.lookupByPhone('call me maybe')).rejects.toMatchObject({
      code: 'INVALID_PHONE',
      statusCode: 400,
    });
  });
});
