import { PHRASES } from '../../server/conversation/phrases';
import { sharedTicker } from '../../server/telephony/ticker';
import { startStack, type Stack } from './harness';
import {
  agentReply,
  callTurns,
  finalCall,
  LONG_REPLY,
  providerErrorCount,
  restRequests,
  say,
  until,
} from './flow';

jest.setTimeout(90_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});
afterEach(() => {
  // Whatever a test scripted or broke, the next one starts from a healthy set of providers.
  stack.resetProviders();
});

describe('call control', () => {
  it('DTMF 0 announces, then transfers over REST with <Dial> to the desk', async () => {
    const caller = await stack.dial({ from: '+13125550199' });
    await agentReply(caller, 0);
    const pressed = caller.now();
    caller.dtmf('0');
    await until(() => restRequests(stack, caller.callSid).length > 0, 15_000);
    const [req] = restRequests(stack, caller.callSid);
    expect(req?.form.Twiml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+13125550100</Dial></Response>',
    );
    // The announcement played in full before the transfer.
    expect(caller.marksEchoed.filter((m) => m.at > pressed && !m.cleared).length).toBeGreaterThanOrEqual(1);
    await caller.stop();
    expect(await finalCall(stack, caller.callSid)).toMatchObject({ outcome: 'transferred' });
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.map((t) => t.text)).toContain(PHRASES.transfer);
  });

  it('end_call: goodbye plays, then REST Status=completed, then the socket closes', async () => {
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    await caller.speak('no-thanks');
    await until(() => !caller.isOpen, 20_000);
    const [req] = restRequests(stack, caller.callSid);
    expect(req?.form.Status).toBe('completed');
    expect(caller.pendingMarks).toEqual([]);
    await finalCall(stack, caller.callSid);
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.at(-1)).toMatchObject({ role: 'agent' });
    expect(turns.at(-1)?.text).toMatch(/goodbye/i);
  });

  it('the model failing twice: the secondary model answers, and the caller hears a reply', async () => {
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    const before = stack.emulators.openai.chat.requests.all.length;
    const failoversBefore = (await stack.metrics.providerFailovers.get()).values.reduce(
      (a, v) => a + v.value,
      0,
    );
    // The first attempt and its one quiet retry.
    stack.emulators.openai.chat.fail({ kind: 'status', status: 500 }, 2);
    const spoke = caller.now();
    await say(caller, 'hours');
    expect(caller.media.filter((m) => m.at > spoke).length).toBeGreaterThan(10);
    const models = stack.emulators.openai.chat.requests.all.slice(before).map((r) => r.model);
    expect(models.slice(0, 3)).toEqual([
      stack.config.openai.model,
      stack.config.openai.model,
      'gpt-4.1-mini',
    ]);
    const failovers = await stack.metrics.providerFailovers.get();
    expect(failovers.values.reduce((a, v) => a + v.value, 0) - failoversBefore).toBe(1);
    expect(failovers.values).toContainEqual(
      expect.objectContaining({ labels: { kind: 'llm', from: 'openai-llm', to: 'openai-llm-fallback' } }),
    );
    await caller.stop();
    await finalCall(stack, caller.callSid);
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.map((t) => t.text)).not.toContain(PHRASES.apology);
  });

  it('both models failing is heard as an apology, not silence', async () => {
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    // Each model: the first attempt and its one quiet retry.
    stack.emulators.openai.chat.fail({ kind: 'status', status: 500 }, 4);
    const spoke = caller.now();
    await say(caller, 'hours');
    expect(caller.media.filter((m) => m.at > spoke).length).toBeGreaterThan(10);
    await caller.stop();
    await finalCall(stack, caller.callSid);
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.map((t) => t.text)).toContain(PHRASES.apology);
    const errors = await stack.metrics.providerErrors.get();
    expect(errors.values.some((v) => v.labels.kind === 'llm')).toBe(true);
  });

  it('an ElevenLabs outage is covered by the OpenAI TTS fallback: the reply is still heard', async () => {
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    const speechBefore = stack.emulators.openai.speech.requests.all.length;
    stack.emulators.elevenlabs.fail({ kind: 'status', status: 503 }, 20);
    const spoke = caller.now();
    await say(caller, 'hours');
    expect(stack.emulators.openai.speech.requests.all.length).toBeGreaterThan(speechBefore);
    expect(caller.media.filter((m) => m.at > spoke).length).toBeGreaterThan(10);
    await caller.stop();
    await finalCall(stack, caller.callSid);
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.map((t) => t.text)).not.toContain(PHRASES.apology);
  });

  it('speech-to-text refusing at ring time: no unhandled rejection, the socket is retried, the call goes on', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const before = await providerErrorCount(stack, 'stt');
      // The socket opened at ring time and the first retry are refused; the second retry opens.
      stack.emulators.openai.realtime.refuseConnections(503, 2);
      const caller = await stack.dial({ from: '+13125550142' });
      await agentReply(caller, 0);
      await say(caller, 'hours');
      await caller.stop();
      await finalCall(stack, caller.callSid);
      const turns = await callTurns(stack, caller.callSid);
      expect(turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual([
        'What time do you open on Saturday?',
      ]);
      expect(turns.map((t) => t.text)).not.toContain(PHRASES.handOff);
      expect((await providerErrorCount(stack, 'stt')) - before).toBe(2);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('what the caller says while speech-to-text reopens is held for it, not lost', async () => {
    // Refused at ring time and at the first retry: the socket opens ≈ 0.7 s into the greeting.
    stack.emulators.openai.realtime.refuseConnections(503, 2);
    let framesSent = 0;
    const caller = await stack.dial({ from: '+13125550142', onFrameSent: () => framesSent++ });
    // The caller talks over the greeting at once, while no transcription socket is open.
    await say(caller, 'hours');
    await caller.stop();
    await finalCall(stack, caller.callSid);
    // Every frame reached speech-to-text but those that came before the call was set up (a few).
    const session = stack.emulators.openai.realtime.sessions.last;
    expect(session?.receivedBytes).toBeGreaterThan((framesSent - 10) * 160);
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual([
      'What time do you open on Saturday?',
    ]);
  });

  it('speech-to-text unreachable: the caller hears why and is handed to the desk, not dropped', async () => {
    stack.emulators.openai.realtime.refuseConnections(503, 100);
    const caller = await stack.dial({ from: '+13125550199' });
    await agentReply(caller, 0);
    await until(() => restRequests(stack, caller.callSid).length > 0, 20_000);
    expect(restRequests(stack, caller.callSid)[0]?.form.Twiml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+13125550100</Dial></Response>',
    );
    expect(caller.isOpen).toBe(true);
    await caller.stop();
    expect(await finalCall(stack, caller.callSid)).toMatchObject({ outcome: 'transferred' });
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.map((t) => t.text)).toContain(PHRASES.handOff);
  });

  it('stop in the middle of a reply leaves no call, socket or timer behind', async () => {
    stack.emulators.openai.chat.respond(() => ({ text: LONG_REPLY }));
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    const spoke = caller.now();
    await caller.speak('hours');
    await caller.waitFor((c) => c.media.some((m) => m.at > spoke), 10_000);
    await caller.stop();
    await finalCall(stack, caller.callSid);
    await caller.close();
    await new Promise((r) => setTimeout(r, 300));
    await until(async () => (await stack.metrics.activeCalls.get()).values[0]?.value === 0, 5000);
    const realtime = stack.emulators.openai.realtime.sessions.all.at(-1);
    expect(realtime?.closed).toBe(true);
    expect(await stack.tr.redis.exists(`${stack.tr.prefix}call:{${caller.callSid}}`)).toBe(0);
    // The call's pacer has left the shared frame ticker, so the ticker's own timer is gone too.
    expect(sharedTicker().size).toBe(0);
    expect(caller.isOpen).toBe(false);
  });
});

describe('refusals and bad input', () => {
  it('refuses an unsigned or wrongly signed webhook, creating nothing', async () => {
    const caller = stack.caller({ from: '+13125550142' });
    const unsigned = await caller.placeCall({ signature: null });
    expect([400, 403]).toContain(unsigned.status);
    const forged = await caller.placeCall({ signature: 'bm90IGEgc2lnbmF0dXJl' });
    expect(forged.status).toBe(403);
    expect(await stack.tr.redis.exists(`${stack.tr.prefix}call:{${caller.callSid}}`)).toBe(0);
    const { rows } = await stack.tdb.db.query('SELECT 1 FROM calls WHERE call_sid = $1', [caller.callSid]);
    expect(rows).toHaveLength(0);
  });

  it('refuses an upgrade without a valid signature before any audio flows', async () => {
    const caller = stack.caller({ from: '+13125550142' });
    await caller.placeCall();
    await expect(caller.connect({ signature: null })).rejects.toThrow(/403/);
    await expect(caller.connect({ signature: 'Zm9yZ2Vk' })).rejects.toThrow(/403/);
    expect(caller.upgradeStatus).toBe(403);
  });

  it('10,000 malformed frames on one call leave a parallel call untouched', async () => {
    const noisy = await stack.dial({ from: '+13125550199' });
    const quiet = await stack.dial({ from: '+13125550142' });
    const garbage = [
      'not json',
      '{"event":"media","media":{"payload":"%%%"}}',
      '{"event":"mark"}',
      '{"event":"teleport","x":1}',
      JSON.stringify({ event: 'media', media: { payload: 'A'.repeat(20_000) } }),
      '[]',
      '{"event":"dtmf","dtmf":{"digit":42}}',
    ];
    for (let i = 0; i < 10_000; i++) noisy.sendRaw(garbage[i % garbage.length] as string);
    noisy.sendRaw(Buffer.from([1, 2, 3]), true);
    await agentReply(quiet, 0);
    await say(quiet, 'hours');
    expect(quiet.protocolErrors).toEqual([]);
    // The noisy call itself survives its garbage and still answers.
    expect(noisy.isOpen).toBe(true);
    const spoke = noisy.now();
    await say(noisy, 'hours');
    expect(noisy.media.some((m) => m.at > spoke)).toBe(true);
    const frames = await stack.metrics.mediaFrames.get();
    const invalid = frames.values
      .filter((v) => v.labels.result === 'invalid' || v.labels.result === 'unknown')
      .reduce((n, v) => n + v.value, 0);
    expect(invalid).toBeGreaterThanOrEqual(10_000);
    await Promise.all([noisy.stop(), quiet.stop()]);
  });

  it('a second socket for the same call is refused by the per-call lock', async () => {
    const first = await stack.dial({ from: '+13125550142' });
    const twin = stack.caller({ from: '+13125550142', callSid: first.callSid });
    await twin.connect({ streamUrl: `${stack.baseUrl.replace('http', 'ws')}/twilio/media` });
    await until(() => !twin.isOpen, 5000);
    expect(twin.closeCode).toBe(1008);
    expect(first.isOpen).toBe(true);
    await first.stop();
  });
});
