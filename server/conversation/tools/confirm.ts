/**
 * Read back, then confirm: a write happens only when the model repeats an action it was told to
 * read back, after a newer caller turn that agrees. The model cannot skip this by asserting the
 * caller said yes; only the caller's own words count.
 */
import { createHash } from 'node:crypto';

export interface TurnContext {
  lastCallerText: string;
  callerTurnCount: number;
}

// Sounds and words said before the answer itself: "um, yes", "oh okay", "well, sure".
const FILLERS = /^(?:(?:u+m+|u+h+|uhm|erm?|a+h+|o+h+|well|hmm+|mm+|so|and)\b[\s,.!-]*)+/;
// The answer must open the turn (after fillers): "that works" or "okay thanks", not "I guess, okay".
const AFFIRMATIVE_LEAD =
  /^(?:yes|yeah|yea|yep|yup|sure|correct|that works|works for me|please book|book it|go ahead|(?:that )?sounds good|ok|okay|perfect|absolutely|please do|do it|let'?s do it|that'?s right|that is right|that'?s correct|that is correct|right|all right|alright|confirm|confirmed)\b/;
// Any hedge or negation wins over a "yes" in the same breath ("yes, but actually make it ten").
const NEGATED =
  /\b(?:no|nope|not|don't|do not|dont|wait|actually|hold on|hang on|but|instead|rather|never mind|nevermind|stop|maybe|perhaps)\b|n't\b/;
// A question is never an answer, wherever the "okay" or "right" in it stands ("okay, what about
// Thursday", "is that right"). Speech-to-text often drops the "?", so the words count too.
const QUESTION_WORD = /\b(?:what|whats|when|where|which|who|whom|whose|why|how|hows)\b/;
// "Is that...", "can you...", "does it..." opening the turn, or a clause after the "yes" ("okay is
// that the earliest"). Not "do it" or "will do": those agree.
const INVERTED =
  /(?:^|[,.;:!]\s*|\b(?:and|so|then|also|oh|um|uh|well)\s+)(?:(?:is|are|was|were|can|could|would|will|should|shall|may|might|does|did)\s+(?:i|you|we|they|he|she|it|that|this|there|those|these)|do\s+(?:i|you|we|they))\b/;
// Asking for something else is not agreeing to this ("okay, anything earlier", "sure, the other car").
const OTHER_OPTION = /\b(?:earlier|sooner|another|other|different|anything|something)\b/;

export function isAffirmative(text: string): boolean {
  const t = text
    .toLowerCase()
    .replace(/[\u2018\u2019`]/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
  if (t.includes('?') || NEGATED.test(t) || QUESTION_WORD.test(t) || OTHER_OPTION.test(t)) return false;
  const answer = t.replace(/^[\s,.!-]+/, '').replace(FILLERS, '');
  const lead = AFFIRMATIVE_LEAD.exec(answer);
  if (!lead || INVERTED.test(answer)) return false;
  return !INVERTED.test(answer.slice(lead[0].length).replace(/^[\s,.!-]+/, ''));
}

/**
 * One pending proposal per call: proposing another action replaces it, so a "yes" always answers
 * the latest read-back and never an older one the caller has since changed.
 */
export class ConfirmationGate {
  #pending: { key: string; turn: number } | undefined;

  /** Whether `key` was read back before the latest caller turn and that turn agreed. Consumes it. */
  confirm(key: string, ctx: TurnContext): boolean {
    const p = this.#pending;
    if (!p || p.key !== key || ctx.callerTurnCount <= p.turn || !isAffirmative(ctx.lastCallerText))
      return false;
    this.#pending = undefined;
    return true;
  }

  propose(key: string, ctx: TurnContext): void {
    this.#pending = { key, turn: ctx.callerTurnCount };
  }
}

/** Stable hash of a tool's normalised arguments: the action's identity for confirmation and replay. */
export function actionHash(tool: string, normalised: Record<string, unknown>): string {
  return createHash('sha256')
    .update(`${tool}\n${stableJson(normalised)}`)
    .digest('hex');
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** `2026-11-24T09:00` → "Tuesday, November 24 at 9:00 AM" (the wall time as written, no zone maths). */
export function spokenWhen(local: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
  if (!m) return local;
  const [year, month, day, hour, minute] = m.slice(1).map(Number) as [number, number, number, number, number];
  const weekday = DAYS[new Date(Date.UTC(year, month - 1, day)).getUTCDay()];
  const h12 = hour % 12 === 0 ? 12 : hour % 12;
  return `${weekday}, ${MONTHS[month - 1]} ${day} at ${h12}:${String(minute).padStart(2, '0')} ${hour < 12 ? 'AM' : 'PM'}`;
}

export interface ReadBackVehicle {
  year: number;
  make: string;
  model: string;
}

const forVehicle = (v: ReadBackVehicle | null) => (v ? ` for your ${v.year} ${v.make} ${v.model}` : '');
const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export function bookReadBack(p: {
  serviceName: string;
  startsAt: string;
  vehicle: ReadBackVehicle | null;
  customerName: string | null;
}): string {
  const name = p.customerName ? `, under the name ${p.customerName}` : '';
  return `${upperFirst(p.serviceName)}${forVehicle(p.vehicle)} on ${spokenWhen(p.startsAt)}${name}`;
}

export function rescheduleReadBack(p: {
  serviceName: string;
  vehicle: ReadBackVehicle | null;
  from: string;
  to: string;
}): string {
  return `Move your ${lowerFirst(p.serviceName)}${forVehicle(p.vehicle)} from ${spokenWhen(p.from)} to ${spokenWhen(p.to)}`;
}

export function cancelReadBack(p: {
  serviceName: string;
  vehicle: ReadBackVehicle | null;
  startsAt: string;
}): string {
  return `Cancel your ${lowerFirst(p.serviceName)}${forVehicle(p.vehicle)} on ${spokenWhen(p.startsAt)}`;
}
