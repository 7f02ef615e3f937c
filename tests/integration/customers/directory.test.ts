import { CustomerDirectory, CustomerRepository } from '../../../server/customers';
import { RedisKv, type Kv } from '../../../server/platform/kv';
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

describe('customer directory across instances (one Redis, as with WORKERS>1 or several pods)', () => {
  /** A repository whose first lookup returns only when released: a fill delayed after its read. */
  class GatedRepository extends CustomerRepository {
    lookups = 0;
    readonly read: Promise<void>;
    #readDone!: () => void;
    #gate: Promise<void>;
    release!: () => void;
    constructor() {
      super(tdb.db, cipher);
      this.read = new Promise<void>((r) => (this.#readDone = r));
      this.#gate = new Promise<void>((r) => (this.release = r));
    }
    override async findViewByPhoneIndex(index: string) {
      const first = this.lookups++ === 0;
      const view = await super.findViewByPhoneIndex(index);
      if (first) {
        this.#readDone();
        await this.#gate;
      }
      return view;
    }
  }

  /**
   * Redis, recording each operation (a `set` once it has completed, `get` and `del` when called),
   * and failing the generation reads whose ordinals (1-based) are in `failGenerationReads`.
   */
  class RecordingKv extends RedisKv {
    readonly ops: string[] = [];
    readonly failGenerationReads = new Set<number>();
    #generationReads = 0;
    constructor() {
      super(tr.redis, tr.prefix);
    }
    override async get(key: string) {
      this.ops.push(`get ${key}`);
      if (key.endsWith(':gen') && this.failGenerationReads.has(++this.#generationReads)) {
        throw new Error('Command timed out');
      }
      return super.get(key);
    }
    override async set(key: string, value: string, ttlMs: number) {
      await super.set(key, value, ttlMs);
      this.ops.push(`set ${key}`);
    }
    override async del(...keys: string[]) {
      this.ops.push(`del ${keys.join(' ')}`);
      return super.del(...keys);
    }
  }

  const instance = (repo: CustomerRepository, kv: Kv = new RedisKv(tr.redis, tr.prefix)) =>
    new CustomerDirectory({ repo, kv, cipher, ttlSeconds: 300 });
  const repo = () => new CustomerRepository(tdb.db, cipher);

  it('a fill that read Postgres before another instance changed the customer is never served', async () => {
    const phone = '+13125550171';
    const { id } = await repo().upsert(tdb.db, { phoneE164: phone, name: 'Pat Old', email: null });
    const slow = new GatedRepository();
    const one = instance(slow);
    const twoRepo = new CountingRepository(tdb.db, cipher);
    const two = instance(twoRepo);

    const ring = one.lookupByPhone(phone);
    await slow.read;
    await repo().setName(tdb.db, id, 'Pat New');
    await two.invalidateCustomer(id);
    slow.release();
    expect((await ring)?.name).toBe('Pat Old'); // it read before the change; it just must not stick

    expect((await two.lookupByPhone(phone))?.name).toBe('Pat New');
    expect((await one.lookupByPhone(phone))?.name).toBe('Pat New');
    // ...and caching resumes: the fresh fill is a hit for both instances.
    const queries = twoRepo.lookups + slow.lookups;
    expect((await two.lookupByPhone(phone))?.name).toBe('Pat New');
    expect((await one.lookupByPhone(phone))?.name).toBe('Pat New');
    expect(twoRepo.lookups + slow.lookups).toBe(queries);
  });

  it('an "unknown number" fill racing the new customer\'s creation on another instance is never served', async () => {
    const phone = '+13125550172';
    const slow = new GatedRepository();
    const one = instance(slow);
    const two = instance(repo());

    const ring = one.lookupByPhone(phone);
    await slow.read;
    const { id } = await repo().upsert(tdb.db, { phoneE164: phone, name: 'Robin Newcaller', email: null });
    await two.invalidateCustomer(id);
    slow.release();
    expect(await ring).toBeNull();

    expect((await two.lookupByPhone(phone))?.name).toBe('Robin Newcaller');
  });

  it('invalidation writes cust:{idx}:gen (no PII in the name, TTL beyond the cache TTL) and deletes cust:{idx}', async () => {
    const dir = instance(repo());
    const index = dir.phoneIndex('+13125550142');
    await dir.lookupByIndex(index);
    expect(await tr.redis.exists(`${tr.prefix}cust:{${index}}`)).toBe(1);
    await dir.invalidateIndex(index);
    expect(await tr.redis.exists(`${tr.prefix}cust:{${index}}`)).toBe(0);
    const genKey = `${tr.prefix}cust:{${index}}:gen`;
    expect(genKey).not.toContain('5550142');
    const first = await tr.redis.get(genKey);
    expect(first).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const ttl = await tr.redis.pttl(genKey);
    expect(ttl).toBeGreaterThan(300_000);
    expect(ttl).toBeLessThanOrEqual(360_000);
    await dir.invalidateIndex(index);
    expect(await tr.redis.get(genKey)).not.toBe(first);
  });

  it('the value under cust:{idx} is the encrypted view, or "-" for an unknown number, with no prefix', async () => {
    const dir = instance(repo());
    const known = dir.phoneIndex('+13125550142');
    await dir.invalidateIndex(known);
    const view = await dir.lookupByIndex(known);
    expect(view?.name).toBe('Dana Whitfield');
    const raw = await tr.redis.get(`${tr.prefix}cust:{${known}}`);
    expect(raw).not.toBeNull();
    expect(JSON.parse(cipher.decrypt(raw as string))).toEqual(view);

    const unknown = dir.phoneIndex('+13125550124');
    await dir.invalidateIndex(unknown);
    expect(await dir.lookupByIndex(unknown)).toBeNull();
    expect(await tr.redis.get(`${tr.prefix}cust:{${unknown}}`)).toBe('-');
  });

  it('a hit is one GET; a miss reads the generation before its query and after its write; invalidation writes the generation, then deletes', async () => {
    const kv = new RecordingKv();
    const dir = instance(repo(), kv);
    const index = dir.phoneIndex('+13125550199');
    const entry = `cust:{${index}}`;
    const gen = `cust:{${index}}:gen`;

    await dir.invalidateIndex(index);
    expect(kv.ops).toEqual([`set ${gen}`, `del ${entry}`]); // the delete is sent once the write is done

    kv.ops.length = 0;
    expect((await dir.lookupByIndex(index))?.name).toBe('Luis Ortega');
    expect(kv.ops).toEqual([`get ${entry}`, `get ${gen}`, `set ${entry}`, `get ${gen}`]);

    kv.ops.length = 0;
    expect((await dir.lookupByIndex(index))?.name).toBe('Luis Ortega');
    expect(kv.ops).toEqual([`get ${entry}`]);
  });

  it.each([
    [1, 'before its query (nothing is written)'],
    [2, 'after its write (the entry is deleted)'],
  ])(
    'when Redis fails the generation read %i %s, the lookup still answers and nothing stays cached',
    async (failing) => {
      const kv = new RecordingKv();
      kv.failGenerationReads.add(failing);
      const counting = new CountingRepository(tdb.db, cipher);
      const dir = instance(counting, kv);
      const index = dir.phoneIndex('+13125550199');
      await tr.redis.del(`${tr.prefix}cust:{${index}}`);

      expect((await dir.lookupByIndex(index))?.name).toBe('Luis Ortega');
      expect(await tr.redis.exists(`${tr.prefix}cust:{${index}}`)).toBe(0);
      expect(kv.ops.filter((op) => op.startsWith('set ')).length).toBe(failing === 1 ? 0 : 1);
      // The next lookup, with Redis answering, caches as usual.
      expect((await dir.lookupByIndex(index))?.name).toBe('Luis Ortega');
      expect((await dir.lookupByIndex(index))?.name).toBe('Luis Ortega');
      expect(counting.lookups).toBe(2);
    },
  );

  it('in one process, a lookup after an invalidation does not join a query that started before it', async () => {
    const phone = '+13125550173';
    const { id } = await repo().upsert(tdb.db, { phoneE164: phone, name: 'Sam Old', email: null });
    const slow = new GatedRepository();
    const metrics = createMetrics();
    const dir = new CustomerDirectory({
      repo: slow,
      kv: new RedisKv(tr.redis, tr.prefix),
      cipher,
      ttlSeconds: 300,
      metrics,
    });
    const misses = async () =>
      (await metrics.customerCache.get()).values.find((v) => v.labels.result === 'miss')?.value ?? 0;

    const first = dir.lookupByPhone(phone);
    await slow.read;
    await repo().setName(tdb.db, id, 'Sam New');
    await dir.invalidateCustomer(id);
    const second = dir.lookupByPhone(phone);
    // Release the first query only once the second lookup has chosen to join it or not.
    while ((await misses()) < 2) await new Promise((r) => setTimeout(r, 1));
    slow.release();
    expect((await first)?.name).toBe('Sam Old');
    expect((await second)?.name).toBe('Sam New');
    expect((await dir.lookupByPhone(phone))?.name).toBe('Sam New');
  });
});
