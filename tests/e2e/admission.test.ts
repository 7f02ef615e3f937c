import type { ChatRequestBody } from '../../server/providers/emulators';
import { RedisSessionStore } from '../../server/sessions';
import { signRequest } from '../../server/telephony/signature';
import { addDays, formatLocalDate, localToUtc } from '../../server/bookings/time';
import { startStack, TZ, type Stack } from './harness';
import { agentReply, callTurns, finalCall, say, until } from './flow';

jest.setTimeout(60_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { MAX_CONCURRENT_CALLS: '1' } });
});
afterAll(async () => {
  await stack.close();
});

describe('admission, status callback and SMS', () => {
  it('over capacity, a caller still gets served: an apology and <Dial> to the desk', async () => {
    const first = await stack.dial({ from: '+13125550142' });
    const second = stack.caller({ from: '+13125550199' });
    const ring = await second.placeCall();
    expect(ring.status).toBe(200);
    expect(ring.streamUrl).toBeUndefined();
    expect(ring.body).toContain('<Dial>+13125550100</Dial>');
    expect(ring.body).toContain('<Say');
    await first.stop();
    await finalCall(stack, first.callSid);
    const again = stack.caller({ from: '+13125550199' });
    expect((await again.placeCall()).streamUrl).toBeDefined();
    await postStatus(again.callSid, 'completed');
  });

  it('a caller who hangs up while the stream is still starting frees the slot', async () => {
    // `stop` right behind `start` reaches the server while it is still taking the call's lock.
    const quick = await stack.dial({ from: '+13125550142' });
    await quick.stop();
    expect(await finalCall(stack, quick.callSid)).toMatchObject({ status: 'completed' });
    await until(async () => (await stack.metrics.activeCalls.get()).values[0]?.value === 0);
    // The transcription socket ring time opened is closed too, not left to reconnect.
    await until(async () => stack.emulators.openai.realtime.sessions.all.every((s) => s.closed));
    const next = stack.caller({ from: '+13125550199' });
    expect((await next.placeCall()).streamUrl).toBeDefined();
    await postStatus(next.callSid, 'completed');
  });

  it('a duplicate stream that hangs up while starting leaves the live call alone', async () => {
    const live = await stack.dial({ from: '+13125550142' });
    await agentReply(live, 0);
    const duplicate = stack.caller({ from: '+13125550142', callSid: live.callSid });
    await duplicate.connect({ streamUrl: live.ring?.streamUrl });
    await duplicate.stop();
    await new Promise((r) => setTimeout(r, 300));
    // Still one live call: its slot held (a new caller is turned away), no record closed.
    const { rows } = await stack.tdb.db.query<{ status: string }>(
      'SELECT status FROM calls WHERE call_sid = $1',
      [live.callSid],
    );
    expect(rows[0]?.status).not.toBe('completed');
    expect((await stack.metrics.activeCalls.get()).values[0]?.value).toBe(1);
    expect((await stack.caller({ from: '+13125550199' }).placeCall()).streamUrl).toBeUndefined();
    await say(live, 'yes-confirm');
    await live.stop();
    expect(await finalCall(stack, live.callSid)).toMatchObject({ status: 'completed' });
  });

  it('with Redis unreachable, a duplicate stream for a call streaming here is still refused', async () => {
    const live = await stack.dial({ from: '+13125550142' });
    await agentReply(live, 0);
    const lock = jest
      .spyOn(RedisSessionStore.prototype, 'acquireLock')
      .mockRejectedValue(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    try {
      const duplicate = stack.caller({ from: '+13125550142', callSid: live.callSid });
      await duplicate.connect({ streamUrl: live.ring?.streamUrl });
      await duplicate.waitFor((c) => c.closeCode !== undefined, 3000);
      expect(lock).toHaveBeenCalled();
      expect(duplicate.closeCode).toBe(1008);
      expect(duplicate.media).toEqual([]);
    } finally {
      lock.mockRestore();
    }
    // The live call is untouched: still the one call here, and it goes on.
    expect((await stack.metrics.activeCalls.get()).values[0]?.value).toBe(1);
    await say(live, 'yes-confirm');
    await live.stop();
    expect(await finalCall(stack, live.callSid)).toMatchObject({ status: 'completed' });
    await until(async () => (await stack.metrics.activeCalls.get()).values[0]?.value === 0);
  });

  it("a status callback that overtakes the stream's stop does not close the record under it", async () => {
    // Twilio's status callback and the stream's `stop` come from different systems, in either order.
    const caller = await stack.dial({ from: '+13125550142' });
    await agentReply(caller, 0);
    await say(caller, 'yes-confirm');
    expect((await postStatus(caller.callSid, 'completed')).status).toBe(204);
    expect((await stack.metrics.activeCalls.get()).values[0]?.value).toBe(1);
    await caller.stop();
    const record = await finalCall(stack, caller.callSid);
    expect(record.outcome).not.toBe('abandoned');
    const turns = await callTurns(stack, caller.callSid);
    expect(turns.map((t) => t.role)).toEqual(['agent', 'caller', 'agent']);
    await until(async () => (await stack.metrics.activeCalls.get()).values[0]?.value === 0);
  });

  it('the status callback finalises a call whose stream never came', async () => {
    const caller = stack.caller({ from: '+13125550199' });
    await caller.placeCall();
    const res = await postStatus(caller.callSid, 'completed');
    expect(res.status).toBe(204);
    expect(await finalCall(stack, caller.callSid)).toMatchObject({
      status: 'completed',
      outcome: 'abandoned',
    });
    const unsigned = await fetch(`${stack.baseUrl}/twilio/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ CallSid: caller.callSid, CallStatus: 'completed' }).toString(),
    });
    expect([400, 403]).toContain(unsigned.status);
  });

  it("texts a confirmation of the caller's own appointment, from the dealership number, once; never someone else's", async () => {
    const customer = async (phone: string) =>
      (
        await stack.tdb.db.query<{ id: string }>('SELECT id FROM customers WHERE phone_index = $1', [
          stack.cipher.blindIndex(phone),
        ])
      ).rows[0]?.id;
    const start = localToUtc(`${addDays(formatLocalDate(stack.now, TZ), 2)}T09:00`, TZ);
    const book = async (phone: string, bay: number) =>
      (
        await stack.tdb.db.query<{ id: string }>(
          "INSERT INTO appointments (customer_id, service_code, bay_id, starts_at, ends_at, source) VALUES ($1, 'OIL', $2, $3, $4, 'staff') RETURNING id",
          [await customer(phone), bay, start, new Date(start.getTime() + 1_800_000)],
        )
      ).rows[0]?.id as string;
    const dana = await book('+13125550142', 1);
    const luis = await book('+13125550199', 2);
    const results: string[] = [];
    stack.emulators.openai.chat.respond((body: ChatRequestBody) => {
      const messages = body.messages as Array<{ role: string; content: string | null }>;
      const last = messages.at(-1);
      if (last?.role === 'tool') {
        results.push(String(last.content));
        return { text: 'Done.' };
      }
      const n = messages.filter((m) => m.role === 'user').length;
      const id = n === 1 ? dana : n === 2 ? dana : luis;
      return { toolCalls: [{ name: 'send_confirmation_sms', arguments: { appointmentId: id } }] };
    });
    const caller = await stack.dial({ from: '+13125550142', to: '+13125550000' });
    await agentReply(caller, 0);
    await say(caller, 'yes-confirm');
    await say(caller, 'yes-confirm');
    await say(caller, 'yes-confirm');
    const messages = stack.emulators.twilio.requests.all.filter((r) => r.resource === 'message');
    expect(messages).toHaveLength(1);
    expect(messages[0]?.form).toMatchObject({ To: '+13125550142', From: '+13125550000' });
    expect(messages[0]?.form.Body).toMatch(/^Bayline Motors: your oil change is booked for \w+day, /);
    expect(results[0]).toBe('{"sent":true}');
    expect(results[1]).toContain('"repeated":true');
    expect(results[2]).toContain('APPOINTMENT_NOT_FOUND');
    await caller.stop();
    await until(async () => (await stack.metrics.activeCalls.get()).values[0]?.value === 0);
  });
});

async function postStatus(callSid: string, status: string): Promise<Response> {
  const url = `${stack.baseUrl}/twilio/status`;
  const params = { CallSid: callSid, CallStatus: status, AccountSid: stack.config.twilio.accountSid };
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signRequest(stack.config.twilio.authToken, url, params),
    },
    body: new URLSearchParams(params).toString(),
  });
}
