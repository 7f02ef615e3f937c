/**
 * Twilio's outbound playback buffer, emulated: audio plays at 8 bytes/ms from the moment it
 * arrives (or when the audio before it ends); a mark is echoed once the audio sent before it has
 * played; `clear` empties the buffer and echoes every pending mark at once (PROTOCOLS.md §1.2).
 */
import type { Clock } from '../../server/telephony/ticker';

interface PendingMark {
  readonly name: string;
  readonly dueAt: number;
}

export interface PlaybackOptions {
  readonly clock: Clock;
  /** Called when Twilio would send the mark back; `cleared` when it came back because of a clear. */
  readonly echo: (name: string, cleared: boolean) => void;
}

export class TwilioPlayback {
  private readonly clock: Clock;
  private readonly echo: (name: string, cleared: boolean) => void;
  private chunks: Buffer[] = [];
  private storedBytes = 0;
  private playEndAt = 0;
  private receivedBytes = 0;
  private clearedBytes = 0;
  private pending: PendingMark[] = [];
  private timer: unknown = undefined;
  private closed = false;

  constructor(opts: PlaybackOptions) {
    this.clock = opts.clock;
    this.echo = opts.echo;
  }

  onMedia(audio: Buffer): void {
    if (this.closed) return;
    const now = this.clock.now();
    this.chunks.push(audio);
    this.storedBytes += audio.length;
    this.receivedBytes += audio.length;
    this.playEndAt = Math.max(this.playEndAt, now) + audio.length / 8;
  }

  onMark(name: string): void {
    if (this.closed) return;
    const now = this.clock.now();
    // "…or if there is no audio buffered": echoed straight away.
    if (this.pending.length === 0 && this.playEndAt <= now) {
      this.echo(name, false);
      return;
    }
    this.pending.push({ name, dueAt: Math.max(this.playEndAt, now) });
    this.schedule();
  }

  onClear(): void {
    if (this.closed) return;
    const now = this.clock.now();
    const unplayedBytes = Math.max(0, Math.round((this.playEndAt - now) * 8));
    this.truncate(unplayedBytes);
    this.clearedBytes += unplayedBytes;
    this.playEndAt = now;
    this.cancelTimer();
    const marks = this.pending;
    this.pending = [];
    for (const m of marks) this.echo(m.name, true);
  }

  /** Audio still waiting to play (ms). */
  get bufferedMs(): number {
    return Math.max(0, this.playEndAt - this.clock.now());
  }

  /** Audio received from the server (ms), whether or not it played. */
  get receivedMs(): number {
    return this.receivedBytes / 8;
  }

  /** Audio the caller has actually heard by now (ms). */
  get heardMs(): number {
    return (this.receivedBytes - this.clearedBytes) / 8 - this.bufferedMs;
  }

  get pendingMarks(): string[] {
    return this.pending.map((m) => m.name);
  }

  /** Everything that played or is still due to play (cleared audio removed). */
  audio(): Buffer {
    return Buffer.concat(this.chunks, this.storedBytes);
  }

  close(): void {
    this.closed = true;
    this.cancelTimer();
    this.pending = [];
  }

  private truncate(bytes: number): void {
    let left = bytes;
    while (left > 0 && this.chunks.length > 0) {
      const last = this.chunks[this.chunks.length - 1] as Buffer;
      if (last.length <= left) {
        this.chunks.pop();
        left -= last.length;
        this.storedBytes -= last.length;
      } else {
        this.chunks[this.chunks.length - 1] = last.subarray(0, last.length - left);
        this.storedBytes -= left;
        left = 0;
      }
    }
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const head = this.pending[0];
    if (head === undefined) return;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, head.dueAt - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.pending.length > 0 && (this.pending[0] as PendingMark).dueAt <= now) {
      const m = this.pending.shift() as PendingMark;
      this.echo(m.name, false);
    }
    this.schedule();
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
