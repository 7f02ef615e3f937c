/**
 * G.711 mu-law (PCMU), the classic Sun/Linux encoder (BIAS 0x84, CLIP 32635). Twilio speaks only
 * this at 8 kHz, so every non-mu-law TTS source must pass through here. Vectors: PROTOCOLS.md §4.
 */

const BIAS = 0x84;
const CLIP = 32635;

/** Decoding is a pure table lookup: 256 entries, built once (linear 16-bit value of each code). */
export const DECODE_TABLE: Int16Array = (() => {
  const table = new Int16Array(256);
  for (let code = 0; code < 256; code++) {
    const u = ~code & 0xff;
    const exp = (u >> 4) & 0x07;
    const magnitude = (((u & 0x0f) << 3) + BIAS) * (1 << exp) - BIAS;
    table[code] = u & 0x80 ? -magnitude : magnitude;
  }
  return table;
})();

/** Encodes one signed 16-bit sample (values outside the range are clamped first). */
export function mulawEncodeSample(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exp = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exp > 0; mask >>= 1) exp--;
  const mantissa = (s >> (exp + 3)) & 0x0f;
  return ~(sign | (exp << 4) | mantissa) & 0xff;
}

export function mulawDecodeSample(code: number): number {
  return DECODE_TABLE[code & 0xff] ?? 0;
}

/** Square of each decoded sample, so frame energy is 160 table reads and adds, no multiplies. */
const SQUARE_TABLE = Float64Array.from(DECODE_TABLE, (v) => v * v);

/** Mean square of the decoded samples of `frame[start, end)` (0 when empty): a frame's energy. */
export function mulawMeanSquare(frame: Uint8Array, start = 0, end = frame.length): number {
  if (end <= start) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) sum += SQUARE_TABLE[frame[i] as number] as number;
  return sum / (end - start);
}

export function mulawEncode(samples: ArrayLike<number>): Buffer {
  const out = Buffer.allocUnsafe(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = mulawEncodeSample(samples[i] ?? 0);
  return out;
}

export function mulawDecode(mulaw: Uint8Array): Int16Array {
  const out = new Int16Array(mulaw.length);
  for (let i = 0; i < mulaw.length; i++) out[i] = DECODE_TABLE[mulaw[i] ?? 0xff] ?? 0;
  return out;
}

/** 0xFF is +0: what Twilio and every reference implementation use for silence. */
export const MULAW_SILENCE = 0xff;
