import { MemorySessionStore, RedisSessionStore, type SessionStore } from '../../../server/sessions';
import { createTestRedis, type TestRedis } from '../../support/redis';
import { callSid, testCipher } from '../../support/keys';

const cipher = testCipher();
let tr: TestRedis;

beforeAll(async () => {
  tr = await createTestRedis();
});
afterAll(async () => {
  await tr.cleanup();
});

const backends: Array<[string, (ttlSeconds: number) => SessionStore]> = [
  [
    'redis',
    (ttlSeconds) => new RedisSessionStore({ redis: tr.redis, prefix: tr.prefix, ttlSeconds, cipher }),
  ],
  ['memory', (ttlSeconds) => new MemorySessionStore({ ttlSeconds, cipher })],
];

describe.each(backends)('session store (%s)', (_name, make) => {
  let store: SessionStore;
  beforeEach(() => {
    store = make(3600);
  });
  afterEach(async () => {
    await store.close();
  });

  it('creates a session with the configured TTL and reads it back', async () => {
    const sid = callSid();
    expect(await store.create({ callSid: sid, customerId: 'c-1', owner: 'i-1' })).toBe(true);
    const s = await store.get(sid);
    expect(s).toMatchObject({
      callSid: sid,
      customerId: 'c-1',
      state: 'ringing',
      speaking: false,
      collected: {},
      owner: 'i-1',
    });
    expect(s?.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const ttl = await store.ttlMs(sid);
    expect(ttl).toBeGreaterThan(3590_000);
    expect(ttl).toBeLessThanOrEqual(3600_000);
    expect(await store.create({ callSid: sid })).toBe(false);
  });

  it('keeps the TTL across updates (never shortened, never reset)', async () => {
    const sid = callSid();
    await store.create({ callSid: sid });
    const before = await store.ttlMs(sid);
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 5; i++)
      expect(await store.update(sid, { state: 'listening', speaking: i % 2 === 0 })).toBe(true);
    const after = await store.ttlMs(sid);
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(before);
    expect(before - after).toBeLessThan(5_000);
  });

  it('loses none of 100 concurrent updates of different fields', async () => {
    const sid = callSid();
    await store.create({ callSid: sid });
    await Promise.all([
      ...Array.from({ length: 97 }, (_, i) =>
        store.update(sid, { collected: { [`k${i}`]: i } as Record<string, unknown> }),
      ),
      store.update(sid, { streamSid: 'MZ1' }),
      store.update(sid, { intent: 'book' }),
      store.update(sid, { speaking: true }),
    ]);
    const s = await store.get(sid);
    expect(s).toMatchObject({ streamSid: 'MZ1', intent: 'book', speaking: true });
    expect(Object.keys(s?.collected ?? {})).toHaveLength(97);
    expect(s?.collected.k42).toBe(42);
  });

  it('refuses to update or append to a session that does not exist', async () => {
    const sid = callSid();
    expect(await store.update(sid, { state: 'x' })).toBe(false);
    expect(
      await store.appendTurn(sid, {
        role: 'caller',
        text: 'hi',
        at: new Date().toISOString(),
        interrupted: false,
      }),
    ).toBe(0);
    expect(await store.get(sid)).toBeNull();
    expect(await store.ttlMs(sid)).toBe(-2);
  });

  it('appends turns in order and reads them decrypted', async () => {
    const sid = callSid();
    await store.create({ callSid: sid });
    const at = new Date().toISOString();
    expect(
      await store.appendTurn(sid, {
        role: 'agent',
        text: 'Hi Dana, how can I help?',
        at,
        interrupted: false,
      }),
    ).toBe(1);
    expect(
      await store.appendTurn(sid, { role: 'caller', text: 'Book an oil change', at, interrupted: false }),
    ).toBe(2);
    expect((await store.turns(sid)).map((t) => t.text)).toEqual([
      'Hi Dana, how can I help?',
      'Book an oil change',
    ]);
  });

  it('expires sessions', async () => {
    const short = make(1);
    const sid = callSid();
    await short.create({ callSid: sid });
    expect(await short.get(sid)).not.toBeNull();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await short.get(sid)).toBeNull();
    expect(await short.update(sid, { state: 'late' })).toBe(false);
    await short.close();
  });

  it('lock refuses a second holder until released', async () => {
    const sid = callSid();
    expect(await store.isLocked(sid)).toBe(false);
    expect(await store.acquireLock(sid, 'socket-a', 10_000)).toBe(true);
    expect(await store.isLocked(sid)).toBe(true);
    expect(await store.acquireLock(sid, 'socket-b', 10_000)).toBe(false);
    await store.releaseLock(sid, 'socket-b'); // not the holder: no effect
    expect(await store.acquireLock(sid, 'socket-b', 10_000)).toBe(false);
    await store.releaseLock(sid, 'socket-a');
    expect(await store.isLocked(sid)).toBe(false);
    expect(await store.acquireLock(sid, 'socket-b', 10_000)).toBe(true);
  });

  it('deletes a session and its turns, and lists live calls', async () => {
    const sid = callSid();
    await store.create({ callSid: sid, state: 'listening' });
    await store.appendTurn(sid, {
      role: 'caller',
      text: 'x',
      at: new Date().toISOString(),
      interrupted: false,
    });
    expect((await store.listLive()).map((s) => s.callSid)).toContain(sid);
    await store.delete(sid);
    expect(await store.get(sid)).toBeNull();
    expect(await store.turns(sid)).toEqual([]);
    expect((await store.listLive()).map((s) => s.callSid)).not.toContain(sid);
  });

  it('refuses CallSids that could escape their key', async () => {
    await expect(store.get('CA1}:x')).rejects.toMatchObject({ code: 'INVALID_CALL_SID' });
  });
});

describe('redis session keys', () => {
  it('match CONTRACT.md, carry no PII, and share one hash slot', async () => {
    const store = new RedisSessionStore({ redis: tr.redis, prefix: tr.prefix, ttlSeconds: 3600, cipher });
    const sid = callSid();
    await store.create({ callSid: sid, customerId: 'cust-1' });
    await store.appendTurn(sid, {
      role: 'caller',
      text: 'My number is 312 555 0142, Dana',
      at: new Date().toISOString(),
      interrupted: false,
    });
    const keys = (await tr.keys()).filter((k) => k.includes(sid)).sort();
    expect(keys).toEqual([`${tr.prefix}call:{${sid}}`, `${tr.prefix}call:{${sid}}:turns`]);
    expect(await tr.redis.type(`${tr.prefix}call:{${sid}}`)).toBe('hash');
    expect(await tr.redis.type(`${tr.prefix}call:{${sid}}:turns`)).toBe('list');
    const raw = await tr.redis.lrange(`${tr.prefix}call:{${sid}}:turns`, 0, -1);
    expect(raw[0]).not.toContain('Dana');
    expect(raw[0]).not.toContain('0142');
    const turnsTtl = await tr.redis.pttl(`${tr.prefix}call:{${sid}}:turns`);
    expect(turnsTtl).toBeGreaterThan(3590_000);
    const fields = Object.keys(await tr.redis.hgetall(`${tr.prefix}call:{${sid}}`)).sort();
    expect(fields).toEqual(
      [
        'callSid',
        'collected',
        'createdAt',
        'customerId',
        'intent',
        'owner',
        'speaking',
        'state',
        'streamSid',
        'updatedAt',
      ].sort(),
    );
  });
});
