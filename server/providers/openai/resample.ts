/**
 * 24 kHz 16-bit little-endian PCM (OpenAI TTS `pcm`) → 8 kHz mu-law (Twilio). Plain decimation by 3
 * would fold everything between 4 and 12 kHz back into the voice band as hiss, so a windowed-sinc
 * low-pass runs first. Streaming: chunks may split samples (odd byte counts) and filter state carries.
 */
import { mulawEncodeSample } from '../../platform/g711';

const FACTOR = 3;
const TAPS = 31;
/** Just under the 4 kHz Nyquist of the output: a telephone channel carries ~300–3400 Hz anyway. */
const CUTOFF_HZ = 3600;
const INPUT_RATE = 24000;

const FILTER: Float64Array = (() => {
  const h = new Float64Array(TAPS);
  const fc = CUTOFF_HZ / INPUT_RATE;
  const mid = (TAPS - 1) / 2;
  let sum = 0;
  for (let n = 0; n < TAPS; n++) {
    const x = n - mid;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const hamming = 0.54 - 0.46 * Math.cos((2 * Math.PI * n) / (TAPS - 1));
    h[n] = sinc * hamming;
    sum += sinc * hamming;
  }
  // Unity gain at DC so levels are preserved.
  for (let n = 0; n < TAPS; n++) h[n] = (h[n] ?? 0) / sum;
  return h;
})();

export class Pcm24kToMulaw8k {
  /** Ring of the last TAPS input samples. */
  readonly #ring = new Float64Array(TAPS);
  #pos = 0;
  #phase = 0;
  #oddByte: number | undefined;

  /** Returns the mu-law bytes this chunk completes (possibly empty). */
  push(pcm: Uint8Array): Buffer {
    let offset = 0;
    const out: number[] = [];
    if (this.#oddByte !== undefined && pcm.length > 0) {
      this.#sample(((pcm[0] ?? 0) << 8) | this.#oddByte, out);
      this.#oddByte = undefined;
      offset = 1;
    }
    for (; offset + 1 < pcm.length; offset += 2) {
      this.#sample(((pcm[offset + 1] ?? 0) << 8) | (pcm[offset] ?? 0), out);
    }
    if (offset < pcm.length) this.#oddByte = pcm[offset];
    return Buffer.from(out);
  }

  #sample(u16: number, out: number[]): void {
    this.#ring[this.#pos] = u16 >= 0x8000 ? u16 - 0x10000 : u16;
    if (this.#phase === 0) {
      let acc = 0;
      for (let k = 0; k < TAPS; k++) {
        acc += (FILTER[k] ?? 0) * (this.#ring[(this.#pos - k + TAPS) % TAPS] ?? 0);
      }
      out.push(mulawEncodeSample(acc));
    }
    this.#phase = (this.#phase + 1) % FACTOR;
    this.#pos = (this.#pos + 1) % TAPS;
  }
}
