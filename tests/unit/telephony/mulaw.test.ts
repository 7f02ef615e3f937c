import {
  FRAME_BYTES,
  MULAW_DECODE,
  SpeechDetector,
  SpeechEvent,
  encodeMulaw,
  frameLevelDb,
  mulawToWav,
} from '../../../server/telephony/mulaw';
import { fixtureManifest, loadFixture as fixture } from '../../support/audio-fixtures';

const manifest = fixtureManifest();
const silence = (ms: number) => Buffer.alloc(ms * 8, 0xff);

/** Deterministic pseudo-Gaussian noise at a given RMS, as mu-law. */
function noise(rms: number, ms: number, seed = 7): Buffer {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  const out = Buffer.alloc(ms * 8);
  for (let i = 0; i < out.length; i++)
    out[i] = encodeMulaw((rnd() + rnd() + rnd() + rnd() - 2) * Math.sqrt(3) * rms);
  return out;
}

function mix(a: Buffer, b: Buffer, atByte: number): Buffer {
  const out = Buffer.from(a);
  for (let i = 0; i < b.length && atByte + i < out.length; i++) {
    out[atByte + i] = encodeMulaw(
      (MULAW_DECODE[out[atByte + i] as number] as number) + (MULAW_DECODE[b[i] as number] as number),
    );
  }
  return out;
}

/** Feeds 20 ms frames; returns the time (ms, end of frame) of each event. */
function events(audio: Buffer, detector = new SpeechDetector()): { event: SpeechEvent; atMs: number }[] {
  const out: { event: SpeechEvent; atMs: number }[] = [];
  for (let i = 0; i + FRAME_BYTES <= audio.length; i += FRAME_BYTES) {
    const event = detector.push(audio, i, i + FRAME_BYTES);
    if (event !== SpeechEvent.None) out.push({ event, atMs: (i + FRAME_BYTES) / 8 });
  }
  return out;
}

describe('mu-law tables', () => {
  it('decodes the PROTOCOLS.md vectors', () => {
    const vectors: [number, number][] = [
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
    for (const [code, value] of vectors) expect(MULAW_DECODE[code]).toBe(value);
  });

  it('encodes the PROTOCOLS.md vectors and the 1 kHz tone', () => {
    const vectors: [number, number][] = [
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
      [-32768, 0x00],
    ];
    for (const [value, code] of vectors) expect(encodeMulaw(value)).toBe(code);
    const tone = [0, 5657, 8000, 5657, 0, -5657, -8000, -5657].map(encodeMulaw);
    expect(Buffer.from(tone).toString('base64')).toBe('/6mgqf8pICk=');
  });

  it('measures silence at 0 dB and fixture speech far above it', () => {
    expect(frameLevelDb(silence(20))).toBe(0);
    expect(frameLevelDb(fixture('hours.ulaw'), 0, 160 * 5)).toBeGreaterThan(60);
  });
});

describe('mulawToWav', () => {
  it('writes a format-7 (mu-law) 8 kHz mono header with the data after it', () => {
    const audio = Buffer.from([1, 2, 3]);
    const wav = mulawToWav(audio);
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
    expect(wav.toString('ascii', 8, 16)).toBe('WAVEfmt ');
    expect(wav.readUInt16LE(20)).toBe(7);
    expect(wav.readUInt16LE(22)).toBe(1);
    expect(wav.readUInt32LE(24)).toBe(8000);
    expect(wav.readUInt16LE(34)).toBe(8);
    expect(wav.toString('ascii', 50, 54)).toBe('data');
    expect(wav.readUInt32LE(54)).toBe(3);
    expect([...wav.subarray(58, 61)]).toEqual([1, 2, 3]);
    expect(wav.length % 2).toBe(0);
  });
});

describe('SpeechDetector', () => {
  const utterances = manifest.filter((m) => m.durationMs > 2000);

  it('has utterance fixtures to tune on', () => {
    expect(utterances.length).toBeGreaterThanOrEqual(7);
  });

  it.each(utterances.map((m) => m.file))('reports %s as sustained speech within 1 s of its onset', (file) => {
    const onsetMs = 500;
    const got = events(Buffer.concat([silence(onsetMs), fixture(file), silence(1000)]));
    const start = got.find((e) => e.event === SpeechEvent.Start);
    const sustained = got.find((e) => e.event === SpeechEvent.Sustained);
    expect(start?.atMs).toBeGreaterThan(onsetMs);
    expect(start?.atMs).toBeLessThanOrEqual(onsetMs + 100);
    expect(sustained?.atMs).toBeGreaterThanOrEqual(onsetMs + 800);
    expect(sustained?.atMs).toBeLessThanOrEqual(onsetMs + 1000);
    expect(got[got.length - 1]?.event).toBe(SpeechEvent.End);
  });

  it('hears "uh huh" as speech but never as 800 ms of it', () => {
    const got = events(Buffer.concat([silence(300), fixture('uh-huh.ulaw'), silence(1000)]));
    expect(got.map((e) => e.event)).toEqual([SpeechEvent.Start, SpeechEvent.End]);
  });

  it('does not report a 300 ms burst of speech as sustained', () => {
    const burst = fixture('book-oil-change.ulaw').subarray(0, 300 * 8);
    const got = events(Buffer.concat([silence(500), burst, silence(1000), burst, silence(500)]));
    expect(got.filter((e) => e.event === SpeechEvent.Start)).toHaveLength(2);
    expect(got.some((e) => e.event === SpeechEvent.Sustained)).toBe(false);
  });

  it('bridges short gaps between words but ends a run after the hangover', () => {
    const d = new SpeechDetector({ minSpeechMs: 800, hangoverMs: 200 });
    const speech = fixture('hours.ulaw').subarray(0, 400 * 8);
    // 400 ms speech, 160 ms gap, 400 ms speech: one run of 960 ms.
    const bridged = events(Buffer.concat([speech, silence(160), speech]), d);
    expect(bridged.map((e) => e.event)).toEqual([SpeechEvent.Start, SpeechEvent.Sustained]);
    d.reset();
    const split = events(Buffer.concat([speech, silence(300), speech, silence(300)]), d);
    expect(split.map((e) => e.event)).toEqual([
      SpeechEvent.Start,
      SpeechEvent.End,
      SpeechEvent.Start,
      SpeechEvent.End,
    ]);
  });

  it('never reports silence or low-level line noise', () => {
    expect(events(silence(10_000))).toEqual([]);
    expect(events(noise(60, 10_000))).toEqual([]);
  });

  it('learns a steady noise bed within its window and still hears speech over it', () => {
    const bed = noise(400, 8000);
    const withSpeech = mix(bed, fixture('book-oil-change.ulaw'), 5000 * 8);
    const got = events(withSpeech);
    // The bed alone stops counting once the 1.6 s window has seen it.
    expect(got.filter((e) => e.atMs > 2000 && e.atMs < 5000)).toEqual([]);
    const sustained = got.find((e) => e.event === SpeechEvent.Sustained && e.atMs > 5000);
    expect(sustained?.atMs).toBeLessThanOrEqual(6000);
  });

  it('calls a frame quiet only on a silent line, never inside speech or its pauses', () => {
    const d = new SpeechDetector();
    const quietAt = (audio: Buffer) => {
      const out: boolean[] = [];
      for (let i = 0; i + FRAME_BYTES <= audio.length; i += FRAME_BYTES) {
        d.push(audio, i, i + FRAME_BYTES);
        out.push(d.quiet);
      }
      return out;
    };
    expect(quietAt(silence(400)).every(Boolean)).toBe(true);
    // Line noise at ~36 dB is no speech, but not sure silence either: it is never held back.
    expect(quietAt(noise(60, 400)).some(Boolean)).toBe(false);
    for (const f of manifest) {
      d.reset();
      const audio = fixture(f.file);
      const flags = quietAt(audio);
      // Any frame loud enough to be speech for a provider's VAD (fixture speech: ≥ 45 dB) is not quiet.
      flags.forEach((quiet, i) => {
        if (quiet) expect(frameLevelDb(audio, i * FRAME_BYTES, (i + 1) * FRAME_BYTES)).toBeLessThan(30);
      });
      // Speech is never quiet, nor are the 200 ms (hangover) after a voiced frame: pauses between words.
      expect(flags.filter((q) => !q).length).toBeGreaterThan(10);
      flags.forEach((_, i) => {
        if (frameLevelDb(audio, i * FRAME_BYTES, (i + 1) * FRAME_BYTES) >= 40)
          expect(flags.slice(i, i + 11).some(Boolean)).toBe(false);
      });
    }
    d.reset();
    // Silence right after speech stays "not quiet" for the hangover (200 ms), then turns quiet.
    const after = quietAt(Buffer.concat([fixture('hours.ulaw').subarray(0, 400 * 8), silence(400)]));
    expect(after.slice(20, 30).every((q) => !q)).toBe(true);
    expect(after.slice(32).every(Boolean)).toBe(true);
  });

  it('exposes the run length and level for logging', () => {
    const d = new SpeechDetector();
    events(Buffer.concat([silence(100), fixture('hours.ulaw').subarray(0, 600 * 8)]), d);
    expect(d.speaking).toBe(true);
    expect(d.sustained).toBe(false);
    expect(d.speechMs).toBeGreaterThanOrEqual(500);
    expect(d.voicedInRunMs).toBeLessThanOrEqual(d.speechMs);
    expect(d.levelDb).toBeGreaterThan(40);
  });
});
