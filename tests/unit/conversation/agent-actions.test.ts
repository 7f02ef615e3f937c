/**
 * Transfers and hang-ups: an announced action goes ahead whatever the caller says over it, and a
 * failed transfer is retried and, failing still, never leaves the caller in silence.
 */
import { PHRASES } from '../../../server/conversation/phrases';
import { ProviderError } from '../../../server/platform/errors';
import { agentHarness, gate, settle, text, toolCalls } from './agent-fakes';

/** Call control whose requests fail as the test says; counts every attempt. */
function failingControl(failures: { transfer?: number[]; hangup?: number[] }) {
  const attempts = { transfer: 0, hangup: 0 };
  const attempt = async (kind: 'transfer' | 'hangup') => {
    const status = failures[kind]?.[attempts[kind]++];
    if (status !== undefined)
      throw new ProviderError('twilio', `call update failed (status ${status})`, { status });
  };
  return {
    attempts,
    control: { transfer: () => attempt('transfer'), hangup: () => attempt('hangup') },
  };
}

const goodbyeTurn = [text('Thanks for calling, goodbye!'), toolCalls(['e1', 'end_call'])];
const endCall = async () => ({ result: { ok: true }, action: { type: 'end' as const } });

describe('CallAgent actions', () => {
  it('talking over the transfer announcement does not cancel the transfer', async () => {
    const h = agentHarness([]);
    h.agent.onDtmf('0');
    await settle();
    h.agent.onSustainedSpeech();
    h.agent.onTranscript('Hello? Are you there?');
    await settle();
    expect(h.clears()).toBe(0);
    expect(h.llm.requests).toHaveLength(0);
    h.echoAll();
    await settle();
    expect(h.control.transfers).toBe(1);
    expect(h.turns.filter((t) => t.role === 'caller').map((t) => t.text)).toContain('Hello? Are you there?');
  });

  it('"thanks, bye" over the goodbye still hangs up, without another model turn', async () => {
    const h = agentHarness([goodbyeTurn], { execute: endCall });
    h.agent.onTranscript("No, that's all");
    await settle();
    h.agent.onSustainedSpeech();
    h.agent.onTranscript('Great, thanks, bye');
    await settle();
    expect(h.clears()).toBe(0);
    h.echoAll();
    await settle();
    expect(h.control.hangups).toBe(1);
    expect(h.llm.requests).toHaveLength(1);
  });

  it('the speech-to-text hand-off goes through while the caller keeps talking', async () => {
    const h = agentHarness([]);
    h.agent.handOff('speech-to-text unreachable');
    await settle();
    h.agent.onSustainedSpeech();
    await settle();
    h.echoAll();
    await settle();
    expect(h.control.transfers).toBe(1);
    expect(h.tts.texts).toEqual([PHRASES.handOff]);
  });

  it('keys over an announced goodbye are ignored, except 0, which asks for a person instead', async () => {
    const h = agentHarness([goodbyeTurn], { execute: endCall });
    h.agent.onTranscript("No, that's all");
    await settle();
    h.agent.onDtmf('5');
    await settle();
    expect(h.clears()).toBe(0);
    expect(h.llm.requests).toHaveLength(1);
    h.agent.onDtmf('0');
    await settle();
    h.echoAll();
    await settle();
    expect(h.control).toEqual({ transfers: 1, hangups: 0 });
  });

  it('a transfer refused once (Twilio 500) is retried and happens', async () => {
    const { attempts, control } = failingControl({ transfer: [500] });
    const h = agentHarness([], { control });
    h.agent.onDtmf('0');
    await settle();
    h.echoAll();
    await settle(60);
    expect(attempts.transfer).toBe(2);
    expect(h.tts.texts).not.toContain(PHRASES.transferFailed);
    expect(h.agent.finalOutcome()).toBe('transferred');
  });

  it('a transfer that keeps failing: the caller hears so, the call goes on, and 0 tries again', async () => {
    const { attempts, control } = failingControl({ transfer: [503, 503, 503] });
    const h = agentHarness([[text('We open at eight on Saturday.')]], { control });
    h.agent.onDtmf('0');
    await settle();
    h.echoAll();
    await settle(60);
    expect(attempts.transfer).toBe(3); // the first try and two retries
    expect(h.tts.texts).toEqual([PHRASES.transfer, PHRASES.transferFailed]);
    expect(h.agent.finalOutcome()).toBe('failed');
    h.echoAll();
    // Not dead: the caller is answered again.
    h.agent.onTranscript('What time do you open on Saturday?');
    await settle();
    expect(h.tts.texts.at(-1)).toBe('We open at eight on Saturday.');
    const request = h.llm.requests[0] ?? [];
    expect(request.filter((m) => m.role === 'assistant').map((m) => m.content)).toEqual([
      PHRASES.transfer,
      PHRASES.transferFailed,
    ]);
    h.echoAll();
    // The fourth attempt is the caller's second 0, and it works.
    h.agent.onDtmf('0');
    await settle();
    h.echoAll();
    await settle();
    expect(attempts.transfer).toBe(4);
    expect(h.agent.finalOutcome()).toBe('transferred');
  });

  it('a booking that lands while the transfer is tried is not lost when the transfer fails', async () => {
    const control = {
      transfer: async () => {
        // A booking whose result came late (after its tool deadline) lands now.
        h.agent.outcome = 'booked';
        throw new ProviderError('twilio', 'call update failed (status 400)', { status: 400 });
      },
      hangup: async () => undefined,
    };
    const h = agentHarness([], { control });
    h.agent.onDtmf('0');
    await settle();
    h.echoAll();
    await settle(60);
    expect(h.tts.texts).toEqual([PHRASES.transfer, PHRASES.transferFailed]);
    expect(h.agent.finalOutcome()).toBe('booked');
  });

  it('the model failing on two turns running: the caller is put through to a person', async () => {
    const down = () => new ProviderError('openai', 'boom', { status: 500 });
    const h = agentHarness([down(), down()]);
    h.agent.onTranscript('Hello?');
    await settle();
    expect(h.tts.texts).toEqual([PHRASES.apology]);
    h.echoAll();
    h.agent.onTranscript('Hello, can you hear me?');
    await settle();
    expect(h.tts.texts).toEqual([PHRASES.apology, PHRASES.handOffModelDown]);
    expect(h.control.transfers).toBe(0);
    h.echoAll();
    await settle();
    expect(h.control.transfers).toBe(1);
    expect(h.agent.finalOutcome()).toBe('transferred');
  });

  it('a model failure, an answer, a failure: the count restarts, so only apologies', async () => {
    const down = () => new ProviderError('openai', 'boom', { status: 500 });
    const h = agentHarness([down(), [text('We open at seven.')], down()]);
    for (const said of ['Hello?', 'When do you open?', 'And on Sunday?']) {
      h.agent.onTranscript(said);
      await settle();
      h.echoAll();
    }
    // Cached phrases are synthesised once: what was said is in the record.
    expect(h.turns.filter((t) => t.role === 'agent').map((t) => t.text)).toEqual([
      PHRASES.apology,
      'We open at seven.',
      PHRASES.apology,
    ]);
    expect(h.tts.texts).not.toContain(PHRASES.handOffModelDown);
    expect(h.control.transfers).toBe(0);
  });

  it('a model slow to start: "one moment" while it thinks, then its answer; a quick one: no filler', async () => {
    const slow = gate();
    const h = agentHarness([[slow.wait, text('We open at seven.')], [text('Yes, on Saturdays too.')]], {
      holdOnAfterMs: 40,
    });
    h.agent.onTranscript('When do you open?');
    await settle(80);
    expect(h.tts.texts).toEqual([PHRASES.holdOn]);
    slow.open();
    await settle();
    expect(h.tts.texts).toEqual([PHRASES.holdOn, 'We open at seven.']);
    h.echoAll();
    h.agent.onTranscript('Saturdays too?');
    await settle(80);
    expect(h.tts.texts.at(-1)).toBe('Yes, on Saturdays too.');
    expect(h.tts.texts.filter((t) => t === PHRASES.holdOn)).toHaveLength(1);
  });

  it('a model still silent after the first line: one more, then no more', async () => {
    const slow = gate();
    const h = agentHarness([[slow.wait, text('We open at seven.')]], {
      holdOnAfterMs: 30,
      holdAgainAfterMs: 40,
    });
    h.agent.onTranscript('When do you open?');
    await settle(200);
    expect(h.tts.texts).toEqual([PHRASES.holdOn, PHRASES.stillHolding]);
    slow.open();
    await settle();
    expect(h.tts.texts).toEqual([PHRASES.holdOn, PHRASES.stillHolding, 'We open at seven.']);
  });

  it("a turn cut short by a key before any audio keeps no latency: the announcement's frame is not its", async () => {
    const slow = gate();
    const h = agentHarness([[slow.wait, text('We open at seven.')]]);
    h.agent.onTranscript('When do you open?');
    await settle();
    h.agent.onDtmf('0');
    await settle();
    expect(h.tts.texts).toEqual([PHRASES.transfer]);
    expect(h.agent.latency).toHaveLength(1);
    expect(h.agent.latency[0]).toMatchObject({ firstFrameMs: null, totalMs: null });
    slow.open();
  });

  it('a transfer refused for good (Twilio 400) is not retried; the caller hears so at once', async () => {
    const { attempts, control } = failingControl({ transfer: [400] });
    const h = agentHarness([], { control });
    h.agent.onDtmf('0');
    await settle();
    h.echoAll();
    await settle(60);
    expect(attempts.transfer).toBe(1);
    expect(h.tts.texts).toEqual([PHRASES.transfer, PHRASES.transferFailed]);
  });

  it('a failed hang-up is retried', async () => {
    const { attempts, control } = failingControl({ hangup: [429] });
    const h = agentHarness([goodbyeTurn], { execute: endCall, control });
    h.agent.onTranscript("No, that's all");
    await settle();
    h.echoAll();
    await settle(60);
    expect(attempts.hangup).toBe(2);
  });
});
