import type { TwilioCaller } from '../support/twilio-caller';
import type { Stack } from './harness';

/** Waits until the agent has said something after `since` and the caller has heard all of it. */
export async function agentReply(caller: TwilioCaller, since: number, timeoutMs = 20_000): Promise<void> {
  await caller.waitFor((c) => c.media.some((m) => m.at > since), timeoutMs);
  await caller.waitFor((c) => c.pendingMarks.length === 0 && c.bufferedAudioMs === 0, timeoutMs);
}

/** The caller speaks a fixture, then listens to the whole reply. */
export async function say(caller: TwilioCaller, fixture: string): Promise<void> {
  await caller.speak(fixture);
  await agentReply(caller, caller.now());
}

/** The call record once it is final (written after `stop`). */
export async function finalCall(stack: Stack, callSid: string) {
  for (let i = 0; i < 100; i++) {
    const { rows } = await stack.tdb.db.query<{ status: string; outcome: string | null; latency: unknown[] }>(
      'SELECT status, outcome, latency FROM calls WHERE call_sid = $1',
      [callSid],
    );
    if (rows[0]?.status === 'completed') return rows[0];
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`call ${callSid} never completed`);
}

export async function callTurns(stack: Stack, callSid: string) {
  const { rows } = await stack.tdb.db.query<{ role: string; text_enc: string; interrupted: boolean }>(
    'SELECT role, text_enc, interrupted FROM call_turns WHERE call_sid = $1 ORDER BY seq',
    [callSid],
  );
  return rows.map((r) => ({
    role: r.role,
    text: stack.cipher.decrypt(r.text_enc),
    interrupted: r.interrupted,
  }));
}

export const LONG_REPLY =
  'We have a lot of options for you this week. On Tuesday we have several morning slots open. ' +
  'On Wednesday the afternoon is mostly free. Thursday is busy but we can fit a short service. ' +
  'Friday morning also has room for an oil change. Saturday we are open until two in the afternoon.';

/** The Twilio REST requests the server made for one call (a transfer, a hang-up). */
export const restRequests = (stack: Stack, callSid: string) =>
  stack.emulators.twilio.requests.all.filter((r) => r.callSid === callSid);

/** How many provider errors of one kind (`stt`, `stt_lost`, `twilio`…) the server has counted. */
export async function providerErrorCount(stack: Stack, kind: string): Promise<number> {
  const { values } = await stack.metrics.providerErrors.get();
  return values.filter((v) => v.labels.kind === kind).reduce((n, v) => n + v.value, 0);
}

/** Polls a condition that no caller event signals (REST requests, database rows). */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
