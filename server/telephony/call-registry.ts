import type { CustomerView } from '../customers';
import type { SttStream } from '../providers/types';
import type { AudioClip } from '../conversation/phrases';

/** What ring time prepared for the media stream that follows. */
export interface PreparedCall {
  callSid: string;
  fromE164: string | null;
  /** The Twilio number that was called (To). */
  toE164: string | null;
  customer: CustomerView | null;
  greetingText: string;
  greetingAudio: AudioClip;
  /** The speech-to-text socket, opening since ring time. */
  stt: Promise<SttStream> | null;
  admittedAt: number;
}

const STREAM_WAIT_MS = 30_000;

export interface RegistryPeers {
  ring(callSid: string): void;
  gone(callSid: string): void;
  /** This process now holds `n` calls. */
  active(n: number): void;
  /** Calls the other processes hold, as last heard: admission counts them against the limit. */
  othersActive(): number;
}

/**
 * Admission control and ring-time preparation, per instance (with peers, the cluster workers of
 * one server together). A call counts from the webhook until its stream ends; a call whose stream
 * never arrives is released after 30 s.
 */
export class CallRegistry {
  readonly max: number;
  readonly #calls = new Map<string, { prepared: PreparedCall | null; timer: NodeJS.Timeout | null }>();
  readonly #onChange: (active: number) => void;
  readonly #peers: RegistryPeers | null;

  constructor(opts: {
    maxConcurrentCalls: number;
    onChange?: (active: number) => void;
    /** Other processes of this server (cluster workers): told of rings, their end and our count. */
    peers?: RegistryPeers;
  }) {
    this.max = opts.maxConcurrentCalls;
    this.#onChange = opts.onChange ?? (() => undefined);
    this.#peers = opts.peers ?? null;
  }

  get active(): number {
    return this.#calls.size;
  }

  /** Reserves a slot for a ringing call; false when full. A repeated webhook for one call is one call. */
  admit(callSid: string): boolean {
    if (this.#calls.has(callSid)) return true;
    if (this.#calls.size + (this.#peers?.othersActive() ?? 0) >= this.max) return false;
    const timer = setTimeout(() => this.#expire(callSid), STREAM_WAIT_MS);
    timer.unref();
    this.#calls.set(callSid, { prepared: null, timer });
    this.#changed();
    this.#peers?.ring(callSid);
    return true;
  }

  prepare(p: PreparedCall): void {
    const entry = this.#calls.get(p.callSid);
    if (entry) entry.prepared = p;
  }

  /** The stream has started: the call is live until release(); returns what ring time prepared. */
  take(callSid: string): PreparedCall | null {
    const entry = this.#calls.get(callSid);
    if (!entry) {
      // Ring was handled by another instance (or long ago): still a live call here.
      this.#calls.set(callSid, { prepared: null, timer: null });
      this.#changed();
      return null;
    }
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    const p = entry.prepared;
    entry.prepared = null;
    return p;
  }

  /**
   * The call's stream started on another process: what ring time prepared goes there, and the
   * slot with it. A speech-to-text socket the ring opened cannot travel, so it is closed (cluster
   * workers open none at ring time). Null when this
   * process has no ringing call by that sid (never rung here, expired, or streaming here).
   */
  handOver(callSid: string): PreparedCall | null {
    const entry = this.#calls.get(callSid);
    if (!entry || entry.timer === null || !entry.prepared) return null;
    const p = entry.prepared;
    this.release(callSid);
    return p;
  }

  /** A media stream has taken the call here and not ended it yet. */
  isStreaming(callSid: string): boolean {
    const entry = this.#calls.get(callSid);
    return entry !== undefined && entry.timer === null;
  }

  release(callSid: string): void {
    const entry = this.#calls.get(callSid);
    if (!entry) return;
    if (entry.timer) clearTimeout(entry.timer);
    this.#discard(entry.prepared);
    this.#calls.delete(callSid);
    this.#changed();
    this.#peers?.gone(callSid);
  }

  #changed(): void {
    this.#onChange(this.#calls.size);
    this.#peers?.active(this.#calls.size);
  }

  #expire(callSid: string): void {
    const entry = this.#calls.get(callSid);
    if (!entry || entry.timer === null) return;
    this.#discard(entry.prepared);
    this.#calls.delete(callSid);
    this.#changed();
    this.#peers?.gone(callSid);
  }

  #discard(p: PreparedCall | null): void {
    p?.stt?.then((s) => s.close()).catch(() => undefined);
  }

  close(): void {
    for (const sid of [...this.#calls.keys()]) this.release(sid);
  }
}
