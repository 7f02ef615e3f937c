/**
 * Outbound audio pacing for one call. TTS delivers audio faster than real time; sending it all at
 * once would leave seconds buffered at Twilio, and a barge-in `clear` would then cut a sentence
 * the product believes was never sent, or worse, marks would come back long after the fact. So we
 * keep only a small lead (`leadMs`) buffered at Twilio and release 20 ms frames on the shared
 * ticker, with each `mark` sent right after the audio it follows.
 *
 * Twilio's buffer is modelled as `bufferedUntil`: the clock time at which everything sent so far
 * will have finished playing.
 */
import type { OutboundEncoder } from './frames';
import { BYTES_PER_MS, FRAME_MS } from './mulaw';
import { sharedTicker, type FrameTicker, type Tickable } from './ticker';

export interface PacerOptions {
  readonly encoder: OutboundEncoder;
  /** Hands one JSON text message to the socket. */
  readonly send: (json: string) => void;
  /** Audio kept buffered ahead of playback at Twilio; it oscillates within ±1 tick of this. */
  readonly leadMs?: number;
  /**
   * Audio per media message (default 20 ms, as Twilio's own frames). Twilio accepts any length, and a
   * message costs the same to send whatever it carries (one `ws` frame, one write syscall), so 40 ms
   * halves the outbound messages; Twilio's buffer then swings by one message around the lead.
   */
  readonly frameMs?: number;
  readonly ticker?: FrameTicker;
  /** A frame sent this much after its due time counts as late (an audible gap is likely). */
  readonly lateAfterMs?: number;
  /** Recent per-frame lateness samples kept for stats; 0 keeps none. */
  readonly jitterSamples?: number;
  /** Per-frame lateness for a metrics histogram; a number, so no allocation. */
  readonly onFrame?: (latenessMs: number) => void;
}

export interface ClearResult {
  /** Marks never sent: their audio was not heard. */
  readonly droppedMarks: string[];
  /** Marks sent whose audio, by our model, was still buffered at Twilio (Twilio echoes them at once). */
  readonly unplayedMarks: string[];
  readonly droppedAudioMs: number;
}

export interface PacerStats {
  readonly framesSent: number;
  readonly audioMsSent: number;
  readonly marksSent: number;
  readonly lateFrames: number;
  readonly maxLatenessMs: number;
}

/**
 * Per-frame lateness of every pacer in the process, as a fixed-bucket histogram (0.1 ms buckets to
 * 100 ms, then one overflow bucket): the load test reads it to report pacing jitter percentiles
 * across all calls. Counting is one array increment per frame; nothing is allocated.
 */
export class LatenessTotals {
  static readonly BUCKET_MS = 0.1;
  static readonly BUCKETS = 1001;
  readonly counts = new Float64Array(LatenessTotals.BUCKETS);
  frames = 0;
  lateFrames = 0;
  maxMs = 0;

  add(latenessMs: number, late: boolean): void {
    const i = Math.min(LatenessTotals.BUCKETS - 1, Math.floor(latenessMs / LatenessTotals.BUCKET_MS));
    this.counts[i] = (this.counts[i] as number) + 1;
    this.frames++;
    if (late) this.lateFrames++;
    if (latenessMs > this.maxMs) this.maxMs = latenessMs;
  }

  /** A copy, so a reader can diff two points in time. */
  snapshot(): { counts: number[]; frames: number; lateFrames: number; maxMs: number } {
    return {
      counts: Array.from(this.counts),
      frames: this.frames,
      lateFrames: this.lateFrames,
      maxMs: this.maxMs,
    };
  }
}

/** Every OutboundPacer in this process records here as well as in its own stats. */
export const processLateness = new LatenessTotals();

interface SentMark {
  readonly name: string;
  readonly playEndAt: number;
}

export class OutboundPacer implements Tickable {
  readonly leadMs: number;
  /** Bytes per media message. */
  readonly frameBytes: number;
  private readonly encoder: OutboundEncoder;
  private readonly send: (json: string) => void;
  private readonly ticker: FrameTicker;
  private readonly lateAfterMs: number;
  private readonly onFrame: ((latenessMs: number) => void) | undefined;

  /** Audio (Buffer) and marks (string) in order; `head` and `offset` avoid shifting the array. */
  private items: (Buffer | string)[] = [];
  private readyAt: number[] = [];
  private head = 0;
  private offset = 0;
  private queuedBytes = 0;
  private closed = false;
  private bufferedUntil = 0;
  private readonly staging: Buffer;
  private sentMarks: SentMark[] = [];

  private framesSent = 0;
  private bytesSent = 0;
  private marksSent = 0;
  private lateFrames = 0;
  private maxLatenessMs = 0;
  private readonly jitter: Float64Array;
  private jitterCount = 0;

  constructor(opts: PacerOptions) {
    this.encoder = opts.encoder;
    this.send = opts.send;
    this.leadMs = opts.leadMs ?? 120;
    this.frameBytes = Math.max(1, Math.round((opts.frameMs ?? FRAME_MS) * BYTES_PER_MS));
    this.staging = Buffer.alloc(this.frameBytes);
    this.ticker = opts.ticker ?? sharedTicker();
    this.lateAfterMs = opts.lateAfterMs ?? 60;
    this.onFrame = opts.onFrame;
    this.jitter = new Float64Array(opts.jitterSamples ?? 256);
  }

  /** Queues mu-law audio of any length; frames go out now if the lead allows, else on ticks. */
  push(audio: Uint8Array): void {
    if (this.closed || audio.length === 0) return;
    const buf = Buffer.isBuffer(audio)
      ? audio
      : Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength);
    this.enqueue(buf, buf.length);
    this.pump(this.ticker.clock.now(), undefined);
  }

  /** Queues a named mark after everything pushed so far. */
  mark(name: string): void {
    if (this.closed) return;
    this.enqueue(name, 0);
    this.pump(this.ticker.clock.now(), undefined);
  }

  /** Barge-in: drops unsent audio and marks, tells Twilio to empty its buffer, reports what was lost. */
  clear(): ClearResult {
    const now = this.ticker.clock.now();
    const droppedMarks: string[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (typeof item === 'string') droppedMarks.push(item);
    }
    const unplayedMarks = this.sentMarks.filter((m) => m.playEndAt > now).map((m) => m.name);
    const droppedAudioMs = this.queuedBytes / BYTES_PER_MS;
    this.reset();
    this.bufferedUntil = now;
    if (!this.closed) this.send(this.encoder.clear());
    return { droppedMarks, unplayedMarks, droppedAudioMs };
  }

  /** Stops pacing for good; queued audio is dropped, nothing more is sent. */
  close(): void {
    this.closed = true;
    this.reset();
  }

  /** Audio queued here, not yet sent. */
  get queuedMs(): number {
    return this.queuedBytes / BYTES_PER_MS;
  }

  /** Audio sent but, by our model, not yet played at Twilio. */
  get bufferedMs(): number {
    return Math.max(0, this.bufferedUntil - this.ticker.clock.now());
  }

  /** Nothing queued and nothing left playing. */
  get idle(): boolean {
    return this.head >= this.items.length && this.bufferedMs === 0;
  }

  /** Names of sent marks whose audio may still be playing at Twilio, in order. */
  get inFlightMarks(): string[] {
    const now = this.ticker.clock.now();
    return this.sentMarks.filter((m) => m.playEndAt > now).map((m) => m.name);
  }

  get stats(): PacerStats {
    return {
      framesSent: this.framesSent,
      audioMsSent: this.bytesSent / BYTES_PER_MS,
      marksSent: this.marksSent,
      lateFrames: this.lateFrames,
      maxLatenessMs: this.maxLatenessMs,
    };
  }

  /** The most recent per-frame lateness samples (ms), oldest first. */
  jitterSamples(): Float64Array {
    const cap = this.jitter.length;
    const n = Math.min(this.jitterCount, cap);
    const out = new Float64Array(n);
    const start = this.jitterCount - n;
    for (let i = 0; i < n; i++) out[i] = this.jitter[(start + i) % cap] as number;
    return out;
  }

  onTick(now: number, idealNow: number): void {
    this.pump(now, idealNow);
  }

  private enqueue(item: Buffer | string, bytes: number): void {
    this.items.push(item);
    this.readyAt.push(this.ticker.clock.now());
    this.queuedBytes += bytes;
  }

  private reset(): void {
    this.items = [];
    this.readyAt = [];
    this.head = 0;
    this.offset = 0;
    this.queuedBytes = 0;
    this.sentMarks = [];
    this.ticker.remove(this);
  }

  /** Sends whatever is due now. `idealNow` is set on ticks (undefined when called from push or mark). */
  private pump(now: number, idealNow: number | undefined): void {
    // Timers fire up to ~1 ms before their grid time (libuv counts whole milliseconds, from a time
    // cached per loop iteration). Judged by that early `now`, a frame due at this grid point would
    // wait a whole tick and go out 20 ms late; judge what is due by the time the tick stands for.
    const due = idealNow !== undefined && idealNow > now ? idealNow : now;
    while (this.head < this.items.length) {
      const item = this.items[this.head] as Buffer | string;
      if (typeof item === 'string') {
        this.sendMark(item, now);
        continue;
      }
      // Send while what Twilio holds would drop to the lead or below before the next chance.
      if (this.bufferedUntil - due > this.leadMs) break;
      this.sendFrame(now, idealNow);
    }
    this.compact();
    const waiting = this.head < this.items.length;
    if (waiting) this.ticker.add(this);
    else this.ticker.remove(this);
  }

  private sendMark(name: string, now: number): void {
    this.head++;
    this.offset = 0;
    // Forget marks that have certainly played, so the list stays as short as what is in flight.
    if (this.sentMarks.length > 0) this.sentMarks = this.sentMarks.filter((m) => m.playEndAt > now);
    this.sentMarks.push({ name, playEndAt: Math.max(this.bufferedUntil, now) });
    this.marksSent++;
    this.send(this.encoder.mark(name));
  }

  /** Sends one message: `frameBytes`, or less where the audio stops short of a mark or runs out. */
  private sendFrame(now: number, idealNow: number | undefined): void {
    const first = this.items[this.head] as Buffer;
    const inFirst = first.length - this.offset;
    let bytes: number;
    let readyAt: number;
    let json: string;
    if (inFirst >= this.frameBytes) {
      bytes = this.frameBytes;
      readyAt = this.readyAt[this.head] as number;
      json = this.encoder.media(first, this.offset, this.offset + bytes);
      this.offset += bytes;
      if (this.offset === first.length) this.advance();
    } else {
      // Measure the contiguous audio up to the next mark, then gather it into one message.
      let avail = 0;
      for (let i = this.head; i < this.items.length && avail < this.frameBytes; i++) {
        const it = this.items[i];
        if (typeof it === 'string') break;
        avail += (it as Buffer).length - (i === this.head ? this.offset : 0);
      }
      // Short of a whole message, and the message is due (pump only gets here when Twilio holds no
      // more than the lead): send what there is. Waiting for the next chunk would eat into the lead
      // that absorbs network jitter; holding a tail until Twilio ran dry is what made tails late.
      bytes = Math.min(avail, this.frameBytes);
      readyAt = 0;
      let filled = 0;
      while (filled < bytes) {
        const buf = this.items[this.head] as Buffer;
        const take = Math.min(bytes - filled, buf.length - this.offset);
        buf.copy(this.staging, filled, this.offset, this.offset + take);
        readyAt = this.readyAt[this.head] as number;
        filled += take;
        this.offset += take;
        if (this.offset === buf.length) this.advance();
      }
      json = this.encoder.media(this.staging, 0, bytes);
    }

    this.queuedBytes -= bytes;
    this.record(now, idealNow, readyAt);
    this.bufferedUntil = Math.max(this.bufferedUntil, now) + bytes / BYTES_PER_MS;
    this.framesSent++;
    this.bytesSent += bytes;
    this.send(json);
  }

  private advance(): void {
    this.head++;
    this.offset = 0;
  }

  /**
   * Due time = when the lead would have fallen to `leadMs` without this frame, or when its audio
   * arrived if later. On ticks it is rounded up to the tick grid, so normal operation measures
   * only timer lateness, while a blocked event loop shows up as whole missed ticks.
   */
  private record(now: number, idealNow: number | undefined, readyAt: number): void {
    let due = Math.max(readyAt, this.bufferedUntil - this.leadMs);
    // Off a tick (new audio or a mark), the frame would otherwise have gone on the next tick
    // at or after its due time: that grid point is the reference, so going early is not lateness.
    const grid = idealNow ?? this.ticker.nextTickAt;
    if (grid !== undefined && due <= grid) {
      const period = this.ticker.periodMs;
      due = grid - Math.floor((grid - due) / period) * period;
    }
    const lateness = Math.max(0, now - due);
    const late = lateness > this.lateAfterMs;
    if (late) this.lateFrames++;
    processLateness.add(lateness, late);
    if (lateness > this.maxLatenessMs) this.maxLatenessMs = lateness;
    if (this.jitter.length > 0) this.jitter[this.jitterCount % this.jitter.length] = lateness;
    this.jitterCount++;
    this.onFrame?.(lateness);
  }

  /** Drops consumed entries now and then, so a long answer does not pin every chunk it used. */
  private compact(): void {
    if (this.head === this.items.length) {
      if (this.head > 0) {
        this.items.length = 0;
        this.readyAt.length = 0;
        this.head = 0;
      }
    } else if (this.head >= 32) {
      this.items.splice(0, this.head);
      this.readyAt.splice(0, this.head);
      this.head = 0;
    }
  }
}
