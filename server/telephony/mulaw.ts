/**
 * G.711 mu-law tables and a per-frame speech detector for barge-in.
 *
 * CONTRACT.md: caller speech shorter than 800 ms never interrupts, longer speech must produce a
 * `clear` within 1.5 s of its start — so the product measures speech on the inbound audio itself
 * rather than waiting for the STT provider's VAD events, which may lag or stop arriving.
 */

import { DECODE_TABLE, mulawEncodeSample, mulawMeanSquare as frameMeanSquare } from '../platform/g711';

export { MULAW_SILENCE } from '../platform/g711';

/** 20 ms of mu-law at 8 kHz. */
export const FRAME_BYTES = 160;
export const FRAME_MS = 20;
export const BYTES_PER_MS = 8;

/** Linear 16-bit value of each mu-law code (matches CPython audioop.ulaw2lin for all 256 codes). */
export { DECODE_TABLE as MULAW_DECODE };

/** Classic (Sun/Linux) encoder; used by tests and tools to synthesise audio, not on the hot path. */
export { mulawEncodeSample as encodeMulaw };

/** Mean square of the decoded samples of `frame[start, end)`. */
export { frameMeanSquare };

/** Frame level in dB relative to one LSB of 16-bit audio (full-scale sine ≈ 87 dB, silence 0). */
export function frameLevelDb(frame: Uint8Array, start = 0, end = frame.length): number {
  return 10 * Math.log10(frameMeanSquare(frame, start, end) + 1);
}

/** A headerless mu-law stream wrapped as a WAV file (WAVE_FORMAT_MULAW = 7, 8 kHz mono). */
export function mulawToWav(audio: Uint8Array): Buffer {
  // Non-PCM formats carry an 18-byte fmt chunk (with cbSize) and a fact chunk with the sample count.
  const header = Buffer.alloc(58);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(50 + audio.length + (audio.length & 1), 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(18, 16);
  header.writeUInt16LE(7, 20); // format: mu-law
  header.writeUInt16LE(1, 22); // channels
  header.writeUInt32LE(8000, 24); // sample rate
  header.writeUInt32LE(8000, 28); // byte rate
  header.writeUInt16LE(1, 32); // block align
  header.writeUInt16LE(8, 34); // bits per sample
  header.writeUInt16LE(0, 36); // cbSize
  header.write('fact', 38, 'ascii');
  header.writeUInt32LE(4, 42);
  header.writeUInt32LE(audio.length, 46);
  header.write('data', 50, 'ascii');
  header.writeUInt32LE(audio.length, 54);
  const pad = audio.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0);
  return Buffer.concat([header, audio, pad]);
}

export const SpeechEvent = {
  /** Nothing changed. */
  None: 0,
  /** A run of speech began on this frame. */
  Start: 1,
  /** The current run has just reached `minSpeechMs`: reported once per run. */
  Sustained: 2,
  /** The run ended: more than `hangoverMs` without a voiced frame. */
  End: 3,
} as const;
export type SpeechEvent = (typeof SpeechEvent)[keyof typeof SpeechEvent];

export interface SpeechDetectorOptions {
  /** Speech must last this long before it counts as an interruption. */
  readonly minSpeechMs?: number;
  /** Gaps between syllables and words (fixtures: up to 160 ms) must not end a run. */
  readonly hangoverMs?: number;
  /** Absolute floor for a voiced frame. Fixture speech sits at 45–79 dB, line silence at ~12 dB. */
  readonly minLevelDb?: number;
  /** A voiced frame must also be this far above the tracked noise floor (steady hiss, road noise). */
  readonly marginDb?: number;
  /**
   * The noise floor is the quietest frame within this window. Speech always has a quieter frame
   * within ~1.5 s (pauses between words), a steady noise bed does not, so a noisy line stops
   * counting as speech within this time — including at the start of a call.
   */
  readonly noiseWindowMs?: number;
  /**
   * Below this level, outside a run, a frame is `quiet`: surely no speech, so nothing downstream
   * waits on it (the STT adapter may hold it back to send fewer, larger appends). Kept well under
   * `minLevelDb`, so soft speech that a provider's VAD might still hear never counts as quiet.
   */
  readonly quietLevelDb?: number;
}

const NOISE_BLOCKS = 8;

const dbToPower = (db: number): number => Math.pow(10, db / 10);

/**
 * Energy detector with a windowed-minimum noise floor. Feed it every inbound frame (any length;
 * 20 ms normally); its state is a few numbers and an 8-slot array, and it allocates nothing per frame.
 */
export class SpeechDetector {
  readonly minSpeechMs: number;
  readonly hangoverMs: number;
  private readonly minPower: number;
  private readonly margin: number;
  private readonly quietPower: number;
  private readonly blockMs: number;
  private readonly initialFloor: number;
  /** Minimum power of each recent block: the windowed minimum without keeping every frame. */
  private readonly blockMins = new Float64Array(NOISE_BLOCKS);
  private blockIndex = 0;
  private blockElapsedMs = 0;
  private blockMin = Infinity;
  private windowMin = 0;
  /** Time since the run's first voiced frame; -1 when not in a run. */
  private runMs = -1;
  private silentMs = 0;
  private voicedMs = 0;
  private sustainedReported = false;
  private lastPower = 0;

  constructor(opts: SpeechDetectorOptions = {}) {
    this.minSpeechMs = opts.minSpeechMs ?? 800;
    this.hangoverMs = opts.hangoverMs ?? 200;
    this.minPower = dbToPower(opts.minLevelDb ?? 40);
    this.margin = dbToPower(opts.marginDb ?? 15);
    this.quietPower = dbToPower(opts.quietLevelDb ?? 30);
    this.blockMs = (opts.noiseWindowMs ?? 1600) / NOISE_BLOCKS;
    // Until a window of audio has been seen, assume a clean line so speech at call start counts.
    this.initialFloor = this.minPower / this.margin;
    this.reset();
  }

  /** True while in a run of speech (including the hangover after the last voiced frame). */
  get speaking(): boolean {
    return this.runMs >= 0;
  }

  /** The last frame was below `quietLevelDb` and no run of speech is going on (hangover included). */
  get quiet(): boolean {
    return this.runMs < 0 && this.lastPower < this.quietPower;
  }

  /** True once the current run has reached `minSpeechMs`. */
  get sustained(): boolean {
    return this.sustainedReported;
  }

  /** Length of the current run so far (ms), or 0. */
  get speechMs(): number {
    return this.runMs < 0 ? 0 : this.runMs;
  }

  /** Voiced audio within the current run (ms), excluding bridged gaps. */
  get voicedInRunMs(): number {
    return this.voicedMs;
  }

  get levelDb(): number {
    return 10 * Math.log10(this.lastPower + 1);
  }

  get noiseFloorDb(): number {
    return 10 * Math.log10(this.floor() + 1);
  }

  reset(): void {
    this.runMs = -1;
    this.silentMs = 0;
    this.voicedMs = 0;
    this.sustainedReported = false;
    this.blockMins.fill(this.initialFloor);
    this.windowMin = this.initialFloor;
    this.blockMin = Infinity;
    this.blockElapsedMs = 0;
    this.blockIndex = 0;
  }

  /**
   * Feeds one frame of mu-law (`frame[start, end)`); returns what changed on this frame.
   * `Sustained` is returned instead of `Start` when a single frame is already long enough.
   */
  push(frame: Uint8Array, start = 0, end = frame.length): SpeechEvent {
    const bytes = end - start;
    if (bytes <= 0) return SpeechEvent.None;
    const ms = bytes / BYTES_PER_MS;
    const power = frameMeanSquare(frame, start, end);
    this.lastPower = power;
    // Judged against the floor before this frame joins it: a frame never raises its own bar.
    const voiced = power >= Math.max(this.minPower, this.floor() * this.margin);
    this.trackFloor(power, ms);

    if (this.runMs < 0) {
      if (!voiced) return SpeechEvent.None;
      this.runMs = ms;
      this.voicedMs = ms;
      this.silentMs = 0;
      this.sustainedReported = false;
      return this.checkSustained() ? SpeechEvent.Sustained : SpeechEvent.Start;
    }

    this.runMs += ms;
    if (voiced) {
      this.silentMs = 0;
      this.voicedMs += ms;
      return this.checkSustained() ? SpeechEvent.Sustained : SpeechEvent.None;
    }
    this.silentMs += ms;
    if (this.silentMs > this.hangoverMs) {
      this.runMs = -1;
      this.voicedMs = 0;
      this.sustainedReported = false;
      return SpeechEvent.End;
    }
    return SpeechEvent.None;
  }

  private floor(): number {
    return Math.max(1, Math.min(this.windowMin, this.blockMin));
  }

  private trackFloor(power: number, ms: number): void {
    if (power < this.blockMin) this.blockMin = power;
    this.blockElapsedMs += ms;
    if (this.blockElapsedMs < this.blockMs) return;
    this.blockMins[this.blockIndex] = this.blockMin;
    this.blockIndex = (this.blockIndex + 1) % NOISE_BLOCKS;
    this.blockMin = Infinity;
    this.blockElapsedMs = 0;
    let min = Infinity;
    for (let i = 0; i < NOISE_BLOCKS; i++) min = Math.min(min, this.blockMins[i] as number);
    this.windowMin = min;
  }

  /** Only on a voiced frame: a 700 ms word plus its hangover is not 800 ms of speech. */
  private checkSustained(): boolean {
    if (this.sustainedReported || this.runMs < this.minSpeechMs) return false;
    this.sustainedReported = true;
    return true;
  }
}
