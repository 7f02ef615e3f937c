import { ProviderError } from '../../../server/platform/errors';
import { SpeechEmulator } from '../../../server/providers/emulators';
import { OpenAiTts, mulawDecode } from '../../../server/providers/openai';
import { collect, iterationError, quietLogger } from './support';

const KEY = 'sk-test-tts';
const TEXT = 'Sorry, let me try that again.';

describe('OpenAiTts (fallback) against the speech emulator', () => {
  const emu = new SpeechEmulator({ apiKey: KEY, firstByteMs: 0 });
  let baseUrl = '';
  const tts = (overrides: { idleTimeoutMs?: number } = {}) =>
    new OpenAiTts({
      apiKey: KEY,
      baseUrl,
      model: 'gpt-4o-mini-tts',
      voice: 'coral',
      logger: quietLogger,
      ...overrides,
    });

  beforeAll(async () => {
    baseUrl = (await emu.start()).url;
  });
  afterAll(() => emu.close());
  beforeEach(() => {
    emu.faults.clear();
    emu.requests.clear();
    emu.timing.chunkMs = 0;
  });

  it('asks for 24 kHz pcm and yields 8 kHz mu-law of the right length and level', async () => {
    const audio = Buffer.concat(
      await collect(tts().synthesize(TEXT, { signal: new AbortController().signal })),
    );
    // 60 ms per character at 8000 bytes per second.
    expect(audio.length).toBe(TEXT.length * 60 * 8);
    const pcm = mulawDecode(audio);
    let peak = 0;
    for (const s of pcm) peak = Math.max(peak, Math.abs(s));
    // The emulator's tone peaks at 7500; low-pass and decimation keep it (300/450 Hz is deep in band).
    expect(peak).toBeGreaterThan(6500);
    expect(peak).toBeLessThan(8500);
    expect(emu.requests.last).toMatchObject({
      model: 'gpt-4o-mini-tts',
      voice: 'coral',
      input: TEXT,
      response_format: 'pcm',
    });
  });

  it.each([
    [500, true],
    [429, true],
    [400, false],
  ])('maps HTTP %d to a ProviderError (retryable: %s)', async (status, retryable) => {
    emu.fail({ kind: 'status', status });
    const err = await iterationError(tts().synthesize(TEXT, { signal: new AbortController().signal }));
    expect((err as ProviderError).status).toBe(status);
    expect((err as ProviderError).retryable).toBe(retryable);
  });

  it('stops quietly when aborted mid-stream', async () => {
    emu.timing.chunkMs = 50;
    const controller = new AbortController();
    const seen: Buffer[] = [];
    for await (const chunk of tts().synthesize(TEXT, { signal: controller.signal })) {
      seen.push(chunk);
      controller.abort();
    }
    expect(seen).toHaveLength(1);
  });

  it('turns a stall into a retryable idle-timeout error', async () => {
    emu.fail({ kind: 'stall' });
    const err = await iterationError(
      tts({ idleTimeoutMs: 200 }).synthesize(TEXT, { signal: new AbortController().signal }),
    );
    expect((err as ProviderError).status).toBe(408);
  });
});
