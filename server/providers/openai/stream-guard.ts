/**
 * One AbortController per provider request, aborted by the caller's signal or by an idle timer. A
 * stalled upstream (headers never come, or chunks stop) otherwise holds a call turn forever; the
 * idle timer turns that into a retryable error the caller can fail over on. Until the first sign
 * of progress a shorter wait may apply (`firstMs`): a model that has not started answering in a
 * few seconds is better retried than waited for, while gaps between later chunks may be longer.
 * Vendor-neutral: the ElevenLabs adapter uses it too.
 */
export class StreamGuard {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal;
  readonly #idleMs: number;
  readonly #onCallerAbort = () => this.#controller.abort(this.#caller.reason);
  #timer: NodeJS.Timeout | undefined;
  #idled = false;
  #completed = false;
  /** Still waiting for the first progress, on the `firstMs` timer. */
  #first: boolean;

  constructor(caller: AbortSignal, idleMs: number, firstMs: number = idleMs) {
    this.#caller = caller;
    this.#idleMs = idleMs;
    this.#first = firstMs !== idleMs;
    if (caller.aborted) this.#controller.abort(caller.reason);
    else caller.addEventListener('abort', this.#onCallerAbort, { once: true });
    this.#arm(firstMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True when the caller cancelled: adapters end quietly instead of reporting an error. */
  get cancelledByCaller(): boolean {
    return this.#caller.aborted;
  }

  get idled(): boolean {
    return this.#idled;
  }

  /** Call on every sign of progress (every chunk: re-arms one timer rather than making a new one). */
  touch(): void {
    if (this.#controller.signal.aborted) return;
    if (this.#first) {
      this.#first = false;
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#timer) {
      this.#timer.refresh();
      return;
    }
    this.#arm(this.#idleMs);
  }

  #arm(ms: number): void {
    if (this.#controller.signal.aborted) return;
    this.#timer = setTimeout(() => {
      this.#idled = true;
      this.#controller.abort(new Error('provider stream idle'));
    }, ms);
  }

  /** The response was read to its end: nothing is left to tear down, so dispose() need not abort. */
  complete(): void {
    this.#completed = true;
  }

  /**
   * Releases the timer and listener, and aborts the request unless it completed: a consumer that
   * stopped early (barge-in, a bound tripped) must not leave the response streaming. Aborting a
   * finished request would only cost an abort event through the SDK's and the transport's listeners.
   */
  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#caller.removeEventListener('abort', this.#onCallerAbort);
    if (!this.#completed && !this.#controller.signal.aborted)
      this.#controller.abort(new Error('provider stream finished'));
  }
}
