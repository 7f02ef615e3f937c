import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  FixtureIndex,
  FixtureMatcher,
  defaultFixturesDir,
  frameRms,
} from '../../../server/providers/emulators/fixture-index';
import { mulawEncode } from '../../../server/platform/g711';

const dir = defaultFixturesDir();
const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Array<{
  file: string;
  text: string;
}>;
const fixture = (i: number) => {
  const entry = manifest[i] as { file: string; text: string };
  return { text: entry.text, audio: readFileSync(path.join(dir, entry.file)) };
};

/** Feeds an utterance as the emulator receives it: `lead` bytes of room tone first, then 20 ms appends. */
function utter(matcher: FixtureMatcher, audio: Buffer, lead: number): string | undefined {
  const stream = Buffer.concat([Buffer.alloc(lead, 0xff), audio]);
  for (let o = 0; o < stream.length; o += 160) matcher.add(stream.subarray(o, o + 160));
  const text = matcher.best();
  matcher.reset();
  return text;
}

describe('FixtureMatcher', () => {
  let index: FixtureIndex;
  beforeAll(async () => {
    index = await FixtureIndex.load(dir);
  });

  it('recognises fixtures on and off the 160-byte grid, and when the grid moves between utterances', () => {
    const matcher = new FixtureMatcher(index);
    const a = fixture(0);
    const b = fixture(1);
    const c = fixture(2);
    expect(utter(matcher, a.audio, 0)).toBe(a.text);
    expect(utter(matcher, b.audio, 37)).toBe(b.text); // the grid moved: found by the full search
    expect(utter(matcher, c.audio, 37)).toBe(c.text); // same grid: found at the remembered alignment
    expect(utter(matcher, a.audio, 160 * 3)).toBe(a.text); // back on the grid
    expect(utter(matcher, b.audio, 159)).toBe(b.text);
  });

  it('does not invent a transcript for audio that is in no fixture', () => {
    const matcher = new FixtureMatcher(index);
    const tone = mulawEncode(Array.from({ length: 16_000 }, (_, i) => 8000 * Math.sin(i / 3)));
    expect(utter(matcher, tone, 0)).toBeUndefined();
  });
});

describe('frameRms', () => {
  it('is the RMS of the decoded 16-bit samples', () => {
    expect(frameRms(Buffer.alloc(160, 0xff))).toBe(0);
    // 0x80 decodes to +32124 and 0x00 to -32124: the RMS of a full-scale square wave is its amplitude.
    const square = Buffer.from(Array.from({ length: 160 }, (_, i) => (i % 2 ? 0x80 : 0x00)));
    expect(frameRms(square)).toBeCloseTo(32124, 0);
    expect(frameRms(Buffer.alloc(0))).toBe(0);
  });
});
