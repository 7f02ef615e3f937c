/**
 * The model's history around tool calls. OpenAI answers 400, to this and every later request of
 * the call, when an assistant message's tool_calls are not followed at once by one tool message per
 * call, or a tool message stands anywhere else: every request here is checked against that rule
 * (the same check the chat emulator applies), above all when the caller talks while a tool runs.
 */
import type { ChatMessage } from '../../../server/providers/types';
import { historyError } from '../../../server/providers/emulators/openai-chat';
import { agentHarness, gate, settle, text, toolCalls } from './agent-fakes';

const toolMessages = (messages: ChatMessage[]) =>
  messages.filter((m): m is Extract<ChatMessage, { role: 'tool' }> => m.role === 'tool');

describe('CallAgent tool rounds in the history', () => {
  it('a caller turn while a tool runs: every request stays valid, and the late result lands in place', async () => {
    const tool = gate();
    const h = agentHarness([[toolCalls(['call_1', 'book_appointment'])], [text('Saturday at eight.')]], {
      execute: async () => {
        await tool.wait;
        return { result: { appointment: { id: 'a1' } }, outcome: 'booked' };
      },
    });
    h.agent.onTranscript('Yes, please book it');
    await settle(); // the booking is now running
    h.agent.onTranscript('and what time do you open on Saturday?');
    await settle();
    tool.open();
    await settle();
    h.agent.onTranscript('hello?');
    await settle();

    expect(h.llm.requests).toHaveLength(3);
    for (const request of h.llm.requests) expect(historyError(request)).toBeNull();
    // While it ran, the model was told the booking was still pending, right after its call.
    const during = h.llm.requests[1] as ChatMessage[];
    expect(during.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'user']);
    expect(JSON.parse(toolMessages(during)[0]?.content ?? '')).toMatchObject({ status: 'pending' });
    // Once done, the real result stands in that same place: the model knows the booking happened.
    const after = h.llm.requests[2] as ChatMessage[];
    expect(after.slice(0, 5).map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'user']);
    expect(toolMessages(after)).toEqual([
      { role: 'tool', tool_call_id: 'call_1', content: '{"appointment":{"id":"a1"}}' },
    ]);
    expect(h.agent.finalOutcome()).toBe('booked');
  });

  it('calls not yet started when the caller speaks are not run, and the model is told so', async () => {
    const first = gate();
    const ran: string[] = [];
    const h = agentHarness(
      [[toolCalls(['c1', 'find_availability'], ['c2', 'send_confirmation_sms'])], [text('Sure.')]],
      {
        execute: async (name) => {
          ran.push(name);
          if (name === 'find_availability') await first.wait;
          return { result: { ok: true } };
        },
      },
    );
    h.agent.onTranscript('Oil change tomorrow, and text me');
    await settle();
    h.agent.onTranscript('Actually, make it Friday');
    await settle();
    first.open();
    await settle();
    h.agent.onTranscript('Friday morning');
    await settle();

    expect(ran).toEqual(['find_availability']);
    for (const request of h.llm.requests) expect(historyError(request)).toBeNull();
    const last = h.llm.requests.at(-1) as ChatMessage[];
    expect(toolMessages(last).map((m) => [m.tool_call_id, JSON.parse(m.content)])).toEqual([
      ['c1', { ok: true }],
      ['c2', { error: expect.objectContaining({ code: 'INTERRUPTED' }) }],
    ]);
  });

  it('a tool that throws still answers its call, so the next request is not refused', async () => {
    const h = agentHarness([[toolCalls(['t1', 'dealership_info'])], [text('Sorry about that.')]], {
      execute: async () => {
        throw new Error('connection reset');
      },
    });
    h.agent.onTranscript('When do you open?');
    await settle();
    h.agent.onTranscript('Hello?');
    await settle();
    expect(h.llm.requests.length).toBeGreaterThanOrEqual(2);
    for (const request of h.llm.requests) expect(historyError(request)).toBeNull();
    const second = h.llm.requests[1] as ChatMessage[];
    expect(JSON.parse(toolMessages(second)[0]?.content ?? '')).toEqual({
      error: expect.objectContaining({ code: 'TOOL_FAILED' }),
    });
  });

  it('a barge-in after the model asked for a tool but before its stream ended leaves no stray message', async () => {
    const streamEnd = gate();
    const h = agentHarness([
      [toolCalls(['t1', 'find_availability']), streamEnd.wait, { type: 'done', finishReason: 'tool_calls' }],
      [text('Friday works.')],
    ]);
    h.agent.onTranscript('Oil change tomorrow');
    await settle(); // the tool call has arrived; the stream has not ended
    h.agent.onTranscript('No wait, Friday');
    await settle();
    streamEnd.open();
    await settle();
    h.echoAll();
    h.agent.onTranscript('Friday morning then');
    await settle();
    for (const request of h.llm.requests) expect(historyError(request)).toBeNull();
    expect((h.llm.requests.at(-1) as ChatMessage[]).map((m) => m.role)).toEqual([
      'system',
      'user',
      'user',
      'assistant',
      'user',
    ]);
  });

  it('a tool past its deadline reads as TIMEOUT to the model; a late result still replaces it', async () => {
    const h = agentHarness(
      [[toolCalls(['b1', 'book_appointment'])], [text('I could not confirm that yet.')], [text('Okay.')]],
      {
        toolTimeoutMs: 40,
        execute: async () => {
          await settle(150);
          return { result: { appointment: { id: 'late' } }, outcome: 'booked' };
        },
      },
    );
    h.agent.onTranscript('Please book it');
    await settle(100); // past the deadline, before the result
    expect(h.llm.requests).toHaveLength(2);
    expect(JSON.parse(toolMessages(h.llm.requests[1] as ChatMessage[])[0]?.content ?? '')).toEqual({
      error: expect.objectContaining({ code: 'TIMEOUT' }),
    });
    expect(h.tts.texts).toContain('I could not confirm that yet.');
    await settle(150); // the booking finished after all
    h.echoAll();
    h.agent.onTranscript('Did it go through?');
    await settle();
    const later = h.llm.requests[2] as ChatMessage[];
    expect(historyError(later)).toBeNull();
    expect(toolMessages(later)[0]?.content).toBe('{"appointment":{"id":"late"}}');
    expect(h.agent.finalOutcome()).toBe('booked');
  });
});
