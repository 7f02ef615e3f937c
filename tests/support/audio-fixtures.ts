import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The shared fixture audio (raw 8 kHz mu-law + manifest.json), next to the repository. */
export const DEFAULT_FIXTURES_DIR = path.resolve(__dirname, '../../../shared/fixtures/audio');

export interface FixtureInfo {
  readonly file: string;
  readonly text: string;
  readonly durationMs: number;
}

export function fixtureManifest(dir = DEFAULT_FIXTURES_DIR): FixtureInfo[] {
  return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as FixtureInfo[];
}

/** A fixture's raw mu-law by file name; the `.ulaw` extension is optional. */
export function loadFixture(name: string, dir = DEFAULT_FIXTURES_DIR): Buffer {
  return readFileSync(path.join(dir, name.endsWith('.ulaw') ? name : `${name}.ulaw`));
}
