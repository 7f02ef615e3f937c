/**
 * A worker's side of the cluster channel (platform/cluster.ts). A ring is announced to the
 * primary; a media stream for a call this worker did not ring claims it from the worker that did,
 * which hands over what ring time prepared and relays the greeting audio as it is synthesised.
 * The claimant so plays the same greeting from its first byte, knows the caller's numbers (for
 * the confirmation text), and nothing is synthesised twice.
 */
import type { CustomerView } from '../customers';
import { AudioClip } from '../conversation/phrases';
import type { CallRegistry, PreparedCall } from './call-registry';

const CLAIM_TIMEOUT_MS = 250;
const METRICS_TIMEOUT_MS = 6_000;
/** A greeting relayed from a worker that then died would never end: give up on it. */
const RELAY_TIMEOUT_MS = 15_000;

/** The channel to the primary: `process` in a cluster worker, an emitter in tests. */
export interface ClusterPort {
  send(msg: object): unknown;
  on(event: 'message', fn: (msg: unknown) => void): unknown;
}

/** What ring time prepared, as it crosses the channel (the ring's speech-to-text socket stays). */
interface HandedCall {
  fromE164: string | null;
  toE164: string | null;
  customer: CustomerView | null;
  greetingText: string;
  admittedAt: number;
}

type Incoming =
  | { type: 'bayline:claim'; id: number; callSid: string; from: number }
  | { type: 'bayline:claimed'; id: number; call: HandedCall | null }
  | { type: 'bayline:audio'; id: number; chunk: Uint8Array }
  | { type: 'bayline:audio-end'; id: number; error: string | null }
  | { type: 'bayline:metrics'; id: number; text: string | null }
  | { type: 'bayline:others-active'; active: number }
  | { type: 'bayline:drain' };

export type ClaimResult = 'claimed' | 'unknown' | 'timeout';

const TIMED_OUT = Symbol('timed out');

/** The resolver waiting for answer `id`, removed from `waiting`; none when it timed out. */
function take<T>(waiting: Map<number, T>, id: number): T | undefined {
  const found = waiting.get(id);
  waiting.delete(id);
  return found;
}

export class ClusterLink {
  readonly #port: ClusterPort;
  readonly #claimTimeoutMs: number;
  #registry: CallRegistry | null = null;
  #seq = 0;
  readonly #claims = new Map<number, (call: { call: HandedCall; clip: AudioClip } | null) => void>();
  readonly #clips = new Map<number, { clip: AudioClip; timer: NodeJS.Timeout }>();
  readonly #scrapes = new Map<number, (text: string | null) => void>();
  #onDrain: () => void = () => undefined;
  #othersActive = 0;

  constructor(port: ClusterPort, opts: { claimTimeoutMs?: number } = {}) {
    this.#port = port;
    this.#claimTimeoutMs = opts.claimTimeoutMs ?? CLAIM_TIMEOUT_MS;
    port.on('message', (msg) => {
      const m = msg as Incoming | null;
      if (typeof m === 'object' && m !== null && typeof m.type === 'string') this.#receive(m);
    });
  }

  /**
   * The registry whose rings are announced and whose prepared calls may be handed over. Its count
   * goes to the primary now, which answers with the other workers' (a restarted worker learns it
   * here: the primary's earlier messages came before this process listened).
   */
  serve(registry: CallRegistry): void {
    this.#registry = registry;
    this.active(registry.active);
  }

  ring(callSid: string): void {
    this.#port.send({ type: 'bayline:ring', callSid });
  }

  gone(callSid: string): void {
    this.#port.send({ type: 'bayline:gone', callSid });
  }

  active(n: number): void {
    this.#port.send({ type: 'bayline:active', active: n });
  }

  othersActive(): number {
    return this.#othersActive;
  }

  onDrain(fn: () => void): void {
    this.#onDrain = fn;
  }

  /**
   * Asks the worker that rang `callSid` for what it prepared. Resolves at once with the call's
   * facts and a clip that fills as that worker relays the greeting; null when no worker has it
   * (rung on another host, expired) or no answer came within the timeout.
   */
  async claim(callSid: string): Promise<{ result: ClaimResult; prepared: PreparedCall | null }> {
    const answer = await this.#ask(this.#claims, this.#claimTimeoutMs, (id) => ({
      type: 'bayline:claim',
      id,
      callSid,
    }));
    if (answer === TIMED_OUT) return { result: 'timeout', prepared: null };
    if (answer === null) return { result: 'unknown', prepared: null };
    return {
      result: 'claimed',
      prepared: { ...answer.call, callSid, greetingAudio: answer.clip, stt: null },
    };
  }

  /** The metrics of every worker, aggregated by the primary; null when it did not answer. */
  async metrics(): Promise<string | null> {
    const text = await this.#ask(this.#scrapes, METRICS_TIMEOUT_MS, (id) => ({
      type: 'bayline:metrics',
      id,
    }));
    return text === TIMED_OUT ? null : text;
  }

  /** Sends a request under a fresh id; its answer is what #receive hands the waiting resolver. */
  #ask<T>(
    waiting: Map<number, (answer: T) => void>,
    timeoutMs: number,
    message: (id: number) => object,
  ): Promise<T | typeof TIMED_OUT> {
    const id = ++this.#seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve(TIMED_OUT);
      }, timeoutMs);
      waiting.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.#port.send(message(id));
    });
  }

  #clipFor(id: number): AudioClip {
    const clip = new AudioClip();
    const timer = setTimeout(() => {
      this.#clips.delete(id);
      clip.fail(new Error('greeting relay timed out'));
    }, RELAY_TIMEOUT_MS);
    timer.unref();
    this.#clips.set(id, { clip, timer });
    return clip;
  }

  #receive(m: Incoming): void {
    switch (m.type) {
      case 'bayline:claim':
        void this.#handOver(m.id, m.callSid, m.from);
        return;
      case 'bayline:claimed': {
        // The clip is in place before this returns: its audio may be in the same read, handled
        // before any promise continuation could run.
        take(this.#claims, m.id)?.(m.call && { call: m.call, clip: this.#clipFor(m.id) });
        return;
      }
      case 'bayline:audio': {
        const c = this.#clips.get(m.id);
        c?.clip.append(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength));
        return;
      }
      case 'bayline:audio-end': {
        const c = this.#clips.get(m.id);
        if (!c) return;
        this.#clips.delete(m.id);
        clearTimeout(c.timer);
        if (m.error === null) c.clip.end();
        else c.clip.fail(new Error(m.error));
        return;
      }
      case 'bayline:metrics': {
        take(this.#scrapes, m.id)?.(m.text);
        return;
      }
      case 'bayline:others-active':
        this.#othersActive = m.active;
        return;
      case 'bayline:drain':
        this.#onDrain();
        return;
      default:
    }
  }

  /** Another worker took this ring's stream: answer with what was prepared, then relay its audio. */
  async #handOver(id: number, callSid: string, to: number): Promise<void> {
    const p = this.#registry?.handOver(callSid) ?? null;
    const call: HandedCall | null = p && {
      fromE164: p.fromE164,
      toE164: p.toE164,
      customer: p.customer,
      greetingText: p.greetingText,
      admittedAt: p.admittedAt,
    };
    this.#port.send({ type: 'bayline:claimed', id, to, call });
    if (!p) return;
    try {
      for await (const chunk of p.greetingAudio.stream())
        this.#port.send({ type: 'bayline:audio', id, to, chunk });
      this.#port.send({ type: 'bayline:audio-end', id, to, error: null });
    } catch {
      this.#port.send({ type: 'bayline:audio-end', id, to, error: 'greeting synthesis failed' });
    }
  }
}
