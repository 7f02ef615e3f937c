/**
 * The caller's side of the line as Twilio streams it: one 20 ms frame per tick from the moment
 * the stream starts, utterances when queued and silence between them (or nothing, when not
 * continuous). Frames keep media timing: after a late tick the missed frames go out at once.
 */
import { FRAME_BYTES, FRAME_MS, MULAW_SILENCE } from '../../server/telephony/mulaw';
import type { FrameTicker, Tickable } from '../../server/telephony/ticker';

const SILENCE_B64 = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE).toString('base64');

export interface Utterance {
  readonly label: string;
  /** When its first frame was sent (undefined until then). */
  startAt: number | undefined;
  /** When its last frame was sent. */
  endAt: number | undefined;
}

/** One inbound frame: base64 payload plus Twilio's `chunk` and `timestamp` strings. */
export type EmitFrame = (payload: string, chunk: string, timestamp: string) => void;

/** After each frame: how far behind its place on the media timeline it went out (ms, ≥ 0). */
export type OnFrameSent = (lagMs: number) => void;

interface Queued {
  readonly audio: Buffer;
  offset: number;
  readonly utterance: Utterance;
  readonly done: () => void;
}

export class CallerMic implements Tickable {
  readonly utterances: Utterance[] = [];
  private readonly frame = Buffer.alloc(FRAME_BYTES);
  private queue: Queued[] = [];
  private chunk = 0;
  private startAt = 0;
  private nextFrameAt = 0;
  private live = false;

  constructor(
    private readonly ticker: FrameTicker,
    private readonly continuous: boolean,
    private readonly emit: EmitFrame,
    private readonly onSent?: OnFrameSent,
  ) {}

  start(): void {
    this.startAt = this.ticker.clock.now();
    this.nextFrameAt = this.startAt;
    this.live = true;
    if (this.continuous) this.ticker.add(this);
  }

  /** Queues mu-law to be spoken after anything already queued; resolves after its last frame. */
  speak(audio: Buffer, label: string): Promise<Utterance> {
    const utterance: Utterance = { label, startAt: undefined, endAt: undefined };
    if (!this.live) return Promise.reject(new Error('stream not started'));
    return new Promise((resolve) => {
      // A non-continuous stream was idle: its next frame is due now, not at a stale time.
      if (!this.ticker.has(this)) this.nextFrameAt = Math.max(this.nextFrameAt, this.ticker.clock.now());
      this.queue.push({ audio, offset: 0, utterance, done: () => resolve(utterance) });
      this.utterances.push(utterance);
      this.ticker.add(this);
    });
  }

  /** Stops sending; queued speech is abandoned and its promises resolve. */
  stop(): void {
    this.live = false;
    this.ticker.remove(this);
    for (const q of this.queue.splice(0)) q.done();
  }

  onTick(now: number, idealNow: number = now): void {
    // Timers fire up to ~1 ms before their grid time (libuv counts whole milliseconds): judged by
    // that early `now`, the frame due at this grid point would wait a whole tick and then go out
    // with the next one, a pair every so often where Twilio sends one frame every 20 ms.
    const due = Math.max(now, idealNow);
    while (this.live && this.nextFrameAt <= due) {
      if (!this.sendFrame(now)) {
        this.ticker.remove(this);
        return;
      }
      this.nextFrameAt += FRAME_MS;
    }
  }

  private sendFrame(now: number): boolean {
    const current = this.queue[0];
    let payload: string;
    if (current !== undefined) {
      if (current.offset === 0) current.utterance.startAt = now;
      const n = Math.min(FRAME_BYTES, current.audio.length - current.offset);
      current.audio.copy(this.frame, 0, current.offset, current.offset + n);
      // Twilio's frames are always 20 ms: the tail of an utterance is padded with silence.
      if (n < FRAME_BYTES) this.frame.fill(MULAW_SILENCE, n);
      current.offset += n;
      payload = this.frame.toString('base64');
      if (current.offset >= current.audio.length) {
        this.queue.shift();
        current.utterance.endAt = now;
        current.done();
      }
    } else if (this.continuous) {
      payload = SILENCE_B64;
    } else {
      return false;
    }
    this.chunk++;
    this.emit(payload, String(this.chunk), String(Math.round(this.nextFrameAt - this.startAt)));
    this.onSent?.(Math.max(0, now - this.nextFrameAt));
    return true;
  }
}
