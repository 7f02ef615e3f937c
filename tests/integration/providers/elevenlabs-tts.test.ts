import { ProviderError } from '../../../server/platform/errors';
import { ElevenLabsEmulator } from '../../../server/providers/emulators';
import { ElevenLabsTts, type ElevenLabsTtsOptions } from '../../../server/providers/elevenlabs';
import { collect, iterationError, quietLogger } from './support';

const KEY = 'xi-test-key';
const TEXT = 'Your oil change is booked for tomorrow at nine.';

describe('ElevenLabsTts against the ElevenLabs emulator', () => {
  const emu = new ElevenLabsEmulator({ apiKey: KEY });
  let baseUrl = '';
  const tts = (overrides: Partial<ElevenLabsTtsOptions> = {}) =>
    new ElevenLabsTts({
      apiKey: KEY,
      baseUrl,
      voiceId: 'voice-abc',
      modelId: 'eleven_flash_v2_5',
      logger: quietLogger,
      ...overrides,
    });
  const speak = (provider = tts(), signal = new AbortController().signal) =>
    provider.synthesize(TEXT, { signal });

  beforeAll(async () => {
    baseUrl = (await emu.start()).url;
  });
  afterAll(() => emu.close());
  beforeEach(() => {
    emu.faults.clear();
    emu.requests.clear();
    emu.timing.firstByteMs = 0;
    emu.timing.chunkMs = 0;
  });

  it('streams ulaw_8000 bytes as Buffers, as long as the text calls for, and not silence', async () => {
    const chunks = await collect(speak());
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => Buffer.isBuffer(c))).toBe(true);
    const audio = Buffer.concat(chunks);
    expect(audio.length).toBe(TEXT.length * 60 * 8);
    expect(audio.filter((b) => b !== 0xff).length).toBeGreaterThan(audio.length * 0.9);

    const req = emu.requests.last;
    expect(req).toMatchObject({
      voiceId: 'voice-abc',
      outputFormat: 'ulaw_8000',
      query: { optimize_streaming_latency: '3' },
      body: { text: TEXT, model_id: 'eleven_flash_v2_5' },
    });
  });

  it('honours the first-byte latency', async () => {
    emu.timing.firstByteMs = 250;
    const started = Date.now();
    const iterator = speak()[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    await iterator.return?.();
  });

  it.each([
    [500, true],
    [429, true],
    [408, true],
    [422, false],
  ])('maps HTTP %d to a ProviderError (retryable: %s)', async (status, retryable) => {
    emu.fail({ kind: 'status', status });
    const err = await iterationError(speak());
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(status);
    expect((err as ProviderError).retryable).toBe(retryable);
  });

  it('reports a wrong xi-api-key as a non-retryable 401', async () => {
    const err = await iterationError(speak(tts({ apiKey: 'wrong' })));
    expect((err as ProviderError).status).toBe(401);
    expect((err as ProviderError).retryable).toBe(false);
  });

  it('stops quietly and promptly when the caller aborts mid-stream', async () => {
    emu.timing.chunkMs = 50;
    const controller = new AbortController();
    const seen: Buffer[] = [];
    const started = Date.now();
    for await (const chunk of speak(tts(), controller.signal)) {
      seen.push(chunk);
      controller.abort();
    }
    expect(seen).toHaveLength(1);
    // The whole text would take 28 chunks × 50 ms.
    expect(Date.now() - started).toBeLessThan(700);
  });

  it('turns a stalled response into a retryable idle-timeout error', async () => {
    emu.fail({ kind: 'stall', afterChunks: 1 });
    const err = await iterationError(speak(tts({ idleTimeoutMs: 200 })));
    expect((err as ProviderError).status).toBe(408);
    expect((err as ProviderError).retryable).toBe(true);
  });

  // afterChunks 0 cuts the connection before the response head: the path where the SDK's own timer leaked.
  it.each([0, 2])(
    'reports a connection dropped after %d chunks as a retryable ProviderError',
    async (afterChunks) => {
      emu.fail({ kind: 'drop', afterChunks });
      const err = await iterationError(speak());
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).status).toBeUndefined();
      expect((err as ProviderError).retryable).toBe(true);
    },
  );
});
