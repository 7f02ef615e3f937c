/**
 * Per-turn latency marks (performance.now based): the caller's speech stopping, the model's first
 * token, the TTS first byte and the first audio frame out, recorded for the call and observed in the
 * turn latency histogram (DESIGN.md § Performance).
 */
import type { Metrics } from '../platform/metrics';
import type { TurnLatency } from './ports';

export class LatencyMeter {
  readonly #turns: TurnLatency[];
  readonly #d: { metrics?: Metrics };
  #speechStoppedAt: number | null = null;
  #t0 = 0;
  #current: TurnLatency | null = null;

  /** `turns` receives one record per answered turn; `deps.metrics` is read as each figure comes. */
  constructor(turns: TurnLatency[], deps: { metrics?: Metrics }) {
    this.#turns = turns;
    this.#d = deps;
  }

  speechStarted(): void {
    this.#speechStoppedAt = null;
  }

  speechStopped(): void {
    this.#speechStoppedAt = performance.now();
  }

  /** A turn's reply starts now: its speech-to-text time runs from when the caller stopped speaking. */
  start(): void {
    this.#t0 = performance.now();
    this.#current = {
      sttMs: this.#speechStoppedAt !== null ? Math.max(0, this.#t0 - this.#speechStoppedAt) : null,
      llmFirstTokenMs: null,
      ttsFirstByteMs: null,
      firstFrameMs: null,
      totalMs: null,
    };
    this.#turns.push(this.#current);
    this.#speechStoppedAt = null;
  }

  /**
   * Another turn took over (a barge-in, a key, an announcement): the reply that was timing has no
   * first frame, and the next audio is not its.
   */
  close(): void {
    this.#current = null;
  }

  /** The model streamed something; only the turn's first token counts. */
  firstToken(): void {
    if (this.#current && this.#current.llmFirstTokenMs === null) {
      this.#current.llmFirstTokenMs = performance.now() - this.#t0;
      this.#d.metrics?.turnLatency.observe(
        { stage: 'llm_first_token' },
        this.#current.llmFirstTokenMs / 1000,
      );
    }
  }

  firstAudio(ttsFirstByteMs: number | null): void {
    const cur = this.#current;
    if (!cur || cur.firstFrameMs !== null) return;
    const now = performance.now();
    cur.firstFrameMs = now - this.#t0;
    cur.ttsFirstByteMs = ttsFirstByteMs;
    cur.totalMs = cur.firstFrameMs + (cur.sttMs ?? 0);
    const h = this.#d.metrics?.turnLatency;
    if (h) {
      if (cur.sttMs !== null) h.observe({ stage: 'stt' }, cur.sttMs / 1000);
      if (ttsFirstByteMs !== null) h.observe({ stage: 'tts_first_byte' }, ttsFirstByteMs / 1000);
      h.observe({ stage: 'first_frame' }, cur.firstFrameMs / 1000);
      h.observe({ stage: 'total' }, cur.totalMs / 1000);
    }
  }
}
