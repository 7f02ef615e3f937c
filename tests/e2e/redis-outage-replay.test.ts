/**
 * DESIGN § Resilience: "Redis down mid-call: the live call continues from in-process state; writes
 * queue and replay". A call talks while its server's Redis refuses connections; once Redis is back,
 * with the call still live, the session in Redis is what another instance or `npm run session` must
 * see: every turn, in order, the state current, the TTL set.
 */
import type { Turn } from '../../server/sessions';
import { REDIS_URL } from '../support/redis';
import { RedisProxy } from '../support/tcp-proxy';
import { startStack, type Stack } from './harness';
import { agentReply, callTurns, finalCall, say, until } from './flow';

jest.setTimeout(90_000);

let stack: Stack;
let proxy: RedisProxy;
beforeAll(async () => {
  proxy = RedisProxy.forUrl(REDIS_URL);
  // The product's Redis client goes through the proxy; the test's own (stack.tr) does not.
  stack = await startStack({ redisUrl: await proxy.listen() });
});
afterAll(async () => {
  proxy?.thaw();
  proxy?.restore();
  await stack?.close();
  await proxy?.close();
});
afterEach(() => {
  proxy.thaw();
  proxy.restore();
});

const sessionKey = (callSid: string) => `${stack.tr.prefix}call:{${callSid}}`;
/** The call's turns as Redis holds them, decrypted with the server's cipher. */
async function redisTurns(callSid: string): Promise<Array<{ role: string; text: string }>> {
  const values = await stack.tr.redis.lrange(`${sessionKey(callSid)}:turns`, 0, -1);
  return values.map((v) => {
    const t = JSON.parse(stack.cipher.decrypt(v)) as Turn;
    return { role: t.role, text: t.text };
  });
}
const counter = async (name: 'sessionWritesQueued' | 'sessionWritesReplayed') =>
  (await stack.metrics[name].get()).values.reduce((n, v) => n + v.value, 0);

describe('Redis down mid-call', () => {
  it("the live call's turns and state, written while Redis refused, are all in Redis once it is back", async () => {
    const caller = stack.caller({ from: '+13125550142' });
    await caller.placeCall();
    await caller.connect();
    await agentReply(caller, 0);
    const key = sessionKey(caller.callSid);
    // The greeting is in Redis and the call is listening: what came before the outage has landed.
    await until(async () => (await stack.tr.redis.hget(key, 'state')) === 'listening');
    expect(await redisTurns(caller.callSid)).toHaveLength(1);

    proxy.cut();
    await say(caller, 'hours');
    await say(caller, 'book-oil-change');
    // None of it reached Redis: the writes wait in the server.
    expect(await stack.tr.redis.llen(`${key}:turns`)).toBe(1);
    expect(await stack.tr.redis.hget(key, 'state')).toBe('listening');

    proxy.restore();
    await until(async () => (await stack.tr.redis.llen(`${key}:turns`)) >= 5, 20_000);
    await until(async () => (await stack.tr.redis.hget(key, 'state')) === 'listening');
    const inRedis = await redisTurns(caller.callSid);
    expect(inRedis.map((t) => t.role)).toEqual(['agent', 'caller', 'agent', 'caller', 'agent']);
    expect(inRedis.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual([
      'What time do you open on Saturday?',
      "Hi, I'd like to book an oil change for my Camry.",
    ]);
    const hash = await stack.tr.redis.hgetall(key);
    expect(hash).toMatchObject({ streamSid: caller.streamSid, state: 'listening', speaking: '0' });
    expect(hash.customerId).not.toBe('');
    const ttl = await stack.tr.redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3600_000);
    expect(await stack.tr.redis.pttl(`${key}:turns`)).toBeGreaterThan(0);
    expect(await counter('sessionWritesQueued')).toBeGreaterThan(0);
    expect(await counter('sessionWritesReplayed')).toBe(await counter('sessionWritesQueued'));

    // What Redis held is the call as it was: the record written at hang-up has the same turns.
    await caller.stop();
    await finalCall(stack, caller.callSid);
    const recorded = await callTurns(stack, caller.callSid);
    expect(recorded.map((t) => ({ role: t.role, text: t.text }))).toEqual(inRedis);
    await until(async () => (await stack.tr.redis.exists(key)) === 0);
  });
});
