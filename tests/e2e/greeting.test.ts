import { startStack, type Stack } from './harness';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

describe('ring and greeting', () => {
  it('a known caller hears a personal greeting, prepared at ring time, within moments of the stream start', async () => {
    const caller = await stack.dial({ from: '+13125550142' });
    await caller.waitFor((c) => c.media.length > 0, 3000);
    expect(caller.firstAudioAt).toBeDefined();
    const tts = stack.emulators.elevenlabs.requests.all.map((r) => r.body.text);
    expect(tts).toContain('Hi Dana, thanks for calling Bayline Motors service. How can I help you today?');
    await caller.waitFor((c) => c.marksEchoed.length > 0, 10_000);
    expect(caller.heardAudioMs).toBeGreaterThan(1000);
    const session = await stack.tr.redis.hgetall(`${stack.tr.prefix}call:{${caller.callSid}}`);
    expect(session.callSid).toBe(caller.callSid);
    expect(session.streamSid).toBe(caller.streamSid);
    const ttl = await stack.tr.redis.ttl(`${stack.tr.prefix}call:{${caller.callSid}}`);
    expect(ttl).toBeGreaterThan(3500);
    await caller.stop();
  });
});
