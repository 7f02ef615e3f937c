/** Listener noises that never interrupt the agent (CONTRACT.md § Barge-in). */
const BACKCHANNEL = /^(?:mm+[- ]?hm+|uh[- ]?huh|yeah|yep|yes|okay|ok|right|sure|got it|i see|mhm|hmm+)$/;

export function isBackchannel(text: string): boolean {
  const t = text
    .toLowerCase()
    .replace(/[^a-z\s-]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (t.length === 0) return true;
  // "okay, okay" or "yeah right" are still backchannels; anything with other words is not.
  return t.split(/[\s,]+/).every((w) => BACKCHANNEL.test(w) || w === '') || BACKCHANNEL.test(t);
}
