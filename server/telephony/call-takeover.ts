/**
 * A media stream for a call this process did not ring. In a cluster, the worker that rang hands
 * over what ring time prepared (handoff.ts); when no process here rang it (another instance did,
 * or the ring is long gone), the greeting and the caller are rebuilt from the session, as ring
 * time would have. Either way the call starts as if it had been rung here.
 */
import { greetingText, UNKNOWN_DEALERSHIP_NAME } from '../conversation/phrases';
import type { CustomerView } from '../customers';
import type { PreparedCall } from './call-registry';
import type { VoiceDeps } from './voice-deps';

/** The ring was taken by another worker of this server: take over what it prepared. */
export async function claimPrepared(d: VoiceDeps, callSid: string): Promise<PreparedCall | null> {
  if (!d.cluster) return null;
  const { result, prepared } = await d.cluster.claim(callSid);
  d.metrics.callHandoffs.inc({ result });
  // The call already counts here: take() registered it before the claim.
  if (prepared) d.phrases.adopt(prepared.greetingText, prepared.greetingAudio);
  return prepared;
}

/** The stream reached an instance that did not see the ring: rebuild what ring time would have. */
export async function prepareLate(d: VoiceDeps, callSid: string): Promise<PreparedCall> {
  const session = await d.sessions.get(callSid).catch(() => null);
  let customer: CustomerView | null = null;
  // The session holds no phone number (no PII in Redis); a known caller is found by id.
  if (session?.customerId) customer = await d.customers.lookupById(session.customerId).catch(() => null);
  const name = await d.dealership().then(
    (f) => f.name,
    () => UNKNOWN_DEALERSHIP_NAME,
  );
  const text = greetingText(name, customer?.firstName ?? null);
  return {
    callSid,
    fromE164: null,
    toE164: null,
    customer,
    greetingText: text,
    greetingAudio: d.phrases.get(text),
    stt: null,
    admittedAt: Date.now(),
  };
}
