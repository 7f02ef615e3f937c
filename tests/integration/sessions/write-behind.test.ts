/**
 * DESIGN § Resilience: Redis down mid-call, "writes queue and replay". The store reaches the real
 * Redis through a proxy the test cuts (refusing) or freezes (connected but silent) and restores;
 * the test reads what landed straight from Redis.
 */
import { createRedis, connectRedis, type RedisClient } from '../../../server/platform/redis';
import { createMetrics } from '../../../server/platform/metrics';
import { RedisSessionStore, type Turn } from '../../../server/sessions';
import { createTestRedis, REDIS_URL, type TestRedis } from '../../support/redis';
import { callSid, testCipher } from '../../support/keys';
import { RedisProxy } from '../../support/tcp-proxy';

jest.setTimeout(30_000);

const TTL_SECONDS = 3600;
const cipher = testCipher();
let tr: TestRedis;
let proxy: RedisProxy;
let client: RedisClient;
let metrics: ReturnType<typeof createMetrics>;
let store: RedisSessionStore;

beforeAll(async () => {
  tr = await createTestRedis();
  proxy = RedisProxy.forUrl(REDIS_URL);
  client = createRedis({ kind: 'url', url: await proxy.listen() });
  await connectRedis(client, 5000);
});
afterAll(async () => {
  client.disconnect();
  await proxy.close();
  await tr.cleanup();
});
beforeEach(async () => {
  // Each test starts with the client connected (a previous test's outage may still be healing).
  await reconnected();
  metrics = createMetrics();
  store = new RedisSessionStore({
    redis: client,
    prefix: tr.prefix,
    ttlSeconds: TTL_SECONDS,
    cipher,
    metrics,
  });
});
afterEach(async () => {
  proxy.thaw();
  proxy.restore();
  await store.close();
});

const keys = (sid: string) => ({
  session: `${tr.prefix}call:{${sid}}`,
  turns: `${tr.prefix}call:{${sid}}:turns`,
});
const turn = (text: string, role: Turn['role'] = 'caller'): Turn => ({
  role,
  text,
  at: new Date().toISOString(),
  interrupted: false,
});
/** The turns as they are in Redis, decrypted: what ops tooling and another instance would read. */
const redisTurns = async (sid: string) =>
  (await tr.redis.lrange(keys(sid).turns, 0, -1)).map((v) => (JSON.parse(cipher.decrypt(v)) as Turn).text);
const counter = async (name: 'sessionWritesQueued' | 'sessionWritesReplayed') =>
  (await metrics[name].get()).values.reduce((n, v) => n + v.value, 0);

async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The client is connected again (its own retry), so the replay timer can land. */
const reconnected = () => until(async () => (await client.ping().catch(() => '')) === 'PONG');

describe('session writes while Redis is unavailable', () => {
  it('Redis refusing: a live call’s turns and state are queued and land in order once it is back', async () => {
    const sid = callSid();
    expect(await store.create({ callSid: sid, customerId: 'c-1', owner: 'i-1' })).toBe(true);
    await store.appendTurn(sid, turn('Hi Dana, how can I help?', 'agent'));
    const ttlBefore = await tr.redis.pttl(keys(sid).session);

    proxy.cut();
    await store.update(sid, { streamSid: 'MZ1', state: 'listening' });
    await store.appendTurn(sid, turn('What time do you open on Saturday?'));
    await store.update(sid, { state: 'thinking' });
    await store.appendTurn(sid, turn('We open at eight on Saturday.', 'agent'));
    await store.update(sid, { state: 'speaking', speaking: true, collected: { topic: 'hours' } });
    await store.appendTurn(sid, turn('Thanks'));
    await store.update(sid, { state: 'listening', speaking: false });
    expect(store.queuedCalls).toBe(1);
    expect(await redisTurns(sid)).toEqual(['Hi Dana, how can I help?']);

    proxy.restore();
    await until(() => store.queuedCalls === 0);
    expect(await redisTurns(sid)).toEqual([
      'Hi Dana, how can I help?',
      'What time do you open on Saturday?',
      'We open at eight on Saturday.',
      'Thanks',
    ]);
    const session = await store.get(sid);
    expect(session).toMatchObject({
      callSid: sid,
      customerId: 'c-1',
      streamSid: 'MZ1',
      state: 'listening',
      speaking: false,
      collected: { topic: 'hours' },
      owner: 'i-1',
    });
    // The TTL is the one set at ring time: not reset, not lost; the turns expire with the session.
    const ttl = await tr.redis.pttl(keys(sid).session);
    expect(ttl).toBeLessThanOrEqual(ttlBefore);
    expect(ttl).toBeGreaterThan(ttlBefore - 20_000);
    const turnsTtl = await tr.redis.pttl(keys(sid).turns);
    expect(Math.abs(turnsTtl - ttl)).toBeLessThan(1_000);
    expect(await counter('sessionWritesQueued')).toBeGreaterThanOrEqual(7);
    expect(await counter('sessionWritesReplayed')).toBe(await counter('sessionWritesQueued'));

    // Writes go straight through again.
    expect(await store.appendTurn(sid, turn('Bye'))).toBe(5);
  });

  it('Redis silent: writes that timed out but ran after all are not written twice', async () => {
    const sid = callSid();
    await store.create({ callSid: sid });
    proxy.freeze();
    // Each command times out after 500 ms, held by the proxy, which sends it on when thawed.
    await store.appendTurn(sid, turn('one'));
    await store.appendTurn(sid, turn('two'));
    await store.update(sid, { state: 'thinking' });
    await store.appendTurn(sid, turn('three'));
    expect(store.queuedCalls).toBe(1);
    proxy.thaw();
    await until(() => store.queuedCalls === 0);
    expect(await redisTurns(sid)).toEqual(['one', 'two', 'three']);
    expect((await store.get(sid))?.state).toBe('thinking');
  });

  it('rung while Redis was down: the replay creates the session with its ring-time fields and TTL', async () => {
    const sid = callSid();
    proxy.cut();
    const rungAt = Date.now();
    // The ring does not fail for want of Redis; the session is written once it answers.
    expect(await store.create({ callSid: sid, customerId: 'c-9', state: 'ringing', owner: 'i-1' })).toBe(
      true,
    );
    await store.update(sid, { streamSid: 'MZ9', state: 'speaking', speaking: true });
    await store.appendTurn(sid, turn('Thanks for calling Bayline Motors.', 'agent'));
    expect(await tr.redis.exists(keys(sid).session)).toBe(0);

    proxy.restore();
    await until(() => store.queuedCalls === 0);
    const session = await store.get(sid);
    expect(session).toMatchObject({ customerId: 'c-9', streamSid: 'MZ9', state: 'speaking', speaking: true });
    expect(Date.parse(session?.createdAt ?? '')).toBeGreaterThanOrEqual(rungAt - 1);
    expect(Date.parse(session?.createdAt ?? '')).toBeLessThan(rungAt + 1000);
    expect(await redisTurns(sid)).toEqual(['Thanks for calling Bayline Motors.']);
    const ttl = await tr.redis.pttl(keys(sid).session);
    expect(ttl).toBeGreaterThan(TTL_SECONDS * 1000 - 20_000);
    expect(ttl).toBeLessThanOrEqual(TTL_SECONDS * 1000 - (Date.now() - rungAt) + 1000);
    expect(await tr.redis.pttl(keys(sid).turns)).toBeGreaterThan(0);
    expect((await store.listLive()).map((s) => s.callSid)).toContain(sid);
  });

  it('delete during the outage: nothing is left behind once Redis is back', async () => {
    const sid = callSid();
    await store.create({ callSid: sid });
    await store.appendTurn(sid, turn('before'));
    proxy.cut();
    await store.update(sid, { state: 'listening' });
    await store.appendTurn(sid, turn('during'));
    await store.delete(sid);
    await store.appendTurn(sid, turn('after the end'));

    const unrung = callSid();
    await store.create({ callSid: unrung });
    await store.appendTurn(unrung, turn('never kept'));
    await store.delete(unrung);

    proxy.restore();
    await reconnected();
    await until(() => store.queuedCalls === 0);
    // Past a few replay rounds: nothing late brings either call back.
    await new Promise((r) => setTimeout(r, 1_000));
    const left = (await tr.keys()).filter((k) => k.includes(sid) || k.includes(unrung));
    expect(left).toEqual([]);
  });

  it('releasing the call’s lock lands the queued writes first', async () => {
    const sid = callSid();
    await store.create({ callSid: sid });
    expect(await store.acquireLock(sid, 'conn-1', 60_000)).toBe(true);
    proxy.cut();
    await store.appendTurn(sid, turn('last words'));
    await store.update(sid, { state: 'ended' });
    proxy.restore();
    await reconnected();
    await store.releaseLock(sid, 'conn-1');
    expect(await tr.redis.exists(`${keys(sid).session}:lock`)).toBe(0);
    expect(await redisTurns(sid)).toEqual(['last words']);
    expect((await store.get(sid))?.state).toBe('ended');
  });
});
