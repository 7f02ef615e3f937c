/**
 * The ElevenLabs SDK as the product loads it (lazy barrels), against the SDK as Node loads it. Jest
 * keeps its own module registry, so both run in child Node processes with Node's own loader.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const REPO = path.resolve(__dirname, '../../..');
const SDK_ROOT = path.dirname(require.resolve('@elevenlabs/elevenlabs-js/package.json'));

/** What each exported name is, comparable across processes: a schema's type, an enum's values. */
const DESCRIBE = `
function describe(v) {
  if (v && typeof v.getType === 'function') return 'schema:' + v.getType();
  if (typeof v === 'function') return 'function:' + v.name;
  if (v && typeof v === 'object') return 'object:' + Object.keys(v).sort().join(',');
  return typeof v + ':' + String(v);
}
const BARRELS = ['serialization/index.js', 'api/index.js'];
`;

function node<T>(script: string, input = ''): T {
  const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: REPO,
    input,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`child failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as T;
}

const sdkModules = `Object.keys(require.cache).filter((f) => f.startsWith(${JSON.stringify(SDK_ROOT + path.sep)})).length`;

describe('the ElevenLabs SDK, loaded lazily', () => {
  let eager: { modules: number; names: Record<string, [string, string][]> };
  let lazy: {
    audioBytes: number;
    sentText: string;
    modulesAfterSpeech: number;
    names: Record<string, [string, string][]>;
    keys: Record<string, string[]>;
  };

  beforeAll(() => {
    eager = node<typeof eager>(`${DESCRIBE}
const path = require('node:path');
const names = {};
for (const b of BARRELS) {
  const m = require(path.join(${JSON.stringify(SDK_ROOT)}, b));
  names[b] = Object.keys(m).map((k) => [k, describe(m[k])]);
}
process.stdout.write(JSON.stringify({ modules: ${sdkModules}, names }));
`);
    lazy = node<typeof lazy>(
      `${DESCRIBE}
const path = require('node:path');
const pino = require('pino');
const { ElevenLabsTts } = require('./server/providers/elevenlabs/tts.ts');
const { ElevenLabsEmulator } = require('./server/providers/emulators/index.ts');
(async () => {
  const emu = new ElevenLabsEmulator({ apiKey: 'xi-key' });
  const { url } = await emu.start();
  const tts = new ElevenLabsTts({ apiKey: 'xi-key', baseUrl: url, voiceId: 'v1', modelId: 'eleven_flash_v2_5', logger: pino({ level: 'silent' }) });
  let audioBytes = 0;
  for await (const chunk of tts.synthesize('Your car is ready.', { signal: new AbortController().signal })) audioBytes += chunk.length;
  await emu.close();
  const modulesAfterSpeech = ${sdkModules};
  const eagerNames = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
  const names = {}, keys = {};
  for (const b of BARRELS) {
    const m = require(path.join(${JSON.stringify(SDK_ROOT)}, b));
    names[b] = eagerNames[b].map(([k]) => [k, describe(m[k])]);
    keys[b] = Object.keys(m);
  }
  process.stdout.write(JSON.stringify({ audioBytes, sentText: emu.requests.last.body.text, modulesAfterSpeech, names, keys }));
})();
`,
      JSON.stringify(eager.names),
    );
  });

  it('speaks through the SDK while loading a few percent of its modules', () => {
    expect(lazy.audioBytes).toBe('Your car is ready.'.length * 60 * 8);
    expect(lazy.sentText).toBe('Your car is ready.');
    expect(eager.modules).toBeGreaterThan(5000);
    expect(lazy.modulesAfterSpeech).toBeLessThan(eager.modules / 10);
  });

  it('gives every exported name the same value as Node, and lists the same names', () => {
    for (const barrel of Object.keys(eager.names)) {
      expect(lazy.names[barrel]).toEqual(eager.names[barrel]);
      expect(lazy.keys[barrel]).toEqual(eager.names[barrel]?.map(([name]) => name));
    }
    expect(eager.names['serialization/index.js']?.length).toBeGreaterThan(2000);
  });
});
