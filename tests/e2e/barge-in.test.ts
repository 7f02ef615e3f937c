import type { ChatRequestBody } from '../../server/providers/emulators';
import { startStack, type Stack } from './harness';
import { agentReply, callTurns, finalCall, LONG_REPLY } from './flow';

jest.setTimeout(90_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

const lastUser = (body: ChatRequestBody) =>
  String(
    (body.messages as Array<{ role: string; content: unknown }>).filter((m) => m.role === 'user').at(-1)
      ?.content ?? '',
  );

/** `bayline_barge_in_seconds` so far: one observation per interruption by speech. */
async function bargeInTiming(): Promise<{ count: number; sum: number }> {
  const { values } = await stack.metrics.bargeInLatency.get();
  const value = (name: string) => values.find((v) => v.metricName === name)?.value ?? 0;
  return { count: value('bayline_barge_in_seconds_count'), sum: value('bayline_barge_in_seconds_sum') };
}

describe('barge-in', () => {
  it('real speech over the agent sends clear within 1.5 s of its start; history keeps only what was heard', async () => {
    stack.emulators.openai.chat.respond((body) =>
      lastUser(body).startsWith('Hi') ? { text: LONG_REPLY } : { text: 'Sure, Friday afternoon it is.' },
    );
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    const asked = caller.now();
    await caller.speak('book-oil-change');
    // Let the long reply play for a while (its first sentences get heard), then talk over it.
    await caller.waitFor((c) => c.marksEchoed.filter((m) => m.at > asked && !m.cleared).length >= 2, 20_000);
    const heardBefore = caller.marksEchoed.filter((m) => m.at > asked && !m.cleared).length;
    const spokeAt = caller.now();
    const speaking = caller.speak('reschedule');
    await caller.waitFor((c) => c.clears.some((t) => t > spokeAt), 3000);
    const clearAt = caller.clears.find((t) => t > spokeAt) as number;
    expect(clearAt - spokeAt).toBeLessThanOrEqual(1500);
    // Not a cough: it took real speech to interrupt. 800 ms of audio arrives in 40 frames, the
    // last of which leaves the caller 780 ms after the first.
    expect(clearAt - spokeAt).toBeGreaterThanOrEqual(760);
    // The server times the same span itself, on the caller's audio timeline: the speech run's audio
    // (from the start of the first voiced frame, 20 ms before it is sent) plus its own reaction.
    const timed = await bargeInTiming();
    expect(timed.count).toBe(1);
    expect(timed.sum * 1000).toBeGreaterThanOrEqual(800);
    expect(timed.sum * 1000).toBeLessThanOrEqual(clearAt - spokeAt + 20 + 20);
    await speaking;
    await agentReply(caller, clearAt);

    const requests = stack.emulators.openai.chat.requests.all;
    const next = requests.at(-1) as ChatRequestBody;
    const assistant = (next.messages as Array<{ role: string; content: string | null }>).filter(
      (m) => m.role === 'assistant',
    );
    const interrupted = assistant.at(-1)?.content ?? '';
    expect(LONG_REPLY.startsWith(interrupted)).toBe(true);
    expect(interrupted.length).toBeLessThan(LONG_REPLY.length);
    expect(interrupted.split(/(?<=\.)\s/).length).toBe(heardBefore);
    expect(lastUser(next)).toBe('I need to move my appointment to Friday afternoon.');

    await caller.stop();
    await finalCall(stack, caller.callSid);
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.find((t) => t.interrupted)).toMatchObject({ role: 'agent', text: interrupted });
    const bargeIns = (await stack.metrics.bargeIns.get()).values[0]?.value ?? 0;
    expect(bargeIns).toBeGreaterThanOrEqual(1);
  });

  it('a backchannel ("uh-huh") while the agent talks does not interrupt', async () => {
    stack.emulators.openai.chat.respond(() => ({ text: LONG_REPLY }));
    const caller = await stack.dial({ from: '+13125550199' });
    await agentReply(caller, 0);
    const asked = caller.now();
    await caller.speak('hours');
    await caller.waitFor((c) => c.media.some((m) => m.at > asked), 10_000);
    const requestsBefore = stack.emulators.openai.chat.requests.all.length;
    const spokeAt = caller.now();
    await caller.speak('uh-huh');
    await agentReply(caller, spokeAt);
    expect(caller.clears.filter((t) => t > spokeAt)).toEqual([]);
    expect((await bargeInTiming()).count).toBe(1);
    expect(stack.emulators.openai.chat.requests.all.length).toBe(requestsBefore);
    await caller.stop();
  });
});
