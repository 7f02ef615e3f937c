/**
 * A Redis that stays connected but stops answering (a failover in progress, CLIENT PAUSE, a
 * black-holed network): the server reaches the real Redis through a TCP proxy that can hold every
 * byte (freeze) and let them through later (thaw), so only this file's server sees the stall. Calls
 * must go on (DESIGN § Resilience): Twilio's webhooks answer, the greeting plays, the caller is
 * answered; /health/redis says 503; and all is well again once Redis answers.
 */
import { REDIS_URL } from '../support/redis';
import { RedisProxy } from '../support/tcp-proxy';
import { startStack, type Stack } from './harness';
import { agentReply, callTurns, finalCall, say, until } from './flow';

jest.setTimeout(90_000);

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

let proxy: RedisProxy;
let stack: Stack;
beforeAll(async () => {
  proxy = RedisProxy.forUrl(REDIS_URL);
  // The product's Redis client goes through the proxy; the test's own (stack.tr) does not.
  stack = await startStack({ redisUrl: await proxy.listen() });
});
afterAll(async () => {
  proxy?.thaw();
  await stack?.close();
  await proxy?.close();
});
afterEach(() => {
  proxy.thaw();
});

const healthRedis = async () => {
  const res = await fetch(`${stack.baseUrl}/health/redis`);
  return { status: res.status, body: (await res.json()) as { status: string; error?: string } };
};

describe('Redis connected but not answering', () => {
  it('rung before the stall: the greeting plays at once and the caller is answered', async () => {
    const caller = stack.caller({ from: '+13125550142' });
    const ring = await caller.placeCall();
    expect(ring.streamUrl).toBeDefined();
    proxy.freeze();
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
    await finalCall(stack, caller.callSid);
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual([
      'What time do you open on Saturday?',
    ]);
    // Seconds without a reply: the client dropped that connection and retries; it comes back.
    proxy.thaw();
    await until(async () => (await healthRedis()).status === 200, 15_000);
  });

  it('two sockets for one call while the lock is unreachable: one takes the call, the other is refused', async () => {
    const caller = stack.caller({ from: '+13125550142' });
    const ring = await caller.placeCall();
    proxy.freeze();
    const twin = stack.caller({ from: '+13125550142', callSid: caller.callSid });
    // Both start within the lock's 250 ms wait, before either has taken the call.
    await Promise.all([caller.connect(), twin.connect({ streamUrl: ring.streamUrl as string })]);
    await until(() => !twin.isOpen || !caller.isOpen, 5_000);
    const [kept, refused] = twin.isOpen ? [twin, caller] : [caller, twin];
    expect(refused.closeCode).toBe(1008);
    await kept.waitFor((c) => c.media.length > 0, 10_000);
    expect(kept.isOpen).toBe(true);
    expect(refused.media).toHaveLength(0);
    proxy.thaw();
    await kept.stop();
    await finalCall(stack, caller.callSid);
  });

  it("Twilio's webhooks answer in time, /health/redis says 503, and all is well once it answers", async () => {
    proxy.freeze();
    // Caller lookup (cache read and write) and the session's creation all wait on Redis.
    const caller = stack.caller({ from: '+13125550199' });
    const ring = await timed(caller.placeCall(), 10_000);
    expect(ring.value.status).toBe(200);
    expect(ring.value.streamUrl).toBeDefined();
    expect(ring.ms).toBeLessThan(3_000);
    // The stream never comes (the caller hung up while ringing): the status callback closes it.
    const status = await timed(stack.postStatus(caller.callSid, 'completed'), 10_000);
    expect(status.value.status).toBe(204);
    expect(status.ms).toBeLessThan(2_000);
    expect(await finalCall(stack, caller.callSid)).toMatchObject({ outcome: 'abandoned' });

    const health = await timed(healthRedis(), 5_000);
    expect(health.value.status).toBe(503);
    expect(health.value.body).toMatchObject({ status: 'error' });
    expect(typeof health.value.body.error).toBe('string');
    expect(health.ms).toBeLessThan(1_500);

    // Redis answers again. The commands that timed out get their replies now, which must not be
    // taken for later commands': health, the session, the lock and the cleanup all come right.
    proxy.thaw();
    await until(async () => (await healthRedis()).status === 200, 15_000);
    expect((await healthRedis()).body).toMatchObject({ status: 'ok' });
    const next = stack.caller({ from: '+13125550142' });
    expect((await next.placeCall()).streamUrl).toBeDefined();
    const session = `${stack.tr.prefix}call:{${next.callSid}}`;
    expect(await stack.tr.redis.exists(session)).toBe(1);
    await next.connect();
    await agentReply(next, 0);
    expect(await stack.tr.redis.exists(`${session}:lock`)).toBe(1);
    await next.stop();
    await finalCall(stack, next.callSid);
    await until(async () => (await stack.tr.redis.exists(session)) === 0);
  });
});
