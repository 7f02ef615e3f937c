import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, type Stack } from './harness';
import { FrameTicker, sharedTicker } from '../../server/telephony/ticker';
import { DEFAULT_FIXTURES_DIR } from '../support/audio-fixtures';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

/** A histogram's count and sum, as ops scrape them. */
async function histogram(metric: string): Promise<{ count: number; sum: number }> {
  const text = await (await fetch(`${stack.baseUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { count: value(`${metric}_count`), sum: value(`${metric}_sum`) };
}
const greetingMetric = () => histogram('bayline_greeting_seconds');

describe('ring and greeting', () => {
  it('the server measures each greeting from the stream start to its first audio sent', async () => {
    const before = await greetingMetric();
    const caller = await stack.dial({ from: '+13125550142' });
    await caller.waitFor((c) => c.media.length > 0, 3000);
    // Wait for more of the greeting: it is timed once per call, not once per frame.
    await caller.waitFor((c) => c.media.length > 5, 3000);
    const after = await greetingMetric();
    expect(after.count).toBe(before.count + 1);
    const seconds = after.sum - before.sum;
    expect(seconds).toBeGreaterThan(0);
    // Within what this caller itself saw from its start to the first audio (plus clock slack).
    expect(seconds * 1000).toBeLessThanOrEqual(
      (caller.firstAudioAt as number) - (caller.startSentAt as number) + 5,
    );
    await caller.stop();
  });

  it('every outbound media message adds its pacing lateness to bayline_pacing_lateness_seconds', async () => {
    const before = await histogram('bayline_pacing_lateness_seconds');
    const caller = await stack.dial({ from: '+13125550199' });
    // The mark after the greeting comes back once all of its audio has played: nothing is in flight.
    await caller.waitFor((c) => c.marksEchoed.length > 0, 10_000);
    const after = await histogram('bayline_pacing_lateness_seconds');
    expect(caller.media.length).toBeGreaterThan(10);
    expect(after.count - before.count).toBe(caller.media.length);
    expect(after.sum - before.sum).toBeGreaterThanOrEqual(0);
    await caller.stop();
  });

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

  it('the media socket gives due outbound frames their turn before each caller frame it handles', async () => {
    // A burst of reads is handled in one go before timers run; polling the pacers' ticker per
    // message lets a due tick go out in the middle of it.
    const poll = jest.spyOn(FrameTicker.prototype, 'poll');
    try {
      const caller = await stack.dial({ from: '+13125550199' });
      await caller.waitFor((c) => c.media.length > 0, 3000);
      const polled = () => poll.mock.contexts.filter((t) => t === sharedTicker()).length;
      const before = polled();
      await caller.silence(400); // 20 frames, some of them still on their way when this resolves
      const deadline = Date.now() + 3000;
      while (polled() - before < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(polled() - before).toBeGreaterThanOrEqual(20);
      await caller.stop();
    } finally {
      poll.mockRestore();
    }
  });

  it('caller audio reaches speech-to-text byte for byte as Twilio sent it (mu-law, untranscoded)', async () => {
    const caller = await stack.dial({ from: '+13125550199' });
    await caller.speak('hours');
    await caller.stop();
    const session = stack.emulators.openai.realtime.sessions.all.at(-1);
    expect(JSON.stringify(session?.config)).toContain('audio/pcmu');
    const received = Buffer.concat(session?.chunks ?? []);
    const sent = readFileSync(path.join(DEFAULT_FIXTURES_DIR, 'hours.ulaw'));
    // The fixture's frames, in order and unchanged, somewhere in what STT received.
    const whole = sent.subarray(0, sent.length - (sent.length % 160));
    expect(received.indexOf(whole)).toBeGreaterThanOrEqual(0);
  });
});
