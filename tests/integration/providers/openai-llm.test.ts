import { ProviderError } from '../../../server/platform/errors';
import { ChatCompletionsEmulator } from '../../../server/providers/emulators';
import { OpenAiLlm } from '../../../server/providers/openai';
import type { ChatMessage, LlmChunk, ToolSpec } from '../../../server/providers/types';
import { collect, iterationError, quietLogger } from './support';

const KEY = 'sk-test-llm';
const TOOLS: ToolSpec[] = [
  {
    type: 'function',
    function: {
      name: 'find_availability',
      description: 'Free slots',
      parameters: { type: 'object', properties: {} },
    },
  },
  {
    type: 'function',
    function: { name: 'end_call', description: 'Hang up', parameters: { type: 'object', properties: {} } },
  },
];
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You are the service desk.' },
  { role: 'user', content: 'Can I get an oil change tomorrow morning?' },
];

describe('OpenAiLlm against the chat completions emulator', () => {
  const emu = new ChatCompletionsEmulator({ apiKey: KEY });
  let baseUrl = '';
  const llm = (overrides: Partial<ConstructorParameters<typeof OpenAiLlm>[0]> = {}) =>
    new OpenAiLlm({ apiKey: KEY, baseUrl, model: 'gpt-test', logger: quietLogger, ...overrides });
  const run = (provider = llm(), signal = new AbortController().signal) =>
    collect(provider.stream({ messages: MESSAGES, tools: TOOLS, signal }));

  beforeAll(async () => {
    baseUrl = (await emu.start()).url;
  });
  afterAll(() => emu.close());
  beforeEach(() => {
    emu.faults.clear();
    emu.requests.clear();
    emu.timing.firstTokenMs = 0;
    emu.timing.chunkMs = 0;
  });

  it('streams text as deltas and sends the conversation, tools and stream:true', async () => {
    emu.respond(() => ({ text: 'Sure, I can help with that today.' }));
    const chunks = await run();
    const texts = chunks.filter((c): c is Extract<LlmChunk, { type: 'text' }> => c.type === 'text');
    expect(texts.length).toBeGreaterThan(3);
    expect(texts.map((c) => c.text).join('')).toBe('Sure, I can help with that today.');
    expect(chunks.at(-1)).toEqual({ type: 'done', finishReason: 'stop' });
    const sent = emu.requests.last;
    expect(sent?.model).toBe('gpt-test');
    expect(sent?.stream).toBe(true);
    expect(sent?.messages).toEqual(MESSAGES);
    expect(sent?.tools).toEqual(TOOLS);
  });

  it('assembles tool calls whose arguments arrive in pieces over many chunks, parallel calls kept apart', async () => {
    const args = { serviceCode: 'OIL', date: '2026-11-24', partOfDay: 'morning' };
    emu.respond(() => ({
      text: 'Let me check.',
      toolCalls: [
        { name: 'find_availability', arguments: args, id: 'call_a' },
        { name: 'end_call', arguments: {}, id: 'call_b' },
      ],
    }));
    const chunks = await run();
    const toolChunks = chunks.filter((c) => c.type === 'tool_calls');
    expect(toolChunks).toEqual([
      {
        type: 'tool_calls',
        calls: [
          {
            id: 'call_a',
            type: 'function',
            function: { name: 'find_availability', arguments: JSON.stringify(args) },
          },
          { id: 'call_b', type: 'function', function: { name: 'end_call', arguments: '{}' } },
        ],
      },
    ]);
    expect(chunks.at(-1)).toEqual({ type: 'done', finishReason: 'tool_calls' });
    // The emulator really split the arguments (7 characters a chunk): the SSE had many fragments.
    const raw = await fetch(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-test', messages: MESSAGES, stream: true }),
    }).then((r) => r.text());
    const fragments = raw
      .split('\n\n')
      .filter((e) => e.includes('"arguments":"') && !e.includes('"arguments":""'));
    expect(fragments.length).toBeGreaterThan(5);
    expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it.each([
    [500, true],
    [503, true],
    [429, true],
    [400, false],
  ])('maps HTTP %d to a ProviderError (retryable: %s)', async (status, retryable) => {
    emu.fail({ kind: 'status', status });
    const err = await iterationError(
      llm().stream({ messages: MESSAGES, tools: TOOLS, signal: new AbortController().signal }),
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(status);
    expect((err as ProviderError).retryable).toBe(retryable);
    expect(emu.requests.all).toHaveLength(1); // maxRetries: 0, no silent retry
  });

  it('reports a wrong API key as a non-retryable 401', async () => {
    const err = await iterationError(
      llm({ apiKey: 'sk-wrong' }).stream({
        messages: MESSAGES,
        tools: [],
        signal: new AbortController().signal,
      }),
    );
    expect((err as ProviderError).status).toBe(401);
    expect((err as ProviderError).retryable).toBe(false);
  });

  it('stops quietly when the caller aborts mid-stream', async () => {
    emu.timing.chunkMs = 40;
    emu.respond(() => ({ text: Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ') }));
    const controller = new AbortController();
    const seen: LlmChunk[] = [];
    const started = Date.now();
    for await (const chunk of llm().stream({ messages: MESSAGES, tools: TOOLS, signal: controller.signal })) {
      seen.push(chunk);
      if (seen.length === 2) controller.abort();
    }
    expect(seen).toHaveLength(2);
    expect(seen.some((c) => c.type === 'done')).toBe(false);
    // The whole reply would take 40 × 40 ms.
    expect(Date.now() - started).toBeLessThan(800);
  });

  it('turns a stalled server into a retryable idle-timeout error', async () => {
    emu.fail({ kind: 'stall' });
    const started = Date.now();
    const err = await iterationError(
      llm({ idleTimeoutMs: 200 }).stream({
        messages: MESSAGES,
        tools: [],
        signal: new AbortController().signal,
      }),
    );
    expect((err as ProviderError).retryable).toBe(true);
    expect((err as ProviderError).status).toBe(408);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('gives a model that has not started answering firstTokenTimeoutMs, not the idle timeout', async () => {
    emu.timing.firstTokenMs = 1000;
    emu.respond(() => ({ text: 'late' }));
    const started = Date.now();
    const err = await iterationError(
      llm({ firstTokenTimeoutMs: 200 }).stream({
        messages: MESSAGES,
        tools: [],
        signal: new AbortController().signal,
      }),
    );
    expect((err as ProviderError).retryable).toBe(true);
    expect((err as ProviderError).status).toBe(408);
    expect(Date.now() - started).toBeLessThan(900);
    // The role-only chunk the emulator sends at once (as OpenAI does) is not an answer: with the
    // first text 300 ms later, the 200 ms wait still runs out. (Past the first token, chunks may
    // be further apart than that wait: StreamGuard's unit test.)
    emu.timing.firstTokenMs = 0;
    emu.timing.chunkMs = 300;
    emu.respond(() => ({ text: 'a b c' }));
    const late = await iterationError(
      llm({ firstTokenTimeoutMs: 200 }).stream({
        messages: MESSAGES,
        tools: [],
        signal: new AbortController().signal,
      }),
    );
    expect((late as ProviderError).status).toBe(408);
    const chunks = await collect(
      llm({ firstTokenTimeoutMs: 400 }).stream({
        messages: MESSAGES,
        tools: [],
        signal: new AbortController().signal,
      }),
    );
    expect(chunks.filter((c) => c.type === 'text').length).toBeGreaterThan(1);
  });

  it('treats a stall after the first chunks the same way', async () => {
    emu.respond(() => ({ text: 'a b c d e f' }));
    emu.fail({ kind: 'stall', afterChunks: 2 });
    const err = await iterationError(
      llm({ idleTimeoutMs: 200 }).stream({
        messages: MESSAGES,
        tools: [],
        signal: new AbortController().signal,
      }),
    );
    expect((err as ProviderError).status).toBe(408);
  });

  it.each(['drop', 'garbage'] as const)(
    'reports a %s mid-stream as a retryable ProviderError',
    async (kind) => {
      emu.respond(() => ({ text: 'a b c d e f g h' }));
      emu.fail({ kind, afterChunks: 2 });
      const err = await iterationError(
        llm().stream({ messages: MESSAGES, tools: [], signal: new AbortController().signal }),
      );
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).retryable).toBe(true);
    },
  );

  it('cuts a runaway reply at its bound with a non-retryable error', async () => {
    emu.respond(() => ({ text: 'one two three four five six' }));
    const err = await iterationError(
      llm({ maxReplyChars: 10 }).stream({
        messages: MESSAGES,
        tools: [],
        signal: new AbortController().signal,
      }),
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).retryable).toBe(false);
  });

  it('honours the first-token delay', async () => {
    emu.timing.firstTokenMs = 150;
    emu.respond(() => ({ text: 'Hello.' }));
    const started = Date.now();
    const stream = llm().stream({ messages: MESSAGES, tools: [], signal: new AbortController().signal });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    expect(Date.now() - started).toBeGreaterThanOrEqual(145);
    await iterator.return?.();
  });
});
