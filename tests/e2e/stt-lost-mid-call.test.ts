/**
 * Speech-to-text lost in the middle of a call: the transcription socket drops and its reconnects
 * are refused until it gives up (a fatal error, ≈ 12 s of backoff). The caller must not be left
 * talking to nobody: a fresh socket is tried once, and when that fails too a person takes the call.
 */
import { PHRASES } from '../../server/conversation/phrases';
import { startStack, sleep, type Stack } from './harness';
import { agentReply, callTurns, finalCall, providerErrorCount, restRequests, say, until } from './flow';

jest.setTimeout(90_000);

/** The stream's own reconnect attempts (OpenAiStt's default maxAttempts) before it gives up. */
const RECONNECT_ATTEMPTS = 6;

let stack: Stack;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  stack = await startStack();
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await stack.close();
});
afterEach(() => {
  stack.emulators.openai.realtime.resetFaults();
});

/** The transcription socket drops and its next `refusals` connection attempts are refused. */
function loseStt(refusals: number): void {
  stack.emulators.openai.realtime.refuseConnections(503, refusals);
  stack.emulators.openai.realtime.dropConnections();
}

/**
 * A call past its greeting whose transcription socket was lost: every reconnect of the dropped
 * socket is refused, so the stream gives up, and a fresh one has opened.
 */
async function callWithSttReplaced(from: string) {
  const caller = await stack.dial({ from });
  await agentReply(caller, 0);
  const socketsBefore = stack.emulators.openai.realtime.connectionCount;
  loseStt(RECONNECT_ATTEMPTS);
  await until(() => stack.emulators.openai.realtime.connectionCount > socketsBefore, 30_000);
  return { caller, socketsBefore };
}

describe('speech-to-text lost mid-call', () => {
  it('opens a fresh transcription socket, and the caller is understood again', async () => {
    const lostBefore = await providerErrorCount(stack, 'stt_lost');
    const { caller } = await callWithSttReplaced('+13125550142');

    await say(caller, 'hours');
    await caller.stop();
    await finalCall(stack, caller.callSid);
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual([
      'What time do you open on Saturday?',
    ]);
    const agentLines = turns.filter((t) => t.role === 'agent').map((t) => t.text);
    expect(agentLines).toHaveLength(2); // the greeting and the answer
    expect(agentLines).not.toContain(PHRASES.handOff);
    expect(restRequests(stack, caller.callSid)).toEqual([]);
    expect((await providerErrorCount(stack, 'stt_lost')) - lostBefore).toBe(1);
    expect(unhandled).toEqual([]);
  });

  it('hands the caller to the desk when no fresh socket opens either; audio meanwhile is harmless', async () => {
    const lostBefore = await providerErrorCount(stack, 'stt_lost');
    const caller = await stack.dial({ from: '+13125550199' });
    await agentReply(caller, 0);
    loseStt(1000);
    // The caller keeps talking while the socket is retried, given up and retried afresh.
    const spoke = caller.now();
    await caller.speak('hours');
    await sleep(1_000);
    await caller.speak('hours');

    await until(() => restRequests(stack, caller.callSid).length > 0, 30_000);
    expect(restRequests(stack, caller.callSid)[0]?.form.Twiml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+13125550100</Dial></Response>',
    );
    // The caller heard why before the transfer, and the stream stayed up for it.
    expect(caller.media.some((m) => m.at > spoke)).toBe(true);
    expect(caller.isOpen).toBe(true);
    await caller.stop();
    expect(await finalCall(stack, caller.callSid)).toMatchObject({ outcome: 'transferred' });
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.map((t) => t.text)).toContain(PHRASES.handOff);
    expect((await providerErrorCount(stack, 'stt_lost')) - lostBefore).toBe(1);
    expect(unhandled).toEqual([]);
  });

  it('a fresh socket is tried once per call: lost a second time, the caller goes to the desk', async () => {
    const lostBefore = await providerErrorCount(stack, 'stt_lost');
    const { caller, socketsBefore } = await callWithSttReplaced('+13125550142');
    // The replacement is lost too; this time nothing more is tried (only its own reconnects).
    loseStt(RECONNECT_ATTEMPTS);
    await until(() => restRequests(stack, caller.callSid).length > 0, 30_000);
    expect(stack.emulators.openai.realtime.connectionCount).toBe(socketsBefore + 1);
    await caller.stop();
    expect(await finalCall(stack, caller.callSid)).toMatchObject({ outcome: 'transferred' });
    expect((await providerErrorCount(stack, 'stt_lost')) - lostBefore).toBe(2);
    expect(unhandled).toEqual([]);
  });
});
