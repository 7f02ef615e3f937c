/**
 * One simulated call of the load test: a TwilioCaller that rings, hears the greeting, then speaks
 * fixture utterances in real time, waits for each reply and listens to it (or now and then barges
 * in on it), until its turn count or the run's hang-up time. Everything it waits for has a timeout.
 */
import { FRAME_BYTES, FRAME_MS, MULAW_SILENCE } from '../server/telephony/mulaw';
import type { LatenessTotals } from '../server/telephony/pacer';
import { FrameTicker } from '../server/telephony/ticker';
import { frameRms } from '../server/providers/emulators/fixture-index';
import { loadFixture } from '../tests/support/audio-fixtures';
import { TwilioCaller, type Utterance } from '../tests/support/twilio-caller';

/** Utterances that make an ordinary turn (no transfer, no goodbye, no backchannel). */
export const TURN_FIXTURES = [
  'book-oil-change',
  'tomorrow-morning',
  'yes-confirm',
  'reschedule',
  'cancel',
  'hours',
] as const;

/** The transcription emulator's server VAD as the product configures it (PROTOCOLS.md §2.4). */
const VAD_SILENCE_MS = 500;
const VAD_VOICED_RMS = 0.5 * 400;

export interface FixtureTiming {
  readonly name: string;
  readonly durationMs: number;
  /**
   * From the utterance's first frame to the frame after which the VAD reports speech stopped:
   * the last voiced 20 ms frame plus the silence it waits for. The caller keeps streaming
   * silence after the utterance, so this frame goes out at `startAt + stopOffsetMs`.
   */
  readonly stopOffsetMs: number;
}

export function fixtureTimings(names: readonly string[] = TURN_FIXTURES): FixtureTiming[] {
  return names.map((name) => {
    const audio = loadFixture(name);
    const frames = Math.ceil(audio.length / FRAME_BYTES);
    let lastVoiced = -1;
    for (let i = 0; i < frames; i++) {
      const frame = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE);
      audio.copy(frame, 0, i * FRAME_BYTES, Math.min(audio.length, (i + 1) * FRAME_BYTES));
      if (frameRms(frame) >= VAD_VOICED_RMS) lastVoiced = i;
    }
    return {
      name,
      durationMs: frames * FRAME_MS,
      stopOffsetMs: (lastVoiced + 1) * FRAME_MS + VAD_SILENCE_MS - FRAME_MS,
    };
  });
}

export interface TurnRecord {
  readonly fixture: string;
  /** The utterance began while the agent was talking. */
  readonly bargeIn: boolean;
  startedAt: number;
  /** Caller-side end-to-end overhead (see the report's method notes); null when unanswered. */
  e2eMs: number | null;
  /** For a barge-in: first `clear` after the utterance began, ms from its first frame. */
  clearMs: number | null;
}

export interface CallResult {
  readonly callSid: string;
  readonly from: string;
  connected: boolean;
  greetingMs: number | null;
  readonly turns: TurnRecord[];
  readonly errors: string[];
  /** The server closed the call before the caller hung up. */
  dropped: boolean;
  startedAt: number;
  endedAt: number;
  mediaFrames: number;
  /** Caller-side playback: audio that arrived after what was buffered had finished playing. */
  underruns: number;
  maxUnderrunMs: number;
}

export interface CallContext {
  readonly baseUrl: string;
  /** What the server signs against (PUBLIC_BASE_URL), when it is not `baseUrl`. */
  readonly publicBaseUrl?: string;
  readonly authToken: string;
  readonly accountSid: string;
  readonly emulated: { readonly sttMs: number; readonly llmMs: number; readonly ttsMs: number };
  readonly fixtures: readonly FixtureTiming[];
  readonly random: () => number;
  readonly bargeIn: number;
  /**
   * Every frame the callers send: how far behind its place on the media timeline it went out.
   * Twilio sends in real time; a generator that falls behind sends fewer, burstier frames, and the
   * server's figures then describe a lighter load than N callers. Late = more than one frame (20 ms).
   */
  readonly sendLag?: LatenessTotals;
}

export interface CallPlan {
  readonly from: string;
  /** performance.now() time at which the caller hangs up, whatever it is doing. */
  readonly hangUpAt: number;
  readonly maxTurns: number | undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const lastMediaAt = (c: TwilioCaller) => c.media[c.media.length - 1]?.at ?? -Infinity;

/** Waits for `pred`, re-checking on every caller event and at least every 250 ms (time-based states). */
async function until(caller: TwilioCaller, pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (pred()) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    try {
      await caller.waitFor(pred, Math.min(250, left));
      return true;
    } catch {
      // re-check
    }
  }
}

/** The first answer comes 0.3 s to 5.3 s after the greeting (uniform): about one turn's length. */
const FIRST_ANSWER_SPREAD_MS = 5000;

export async function runCall(ctx: CallContext, plan: CallPlan): Promise<CallResult> {
  const caller = new TwilioCaller({
    baseUrl: ctx.baseUrl,
    ...(ctx.publicBaseUrl === undefined ? {} : { publicBaseUrl: ctx.publicBaseUrl }),
    authToken: ctx.authToken,
    accountSid: ctx.accountSid,
    from: plan.from,
    // A clock of its own: each call's 20 ms frames keep the phase of its own stream start, as
    // Twilio's do. One shared ticker would send every caller's frame in the same instant, a burst
    // of N frames every 20 ms that no real server sees.
    ticker: new FrameTicker(),
    // The generator shares the server's cores: it skips the mask XOR (the server's work is the same).
    zeroMask: true,
    onFrameSent: ctx.sendLag && ((lagMs) => ctx.sendLag?.add(lagMs, lagMs > FRAME_MS)),
  });
  const r: CallResult = {
    callSid: caller.callSid,
    from: plan.from,
    connected: false,
    greetingMs: null,
    turns: [],
    errors: [],
    dropped: false,
    startedAt: caller.now(),
    endedAt: 0,
    mediaFrames: 0,
    underruns: 0,
    maxUnderrunMs: 0,
  };
  let hungUp = false;
  const hangUp = async () => {
    hungUp = true;
    await caller.stop();
  };
  const hangUpTimer = setTimeout(() => void hangUp(), Math.max(0, plan.hangUpAt - caller.now()));
  const live = () => !hungUp && caller.isOpen;
  try {
    const ring = await caller.placeCall();
    if (ring.status !== 200 || ring.streamUrl === undefined) {
      r.errors.push(`ring: status ${ring.status}${ring.streamUrl === undefined ? ', no <Stream>' : ''}`);
      return r;
    }
    await caller.connect();
    r.connected = true;
    if (!(await until(caller, () => caller.firstAudioAt !== undefined || !live(), 10_000)))
      r.errors.push('greeting: no audio within 10 s');
    if (caller.firstAudioAt !== undefined && caller.startSentAt !== undefined)
      r.greetingMs = caller.firstAudioAt - caller.startSentAt;
    await heardAll(caller, 0, live);
    await converse(caller, ctx, plan, r, live);
  } catch (err) {
    if (!hungUp) r.errors.push(`call: ${(err as Error).message}`);
  } finally {
    clearTimeout(hangUpTimer);
    if (r.connected && !hungUp && !caller.isOpen) {
      r.dropped = true;
      r.errors.push(`dropped: server closed the stream (code ${caller.closeCode ?? '?'})`);
    }
    if (!hungUp) await hangUp();
    r.endedAt = caller.now();
    for (const e of caller.protocolErrors.slice(0, 5)) r.errors.push(`protocol: ${e}`);
    playbackGaps(caller, r);
  }
  return r;
}

async function converse(
  caller: TwilioCaller,
  ctx: CallContext,
  plan: CallPlan,
  r: CallResult,
  live: () => boolean,
): Promise<void> {
  const pick = () => ctx.fixtures[Math.floor(ctx.random() * ctx.fixtures.length)] as FixtureTiming;
  const fits = (f: FixtureTiming) =>
    caller.now() + f.stopOffsetMs + ctx.emulated.sttMs + ctx.emulated.llmMs + ctx.emulated.ttsMs + 2000 <
    plan.hangUpAt;
  let barging: { utterance: Promise<Utterance>; fixture: FixtureTiming; turn: TurnRecord } | null = null;

  for (let n = 0; plan.maxTurns === undefined || n < plan.maxTurns; n++) {
    let current = barging;
    barging = null;
    if (current === null) {
      // Independent callers answer a greeting after anything from a beat to a few seconds. Without
      // that spread, calls started together stay in step, and every turn of the run arrives in
      // waves of N within a second or two: a thundering herd no real line produces.
      await sleep(300 + ctx.random() * (n === 0 ? FIRST_ANSWER_SPREAD_MS : 600));
      const fixture = pick();
      if (!live() || !fits(fixture)) break;
      const turn: TurnRecord = {
        fixture: fixture.name,
        bargeIn: false,
        startedAt: 0,
        e2eMs: null,
        clearMs: null,
      };
      current = { utterance: caller.speak(fixture.name), fixture, turn };
    }
    const { fixture, turn } = current;
    r.turns.push(turn);
    const utterance = await current.utterance;
    if (!live() || utterance.startAt === undefined) break;
    turn.startedAt = utterance.startAt;
    const speechEnd = utterance.startAt + fixture.stopOffsetMs;
    const { sttMs, llmMs, ttsMs } = ctx.emulated;
    const firstIndex = caller.media.length;
    const marksBefore = caller.marksReceived.length;
    const answered = await until(
      caller,
      () => !live() || lastMediaAt(caller) > speechEnd,
      10_000 + sttMs + llmMs + ttsMs,
    );
    if (!live()) break;
    if (!answered) {
      r.errors.push(`turn: no reply within ${10_000 + sttMs + llmMs + ttsMs} ms of speech end`);
      continue;
    }
    let first = Math.max(0, firstIndex - 50);
    while ((caller.media[first]?.at ?? Infinity) <= speechEnd) first++;
    turn.e2eMs = (caller.media[first]?.at as number) - (speechEnd + sttMs + llmMs + ttsMs);

    const lastTurn = plan.maxTurns !== undefined && n + 1 >= plan.maxTurns;
    if (!lastTurn && ctx.random() < ctx.bargeIn) {
      await sleep(300 + ctx.random() * 400);
      const next = pick();
      if (!live() || !fits(next)) break;
      const clearsBefore = caller.clears.length;
      const nextTurn: TurnRecord = {
        fixture: next.name,
        bargeIn: true,
        startedAt: 0,
        e2eMs: null,
        clearMs: null,
      };
      const spoken = caller.speak(next.name);
      // speak() registers the utterance at once; its startAt is set when its first frame goes out.
      const started = caller.utterances[caller.utterances.length - 1];
      barging = { utterance: spoken, fixture: next, turn: nextTurn };
      void until(caller, () => !live() || caller.clears.length > clearsBefore, 3000).then(() => {
        const at = caller.clears[clearsBefore];
        if (at !== undefined && started?.startAt !== undefined) nextTurn.clearMs = at - started.startAt;
      });
      continue;
    }
    await heardAll(caller, marksBefore, live);
  }
  // Out of turns or time: stay on the line (streaming silence) until hang-up time.
  if (plan.maxTurns === undefined)
    await until(caller, () => !live(), Math.max(0, plan.hangUpAt - caller.now()) + 5000);
}

/**
 * The agent has finished talking and the caller has heard it: a mark came since `marksBefore`,
 * every mark has played, nothing is buffered, and no audio for 300 ms. The last two matter: a
 * frame that arrives late under load empties the buffer for a moment mid-sentence.
 */
function heardAll(caller: TwilioCaller, marksBefore: number, live: () => boolean): Promise<boolean> {
  return until(
    caller,
    () =>
      !live() ||
      (caller.marksReceived.length > marksBefore &&
        caller.pendingMarks.length === 0 &&
        caller.bufferedAudioMs === 0 &&
        caller.now() - lastMediaAt(caller) > 300),
    60_000,
  );
}

/** Replays Twilio's playback buffer from arrival times: a frame that found it empty mid-reply is a gap. */
function playbackGaps(caller: TwilioCaller, r: CallResult): void {
  let playEnd = 0;
  let prevAt = -Infinity;
  let c = 0;
  for (const m of caller.media) {
    while (c < caller.clears.length && (caller.clears[c] as number) <= m.at) {
      playEnd = Math.min(playEnd, caller.clears[c] as number);
      prevAt = -Infinity;
      c++;
    }
    // Within a reply frames follow each other by ~20 ms; a longer silence is between replies.
    if (m.at > playEnd && m.at - prevAt <= 500) {
      r.underruns++;
      r.maxUnderrunMs = Math.max(r.maxUnderrunMs, m.at - playEnd);
    }
    playEnd = Math.max(playEnd, m.at) + m.bytes / 8;
    prevAt = m.at;
  }
  r.mediaFrames = caller.media.length;
}
