import { mulawDecode } from '../../../server/platform/g711';
import { Pcm24kToMulaw8k } from '../../../server/providers/openai/resample';

function tone24k(freq: number, amplitude: number, ms: number): Buffer {
  const n = 24 * ms;
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++)
    out.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / 24000)), i * 2);
  return out;
}

function rms(samples: Int16Array, skip: number): number {
  let sum = 0;
  for (let i = skip; i < samples.length; i++) sum += (samples[i] ?? 0) ** 2;
  return Math.sqrt(sum / (samples.length - skip));
}

describe('24 kHz PCM to 8 kHz mu-law', () => {
  it('keeps a voice-band tone at its level and frequency, one output sample per three inputs', () => {
    const out = mulawDecode(new Pcm24kToMulaw8k().push(tone24k(1000, 8000, 100)));
    expect(out.length).toBe(800);
    // A sine of amplitude A has RMS A/√2; allow the filter's passband ripple and mu-law's quantisation.
    expect(rms(out, 20)).toBeGreaterThan((8000 / Math.SQRT2) * 0.9);
    expect(rms(out, 20)).toBeLessThan((8000 / Math.SQRT2) * 1.1);
    let upward = 0;
    for (let i = 21; i < out.length; i++) if ((out[i - 1] ?? 0) < 0 && (out[i] ?? 0) >= 0) upward++;
    // One upward zero crossing per cycle: 1 kHz over the 97.5 ms after warm-up.
    expect(upward).toBeGreaterThanOrEqual(96);
    expect(upward).toBeLessThanOrEqual(98);
  });

  it('removes content above the 4 kHz output Nyquist instead of aliasing it', () => {
    const out = mulawDecode(new Pcm24kToMulaw8k().push(tone24k(7000, 8000, 100)));
    expect(rms(out, 20)).toBeLessThan(8000 * 0.05);
  });

  it('gives the same bytes however the input is split, odd byte boundaries included', () => {
    const input = tone24k(440, 12000, 50);
    const whole = new Pcm24kToMulaw8k().push(input);
    const split = new Pcm24kToMulaw8k();
    const parts: Buffer[] = [];
    for (let i = 0; i < input.length; i += 333) parts.push(split.push(input.subarray(i, i + 333)));
    expect(Buffer.concat(parts).equals(whole)).toBe(true);
  });
});
