/**
 * Gives the C heap's free memory back to the system when the server goes idle.
 *
 * glibc keeps what calls freed (socket buffers, the backing stores of dead ArrayBuffers once V8's
 * GC has run) in its arenas, and returns only what sits at the top of the heap. After a busy hour
 * that is several MB per process that the next quiet night never gives back. `malloc_trim(0)`
 * returns every free page, but Node has no FFI: native/malloc_trim.c is the addon (built by `npm
 * install`; the trim runs on libuv's thread pool, not on the event loop, though a malloc of the
 * loop's waits while the trim holds that arena's lock). Without it, nothing is trimmed and the
 * server says so once at start.
 *
 * When: `delayMs` after the last call ends, and again shortly after each full GC while idle (V8's
 * memory reducer runs one once the process has been idle a while, and that GC is what frees the
 * dead buffers). Never while a call is live: trimming takes the allocator's locks.
 *
 * V8's own spare pages are not reachable from here: Node 20 has no call for a memory-pressure
 * notification, and `gc()` with options (`{ type: 'major', flavor: 'last-resort' }`) runs a
 * scavenge on its V8 (measured: GC kind minor), not the memory reducer's full GC.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import type { Logger } from './logger';

export interface NativeTrim {
  /** true when memory went back to the system. */
  trim(): Promise<boolean>;
  /** false where the C library has no malloc_trim (musl, macOS): trim() then does nothing. */
  readonly supported: boolean;
}

/** After a full GC while idle, wait this long before trimming (GCs come in runs). */
const AFTER_GC_MS = 1_000;

const ADDON = ['native', 'build', 'Release', 'malloc_trim.node'];

/**
 * The addon from native/build (next to server/ when run from source, next to dist/ when built).
 * `onError` hears why a built addon would not load (another architecture, a missing symbol); not
 * finding it at one of the two depths is no error.
 */
export function loadNativeTrim(onError?: (err: unknown) => void): NativeTrim | null {
  const require = createRequire(__filename);
  for (const up of [
    ['..', '..'],
    ['..', '..', '..'],
  ]) {
    try {
      const addon = require(path.resolve(__dirname, ...up, ...ADDON)) as NativeTrim;
      return addon.supported ? addon : null;
    } catch (err) {
      if ((err as { code?: string }).code !== 'MODULE_NOT_FOUND') onError?.(err);
    }
  }
  return null;
}

export interface TrimCounters {
  inc(labels: { released: 'yes' | 'no' }): void;
}

export class IdleTrim {
  readonly #trim: (() => Promise<boolean>) | null;
  readonly #delayMs: number;
  readonly #log: Logger;
  readonly #counted: TrimCounters | undefined;
  readonly #released: { inc(n: number): void } | undefined;
  #idle = false;
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #observer: PerformanceObserver | null = null;
  #closed = false;

  constructor(opts: {
    /** null: nothing to call (addon not built, or trimming turned off). */
    trim: (() => Promise<boolean>) | null;
    delayMs: number;
    log: Logger;
    metrics?: { trims: TrimCounters; releasedBytes: { inc(n: number): void } };
  }) {
    this.#trim = opts.delayMs > 0 ? opts.trim : null;
    this.#delayMs = opts.delayMs;
    this.#log = opts.log;
    this.#counted = opts.metrics?.trims;
    this.#released = opts.metrics?.releasedBytes;
  }

  get enabled(): boolean {
    return this.#trim !== null;
  }

  /** This process now holds `n` calls. */
  calls(n: number): void {
    if (!this.#trim || this.#closed) return;
    if (n > 0) {
      if (!this.#idle) return;
      this.#idle = false;
      this.#cancel();
      this.#observer?.disconnect();
      this.#observer = null;
      return;
    }
    if (this.#idle) return;
    this.#idle = true;
    this.#schedule(this.#delayMs);
    this.#observer = new PerformanceObserver((list) => {
      if (list.getEntries().some(isFullGc)) this.#schedule(AFTER_GC_MS);
    });
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  close(): void {
    this.#closed = true;
    this.#idle = false;
    this.#cancel();
    this.#observer?.disconnect();
    this.#observer = null;
  }

  #schedule(ms: number): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#run();
    }, ms);
    this.#timer.unref();
  }

  #cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #run(): Promise<void> {
    if (!this.#trim || !this.#idle || this.#running) return;
    this.#running = true;
    const before = process.memoryUsage.rss();
    try {
      const released = await this.#trim();
      const freed = Math.max(0, before - process.memoryUsage.rss());
      this.#counted?.inc({ released: released ? 'yes' : 'no' });
      if (released) this.#released?.inc(freed);
      this.#log.debug({ released, rssFreedBytes: freed }, 'idle: malloc_trim');
    } catch (err) {
      this.#log.warn({ err }, 'idle: malloc_trim failed');
    } finally {
      this.#running = false;
    }
  }
}

function isFullGc(e: PerformanceEntry): boolean {
  const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
  return kind === constants.NODE_PERFORMANCE_GC_MAJOR;
}
