import {
  mulawDecode,
  mulawDecodeSample,
  mulawEncode,
  mulawEncodeSample,
} from '../../../server/platform/g711';

// PROTOCOLS.md §4, verified there against CPython audioop.
const ENCODE_VECTORS: Array<[number, number]> = [
  [0, 0xff],
  [8, 0xfe],
  [-8, 0x7e],
  [100, 0xf2],
  [-100, 0x72],
  [1000, 0xce],
  [-1000, 0x4e],
  [4096, 0xaf],
  [-4096, 0x2f],
  [8000, 0xa0],
  [-8000, 0x20],
  [16000, 0x90],
  [32124, 0x80],
  [32767, 0x80],
  [-32124, 0x00],
  [-32768, 0x00],
];
const DECODE_VECTORS: Array<[number, number]> = [
  [0x00, -32124],
  [0x01, -31100],
  [0x0f, -16764],
  [0x10, -15996],
  [0x6f, -132],
  [0x7e, -8],
  [0x7f, 0],
  [0x80, 32124],
  [0x8f, 16764],
  [0xef, 132],
  [0xfe, 8],
  [0xff, 0],
];

describe('G.711 mu-law codec', () => {
  it.each(ENCODE_VECTORS)('encodes %d as 0x%s', (sample, code) => {
    expect(mulawEncodeSample(sample)).toBe(code);
  });

  it.each(DECODE_VECTORS)('decodes 0x%s', (code, sample) => {
    expect(mulawDecodeSample(code)).toBe(sample);
  });

  it('matches the 1 kHz tone vector in both directions', () => {
    const pcm = [0, 5657, 8000, 5657, 0, -5657, -8000, -5657];
    const encoded = mulawEncode(pcm);
    expect(encoded.toString('hex')).toBe('ffa9a0a9ff292029');
    expect(encoded.toString('base64')).toBe('/6mgqf8pICk=');
    expect(Array.from(mulawDecode(encoded))).toEqual([0, 5628, 7932, 5628, 0, -5628, -7932, -5628]);
  });

  it('round-trips every 16-bit value within half a quantisation step', () => {
    for (let x = -32768; x <= 32767; x += 7) {
      const code = mulawEncodeSample(x);
      const exp = ((~code & 0xff) >> 4) & 7;
      const halfStep = (8 << exp) / 2 + 1;
      const clipped = Math.max(-32124, Math.min(32124, x));
      expect(Math.abs(mulawDecodeSample(code) - clipped)).toBeLessThanOrEqual(halfStep * 2);
    }
  });

  it('decode then encode is the identity on every code except negative zero', () => {
    for (let code = 0; code < 256; code++) {
      if (code === 0x7f) continue; // -0 decodes to 0, which encodes as +0 (0xFF)
      expect(mulawEncodeSample(mulawDecodeSample(code))).toBe(code);
    }
  });
});
