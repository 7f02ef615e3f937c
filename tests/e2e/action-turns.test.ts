/**
 * What a caller does while the agent is busy: talking while a tool runs, talking over "I'm
 * transferring you" or "goodbye", and a Twilio REST failure on the transfer or hang-up itself.
 * The chat emulator refuses a history that OpenAI would refuse, so a broken history shows here.
 */
import { createDemoBrain, type ChatRequestBody } from '../../server/providers/emulators';
import { historyError } from '../../server/providers/emulators/openai-chat';
import { PHRASES } from '../../server/conversation/phrases';
import { startStack, TZ, type Stack } from './harness';
import { agentReply, callTurns, finalCall, providerErrorCount, restRequests, say, until } from './flow';

jest.setTimeout(90_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});
afterEach(() => {
  jest.restoreAllMocks();
  stack.resetProviders();
});

const DIAL_DESK = '<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+13125550100</Dial></Response>';

type Message = { role: string; content: unknown; tool_calls?: unknown[] };
const messagesOf = (body: ChatRequestBody) => (body.messages ?? []) as Message[];

describe('the caller talks while a tool runs', () => {
  it('no request to the model breaks the tool-round rule; the caller is answered, and the late result is kept', async () => {
    const brain = createDemoBrain({ now: () => stack.now, timeZone: TZ });
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: TZ }).format(stack.now);
    stack.emulators.openai.chat.respond((body) => {
      const last = messagesOf(body).at(-1);
      return last?.role === 'user' && String(last.content).includes('oil change')
        ? { toolCalls: [{ name: 'find_availability', arguments: { serviceCode: 'OIL', date: today } }] }
        : brain(body);
    });
    const firstRequest = stack.emulators.openai.chat.requests.all.length;
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    // From now on the availability query hangs until the test lets it go: a slow database.
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let held = false;
    const db = stack.tdb.db;
    const query = db.query.bind(db);
    jest.spyOn(db, 'query').mockImplementation(async (sql: string, params?: readonly unknown[]) => {
      if (sql.includes('FROM appointments') && !held) {
        held = true;
        await slow;
      }
      return query(sql, params);
    });
    const chat = stack.emulators.openai.chat.requests;
    const lastAsked = () => String(messagesOf(chat.last ?? {}).at(-1)?.content);
    try {
      await caller.speak('book-oil-change');
      await until(() => held, 15_000);
      // "…and what time do you open on Saturday?" while the tool runs (over the filler line).
      await caller.speak('hours');
      await until(() => lastAsked() === 'What time do you open on Saturday?', 15_000);
    } finally {
      release();
    }
    // Answered: the model has had the opening hours, and the caller hears its reply to the end.
    await until(() => lastAsked().includes('"saturday"'), 15_000);
    await agentReply(caller, caller.now());
    await say(caller, 'tomorrow-morning');
    await caller.stop();
    await finalCall(stack, caller.callSid);

    const requests = stack.emulators.openai.chat.requests.all.slice(firstRequest);
    expect(requests.map((r) => historyError(r.messages ?? []))).toEqual(requests.map(() => null));
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.map((t) => t.text)).not.toContain(PHRASES.apology);
    expect(turns.some((t) => t.role === 'agent' && /saturday/i.test(t.text))).toBe(true);
    // The slow result came after the caller had moved on, and still stands right after its call.
    const last = messagesOf(requests.at(-1) as ChatRequestBody);
    const call = last.findIndex((m) => m.role === 'assistant' && m.tool_calls?.length);
    expect(last[call + 1]).toMatchObject({ role: 'tool', content: expect.stringContaining('"slots"') });
  });
});

describe('a Twilio REST failure on the action itself', () => {
  it('a transfer refused once (500) is retried, and the caller is transferred', async () => {
    const caller = await stack.dial({ from: '+13125550199' });
    await agentReply(caller, 0);
    stack.emulators.twilio.fail({ kind: 'status', status: 500 }, 1);
    caller.dtmf('0');
    await until(() => restRequests(stack, caller.callSid).length > 0, 15_000);
    expect(restRequests(stack, caller.callSid)[0]?.form.Twiml).toBe(DIAL_DESK);
    await caller.stop();
    expect(await finalCall(stack, caller.callSid)).toMatchObject({ outcome: 'transferred' });
    expect((await callTurns(stack, caller.callSid)).map((t) => t.text)).not.toContain(PHRASES.transferFailed);
  });

  it('a transfer that keeps failing: the caller hears so, is still answered, and 0 tries again', async () => {
    const caller = await stack.dial({ from: '+13125550199' });
    await agentReply(caller, 0);
    const before = await providerErrorCount(stack, 'twilio');
    stack.emulators.twilio.fail({ kind: 'status', status: 500 }, 3);
    caller.dtmf('0');
    await until(async () => (await providerErrorCount(stack, 'twilio')) - before >= 3, 15_000);
    const failedAt = caller.now();
    await agentReply(caller, failedAt, 10_000);
    const spoke = caller.now();
    await say(caller, 'hours');
    expect(caller.media.filter((m) => m.at > spoke).length).toBeGreaterThan(10);
    caller.dtmf('0');
    await until(() => restRequests(stack, caller.callSid).length > 0, 15_000);
    await caller.stop();
    expect(await finalCall(stack, caller.callSid)).toMatchObject({ outcome: 'transferred' });
    const turns = (await callTurns(stack, caller.callSid)).map((t) => t.text);
    expect(turns).toContain(PHRASES.transferFailed);
    expect(turns).toContain('What time do you open on Saturday?');
  });

  it('a hang-up that Twilio refuses still ends the call: the stream is closed', async () => {
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    stack.emulators.twilio.fail({ kind: 'status', status: 500 }, 10);
    await caller.speak('no-thanks');
    await until(() => !caller.isOpen, 20_000);
    expect(await finalCall(stack, caller.callSid)).toMatchObject({ status: 'completed' });
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.at(-1)?.text).toMatch(/goodbye/i);
  });
});

describe('talking over an announced action', () => {
  it('talking over "I am connecting you" does not cancel the transfer', async () => {
    const caller = await stack.dial({ from: '+13125550199' });
    await agentReply(caller, 0);
    const pressed = caller.now();
    caller.dtmf('0');
    await caller.waitFor((c) => c.media.some((m) => m.at > pressed), 5000);
    const announcing = caller.now();
    const talking = caller.speak('hours');
    await until(() => restRequests(stack, caller.callSid).length > 0, 20_000);
    await talking;
    expect(caller.clears.filter((t) => t > announcing)).toEqual([]);
    expect(restRequests(stack, caller.callSid)[0]?.form.Twiml).toBe(DIAL_DESK);
    await caller.stop();
    expect(await finalCall(stack, caller.callSid)).toMatchObject({ outcome: 'transferred' });
  });

  it('"thanks, bye" over the goodbye still hangs up, at once and without another model turn', async () => {
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    const requestsBefore = stack.emulators.openai.chat.requests.all.length;
    await caller.speak('no-thanks');
    const spoke = caller.now();
    await caller.waitFor((c) => c.media.some((m) => m.at > spoke), 10_000);
    void caller.speak('no-thanks');
    await until(() => !caller.isOpen, 20_000);
    expect(caller.clears.filter((t) => t > spoke)).toEqual([]);
    expect(restRequests(stack, caller.callSid)[0]?.form.Status).toBe('completed');
    expect(stack.emulators.openai.chat.requests.all.length - requestsBefore).toBe(1);
  });

  it('speech-to-text unreachable and the caller saying "hello?": handed to the desk all the same', async () => {
    stack.emulators.openai.realtime.refuseConnections(503, 100);
    const caller = await stack.dial({ from: '+13125550199' });
    let talking = true;
    const talk = (async () => {
      while (talking && caller.isOpen) await caller.speak('hours');
    })();
    await until(() => restRequests(stack, caller.callSid).length > 0, 30_000);
    talking = false;
    await caller.stop();
    await talk;
    expect(restRequests(stack, caller.callSid)[0]?.form.Twiml).toBe(DIAL_DESK);
    expect(await finalCall(stack, caller.callSid)).toMatchObject({ outcome: 'transferred' });
  });
});
