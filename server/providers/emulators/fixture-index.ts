/**
 * How the transcription emulator "understands" speech: every 20 ms frame (160 bytes) of speech in
 * every fixture recording is indexed, and an utterance is transcribed as the fixture whose frames
 * it contains most. Exact frame identity works because the product must forward Twilio's bytes
 * untranscoded; any transcoding on the way makes recognition fail, which is the point. A fixture
 * need not start on the stream's 160-byte grid (the previous one may have ended mid-frame), so the
 * matcher first finds the alignment at which the utterance's frames are known.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { mulawMeanSquare } from '../../platform/g711';

export const FRAME_BYTES = 160;
/** Frames quieter than this (RMS of 16-bit samples) are not indexed: room tone can survive transcoding. */
const MIN_INDEXED_RMS = 100;
/** Frames sampled per candidate alignment when looking for the sender's frame boundaries. */
const PROBE_FRAMES = 24;
/** Keeps an endless "utterance" (a stuck VAD) from growing without bound: 60 s. */
const MAX_UTTERANCE_BYTES = 60 * 8000;

/** The VAD runs this on every frame of every call: the shared table-driven energy. */
export function frameRms(frame: Uint8Array): number {
  return Math.sqrt(mulawMeanSquare(frame));
}

export interface Fixture {
  file: string;
  text: string;
}

/** `<repo>/../shared/fixtures/audio`, found from this file whether run from source or `dist/`. */
export function defaultFixturesDir(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.resolve(dir, '..', 'shared', 'fixtures', 'audio');
}

export class FixtureIndex {
  readonly fixtures: readonly Fixture[];
  /** Frame bytes (latin1 string) → fixture index; -1 when several fixtures share the frame. */
  readonly #frames: ReadonlyMap<string, number>;

  private constructor(fixtures: Fixture[], frames: Map<string, number>) {
    this.fixtures = fixtures;
    this.#frames = frames;
  }

  static empty(): FixtureIndex {
    return new FixtureIndex([], new Map());
  }

  /** Reads `manifest.json` (`[{file, text}]`) and the raw mu-law files beside it. */
  static async load(dir: string): Promise<FixtureIndex> {
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as unknown;
    if (!Array.isArray(manifest)) throw new Error('fixture manifest must be an array');
    const fixtures: Fixture[] = [];
    const frames = new Map<string, number>();
    for (const entry of manifest as Array<Partial<Fixture>>) {
      if (typeof entry.file !== 'string' || typeof entry.text !== 'string') continue;
      const audio = await readFile(path.join(dir, path.basename(entry.file)));
      const id = fixtures.push({ file: entry.file, text: entry.text }) - 1;
      for (let offset = 0; offset + FRAME_BYTES <= audio.length; offset += FRAME_BYTES) {
        if (frameRms(audio.subarray(offset, offset + FRAME_BYTES)) < MIN_INDEXED_RMS) continue;
        const key = audio.toString('latin1', offset, offset + FRAME_BYTES);
        const seen = frames.get(key);
        frames.set(key, seen === undefined || seen === id ? id : -1);
      }
    }
    return new FixtureIndex(fixtures, frames);
  }

  get size(): number {
    return this.#frames.size;
  }

  /** The fixture a frame belongs to, if exactly one. */
  lookup(frame: Buffer): number | undefined {
    const id = this.#frames.get(frame.toString('latin1'));
    return id === undefined || id < 0 ? undefined : id;
  }
}

/** Collects one utterance's bytes and finds the fixture they came from. */
export class FixtureMatcher {
  readonly #index: FixtureIndex;
  #chunks: Buffer[] = [];
  #bytes = 0;
  /** The sender's frame grid rarely moves within a stream: the alignment found last is tried first. */
  #lastAlignment = 0;

  constructor(index: FixtureIndex) {
    this.#index = index;
  }

  add(audio: Buffer): void {
    if (this.#bytes >= MAX_UTTERANCE_BYTES) return;
    this.#chunks.push(Buffer.from(audio));
    this.#bytes += audio.length;
  }

  /** The text of the fixture with the most matching frames, if any frame matched. */
  best(): string | undefined {
    if (this.#index.size === 0) return undefined;
    const audio = Buffer.concat(this.#chunks);
    const frames = Math.floor(audio.length / FRAME_BYTES) - 1;
    if (frames < 1) return undefined;
    // Probe a spread of frames at every alignment, then tally the whole utterance at the best one.
    const step = Math.max(1, Math.floor(frames / PROBE_FRAMES));
    const probes = Math.ceil(frames / step);
    const hitsAt = (shift: number): number => {
      let hits = 0;
      for (let f = 0; f < frames; f += step)
        if (this.#at(audio, shift + f * FRAME_BYTES) !== undefined) hits++;
      return hits;
    };
    let alignment = this.#lastAlignment;
    let alignmentHits = hitsAt(alignment);
    // Most probes known at the last alignment: it is the grid. Otherwise try all 160.
    if (alignmentHits * 2 < probes) {
      for (let shift = 0; shift < FRAME_BYTES; shift++) {
        const hits = hitsAt(shift);
        if (hits > alignmentHits) [alignment, alignmentHits] = [shift, hits];
      }
    }
    this.#lastAlignment = alignment;
    const votes = new Map<number, number>();
    for (let f = 0; f < frames; f++) {
      const id = this.#at(audio, alignment + f * FRAME_BYTES);
      if (id !== undefined) votes.set(id, (votes.get(id) ?? 0) + 1);
    }
    let bestId: number | undefined;
    let bestVotes = 0;
    for (const [id, count] of votes) if (count > bestVotes) [bestId, bestVotes] = [id, count];
    return bestId === undefined ? undefined : this.#index.fixtures[bestId]?.text;
  }

  reset(): void {
    this.#chunks = [];
    this.#bytes = 0;
  }

  #at(audio: Buffer, offset: number): number | undefined {
    return this.#index.lookup(audio.subarray(offset, offset + FRAME_BYTES));
  }
}
