/**
 * One drift-corrected 20 ms timer shared by every pacer in the process. A timer per call would
 * mean 500 timers waking independently (more wake-ups, more jitter); one timer visits only the
 * pacers that have audio queued, so idle calls cost nothing. The timer is unref'd and stops
 * itself when nothing is registered.
 */

/** Monotonic milliseconds plus timers; injectable so pacing tests run on a fake clock. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, ms: number): unknown => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
});

export interface Tickable {
  /** `idealNow` is the grid time this tick stands for (≤ `now`); the difference is timer lateness. */
  onTick(now: number, idealNow: number): void;
}

export interface TickerOptions {
  readonly clock?: Clock;
  readonly periodMs?: number;
  /** A member that throws is removed (so one broken call cannot stall the others) and reported here. */
  readonly onError?: (err: unknown, member: Tickable) => void;
}

export interface TickerStats {
  readonly ticks: number;
  /** Grid points skipped because the event loop was blocked for more than a period. */
  readonly missedTicks: number;
  readonly maxLatenessMs: number;
}

export class FrameTicker {
  readonly clock: Clock;
  readonly periodMs: number;
  private readonly members = new Set<Tickable>();
  private readonly onError: ((err: unknown, member: Tickable) => void) | undefined;
  private handle: unknown = undefined;
  private nextAt = 0;
  private ticks = 0;
  private missedTicks = 0;
  private maxLatenessMs = 0;
  private inTick = false;
  private readonly run = (): void => this.tick();

  constructor(opts: TickerOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.periodMs = opts.periodMs ?? 20;
    this.onError = opts.onError;
  }

  get size(): number {
    return this.members.size;
  }

  get stats(): TickerStats {
    return { ticks: this.ticks, missedTicks: this.missedTicks, maxLatenessMs: this.maxLatenessMs };
  }

  /** The grid time the pending tick stands for; undefined while stopped or inside a tick. */
  get nextTickAt(): number | undefined {
    return this.handle === undefined ? undefined : this.nextAt;
  }

  has(member: Tickable): boolean {
    return this.members.has(member);
  }

  add(member: Tickable): void {
    if (this.members.has(member)) return;
    this.members.add(member);
    if (this.handle === undefined && !this.inTick) {
      this.nextAt = this.clock.now() + this.periodMs;
      this.handle = this.clock.setTimeout(this.run, this.periodMs);
    }
  }

  remove(member: Tickable): void {
    this.members.delete(member);
    if (this.members.size === 0) this.stop();
  }

  /**
   * Runs the pending tick now if its grid time has passed. Timers run only between the event loop's
   * polls for I/O, and one poll can hand over hundreds of socket reads, each with many messages when
   * senders burst (at 500 calls the load test's callers fall behind and catch up). The media
   * socket's message handler calls this first, so a due frame waits for one message's work instead
   * of the whole batch. Costs one clock read per message when nothing is due.
   */
  poll(): void {
    if (this.handle === undefined || this.inTick || this.clock.now() < this.nextAt) return;
    this.clock.clearTimeout(this.handle);
    this.tick();
  }

  /** Drops every member and the timer. */
  close(): void {
    this.members.clear();
    this.stop();
  }

  private stop(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
  }

  private tick(): void {
    this.handle = undefined;
    const now = this.clock.now();
    // After a blocked loop, stand for the latest grid point instead of replaying every missed one:
    // members catch up by their own due-time arithmetic.
    const behind = Math.max(0, Math.floor((now - this.nextAt) / this.periodMs));
    const idealNow = this.nextAt + behind * this.periodMs;
    this.ticks++;
    this.missedTicks += behind;
    const lateness = now - this.nextAt;
    if (lateness > this.maxLatenessMs) this.maxLatenessMs = lateness;

    this.inTick = true;
    for (const member of this.members) {
      try {
        // Each member's own send time: hundreds of sends in one tick spread over milliseconds.
        member.onTick(this.clock.now(), idealNow);
      } catch (err) {
        this.members.delete(member);
        try {
          this.onError?.(err, member);
        } catch {
          // A failing error reporter must not stop the clock for every other call.
        }
      }
    }
    this.inTick = false;

    if (this.members.size === 0) return;
    this.nextAt = idealNow + this.periodMs;
    const delay = Math.max(0, this.nextAt - this.clock.now());
    this.handle = this.clock.setTimeout(this.run, delay);
  }
}

let shared: FrameTicker | undefined;

/** The process-wide ticker used by pacers that are not given one. */
export function sharedTicker(): FrameTicker {
  shared ??= new FrameTicker();
  return shared;
}
