import { CallAgent, type AgentTurn } from '../../../server/conversation/agent';
import { AudioClip, PhraseCache, PHRASES } from '../../../server/conversation/phrases';
import type { ToolRunner } from '../../../server/conversation/ports';
import type { ChatMessage, TtsProvider } from '../../../server/providers/types';
import { createLogger } from '../../../server/platform/logger';
import { ProviderError } from '../../../server/platform/errors';
import { ScriptedLlm, text, type Script } from './agent-fakes';

class FakeTts implements TtsProvider {
  readonly name = 'fake-tts';
  readonly texts: string[] = [];
  failing = false;
  async *synthesize(text: string): AsyncIterable<Buffer> {
    this.texts.push(text);
    if (this.failing && !Object.values(PHRASES).includes(text as never))
      throw new ProviderError('elevenlabs', 'down', { status: 503 });
    yield Buffer.alloc(text.length * 10, 0x55);
  }
}

function harness(scripts: Script[], tools?: Partial<ToolRunner>) {
  const llm = new ScriptedLlm(scripts);
  const tts = new FakeTts();
  const marks: string[] = [];
  const audio: Buffer[] = [];
  const turns: AgentTurn[] = [];
  const states: string[] = [];
  const control = { transfers: 0, hangups: 0 };
  let clears = 0;
  const echoed = new Set<string>();
  const agent = new CallAgent({
    callSid: 'CA1',
    log: createLogger({ level: 'silent' }),
    llm,
    tts,
    phrases: new PhraseCache(tts),
    tools: {
      specs: [],
      execute: async () => ({ result: { ok: true } }),
      ...tools,
    } as ToolRunner,
    systemPrompt: 'system',
    output: {
      push: (b) => audio.push(b),
      mark: (m) => marks.push(m),
      clear: () => {
        clears++;
        return { unplayed: marks.filter((m) => !echoed.has(m)) };
      },
    },
    control: {
      transfer: async () => {
        control.transfers++;
      },
      hangup: async () => {
        control.hangups++;
      },
    },
    onTurn: (t) => turns.push(t),
    onState: (s) => states.push(s),
    fillerAfterMs: 20,
  });
  const echo = (m: string) => {
    echoed.add(m);
    agent.onMark(m);
  };
  const settle = () => new Promise((r) => setTimeout(r, 30));
  return { agent, llm, tts, marks, audio, turns, states, control, echo, settle, clears: () => clears };
}

describe('CallAgent', () => {
  it('greets with the prepared audio and records the greeting once heard', async () => {
    const h = harness([]);
    h.agent.greet('Hi Dana, thanks for calling.', AudioClip.of(Buffer.alloc(800, 1)));
    await h.settle();
    expect(h.audio[0]?.length).toBe(800);
    expect(h.marks).toEqual(['m1']);
    expect(h.agent.speaking).toBe(true);
    h.echo('m1');
    expect(h.agent.speaking).toBe(false);
    expect(h.turns).toEqual([
      expect.objectContaining({ role: 'agent', text: 'Hi Dana, thanks for calling.', interrupted: false }),
    ]);
    expect(h.tts.texts).toEqual([]); // the greeting was never synthesised here
  });

  it('streams a reply sentence by sentence, each followed by a mark', async () => {
    const h = harness([[text('I have nine tomorrow. '), text('Does that work for you?')]]);
    h.agent.onTranscript('Book an oil change');
    // Until both marks are out, not a fixed wait: under CPU load 30 ms was not always enough.
    for (let i = 0; i < 200 && h.marks.length < 2; i++) await h.settle();
    expect(h.tts.texts).toEqual(['I have nine tomorrow.', 'Does that work for you?']);
    expect(h.marks).toEqual(['m1', 'm2']);
    expect(h.llm.requests[0]?.at(-1)).toEqual({ role: 'user', content: 'Book an oil change' });
    expect(h.agent.latency[0]?.firstFrameMs).not.toBeNull();
    expect(h.agent.latency[0]?.llmFirstTokenMs).not.toBeNull();
  });

  it('barge-in clears, cancels, and keeps only the heard sentences in history', async () => {
    const h = harness([
      [text('First sentence here. '), text('Second sentence here. '), text('Third sentence here.')],
      [text('Sure, Friday then.')],
    ]);
    h.agent.onTranscript('Book an oil change');
    await h.settle();
    h.echo('m1');
    h.agent.onSustainedSpeech();
    expect(h.clears()).toBe(1);
    expect(h.agent.speaking).toBe(false);
    h.agent.onTranscript('Actually make it Friday');
    await h.settle();
    const seen = h.llm.requests[1] as ChatMessage[];
    const assistant = seen.filter((m) => m.role === 'assistant');
    expect(assistant).toEqual([{ role: 'assistant', content: 'First sentence here.' }]);
    expect(h.turns.find((t) => t.role === 'agent')).toMatchObject({
      text: 'First sentence here.',
      interrupted: true,
    });
  });

  it('a backchannel while the agent talks neither interrupts nor starts a turn', async () => {
    const h = harness([[text('Let me tell you about our hours. We open at seven.')]]);
    h.agent.onTranscript('When do you open?');
    await h.settle();
    h.agent.onTranscript('uh-huh');
    await h.settle();
    expect(h.clears()).toBe(0);
    expect(h.llm.requests).toHaveLength(1);
  });

  it('runs tools, feeds results back, and speaks a filler when a tool is slow', async () => {
    const calls: string[] = [];
    const h = harness(
      [
        [
          {
            type: 'tool_calls',
            calls: [
              {
                id: 't1',
                type: 'function',
                function: { name: 'find_availability', arguments: '{"serviceCode":"OIL"}' },
              },
            ],
          },
        ],
        [text('I have nine or nine thirty.')],
      ],
      {
        execute: async (name) => {
          calls.push(name);
          await new Promise((r) => setTimeout(r, 60));
          return { result: { slots: [{ startsAt: '2026-11-24T09:00' }] } };
        },
      },
    );
    h.agent.onTranscript('Oil change tomorrow');
    await new Promise((r) => setTimeout(r, 150));
    expect(calls).toEqual(['find_availability']);
    expect(h.tts.texts).toEqual([PHRASES.filler, 'I have nine or nine thirty.']);
    const second = h.llm.requests[1] as ChatMessage[];
    expect(second.find((m) => m.role === 'tool')).toEqual({
      role: 'tool',
      tool_call_id: 't1',
      content: '{"slots":[{"startsAt":"2026-11-24T09:00"}]}',
    });
    expect(second.find((m) => m.role === 'assistant' && m.tool_calls)).toBeDefined();
  });

  it('a model failure is heard as the cached apology, never silence', async () => {
    const h = harness([new ProviderError('openai', 'boom', { status: 500 })]);
    h.agent.onTranscript('Hello?');
    await h.settle();
    expect(h.tts.texts).toEqual([PHRASES.apology]);
    expect(h.audio.length).toBeGreaterThan(0);
    expect(h.agent.finalOutcome()).toBe('failed');
  });

  it('a TTS failure mid-reply falls back to the apology phrase', async () => {
    const h = harness([[text('This sentence will fail to synthesise.')]]);
    h.tts.failing = true;
    h.agent.onTranscript('Hello?');
    await h.settle();
    expect(h.tts.texts).toContain(PHRASES.apology);
    expect(h.audio.length).toBe(1);
    // The apology is what the caller heard of this turn, and the record says so.
    expect(h.agent.speaking).toBe(true);
    h.marks.forEach((m) => h.echo(m));
    expect(h.turns.filter((t) => t.role === 'agent').map((t) => t.text)).toEqual([PHRASES.apology]);
  });

  it('DTMF 0 announces the transfer and transfers only after the announcement is heard', async () => {
    const h = harness([]);
    h.agent.onDtmf('0');
    await h.settle();
    expect(h.tts.texts).toEqual([PHRASES.transfer]);
    expect(h.control.transfers).toBe(0);
    h.echo(h.marks[0] as string);
    await h.settle();
    expect(h.control.transfers).toBe(1);
    expect(h.agent.finalOutcome()).toBe('transferred');
  });

  it('end_call hangs up after the goodbye has played', async () => {
    const h = harness(
      [
        [
          text('Thanks for calling, goodbye!'),
          {
            type: 'tool_calls',
            calls: [{ id: 'e', type: 'function', function: { name: 'end_call', arguments: '{}' } }],
          },
        ],
      ],
      { execute: async () => ({ result: { ok: true }, action: { type: 'end' } }) },
    );
    h.agent.onTranscript('No thanks, that is all');
    await h.settle();
    expect(h.control.hangups).toBe(0);
    h.echo(h.marks.at(-1) as string);
    await h.settle();
    expect(h.control.hangups).toBe(1);
  });
});
