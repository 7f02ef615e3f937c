import { ProviderError } from '../../../server/platform/errors';
import { RealtimeTranscriptionEmulator, defaultFixturesDir } from '../../../server/providers/emulators';
import { OpenAiStt, type OpenAiSttOptions } from '../../../server/providers/openai';
import type { SttEvent, SttStream } from '../../../server/providers/types';
import { SpeechDetector } from '../../../server/telephony/mulaw';
import { DEFAULT_FIXTURES_DIR, fixtureManifest, loadFixture } from '../../support/audio-fixtures';
import { quietLogger, waitUntil } from './support';

const KEY = 'sk-test-stt';
const FRAME = 160;
const SILENCE = Buffer.alloc(FRAME, 0xff);
const textOf = (file: string) => fixtureManifest().find((f) => f.file === `${file}.ulaw`)?.text;

/** Pushes audio in 20 ms frames, yielding to the event loop now and then (faster than real time). */
async function speak(stream: SttStream, audio: Buffer, sent: Buffer[]): Promise<void> {
  for (let offset = 0; offset < audio.length; offset += FRAME) {
    const frame = Buffer.from(audio.subarray(offset, offset + FRAME));
    stream.push(frame);
    sent.push(frame);
    if ((offset / FRAME) % 25 === 24) await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function silence(ms: number): Buffer {
  return Buffer.concat(Array.from({ length: ms / 20 }, () => SILENCE));
}

describe('OpenAiStt against the realtime transcription emulator', () => {
  const emu = new RealtimeTranscriptionEmulator({
    apiKey: KEY,
    fixturesDir: DEFAULT_FIXTURES_DIR,
    transcriptDelayMs: 50,
  });
  let url = '';
  const open: SttStream[] = [];
  const connect = async (overrides: Partial<OpenAiSttOptions> = {}) => {
    const provider = new OpenAiStt({
      apiKey: KEY,
      realtimeUrl: url,
      model: 'gpt-4o-transcribe',
      language: 'en',
      logger: quietLogger,
      ...overrides,
    });
    const stream = await provider.open({
      signal: new AbortController().signal,
      callSid: 'CA' + '1'.repeat(32),
    });
    open.push(stream);
    const events: SttEvent[] = [];
    stream.onEvent((e) => events.push(e));
    return { stream, events };
  };

  beforeAll(async () => {
    url = (await emu.start()).url;
  });
  afterEach(async () => {
    emu.resetFaults();
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  afterAll(() => emu.close());

  it('finds the shared fixtures by default and indexes all of them', () => {
    expect(defaultFixturesDir()).toBe(DEFAULT_FIXTURES_DIR);
    expect(emu.fixtureCount).toBe(fixtureManifest().length);
  });

  it('transcribes a fixture: speech_started, speech_stopped, the manifest text; bytes arrive untouched', async () => {
    const { stream, events } = await connect();
    const sent: Buffer[] = [];
    const audio = loadFixture('book-oil-change');
    await speak(stream, Buffer.concat([silence(200), audio, silence(800)]), sent);
    await waitUntil(() => events.some((e) => e.type === 'final'), 5_000, 'final transcript');

    const types = events.map((e) => e.type);
    expect(types.indexOf('speech_started')).toBeLessThan(types.indexOf('speech_stopped'));
    expect(types.indexOf('speech_stopped')).toBeLessThan(types.indexOf('final'));
    expect(events.find((e) => e.type === 'final')).toEqual({
      type: 'final',
      text: textOf('book-oil-change'),
    });
    const partials = events.filter((e): e is Extract<SttEvent, { type: 'partial' }> => e.type === 'partial');
    expect(partials.at(-1)?.text.trim()).toBe(textOf('book-oil-change'));

    const started = events.find((e) => e.type === 'speech_started');
    const stopped = events.find((e) => e.type === 'speech_stopped');
    // Speech begins just after the 200 ms lead-in (less the 300 ms prefix padding) and ends after the audio.
    expect(started && 'atMs' in started ? started.atMs : -1).toBeLessThanOrEqual(200);
    expect(stopped && 'atMs' in stopped ? stopped.atMs : -1).toBeGreaterThan(200 + 3000);

    const session = emu.sessions.last;
    expect(session?.receivedBytes).toBe(Buffer.concat(sent).length);
    expect(Buffer.concat(session?.chunks ?? []).equals(Buffer.concat(sent))).toBe(true);
    expect(session?.api).toBe('ga');
    expect(session?.config).toMatchObject({
      type: 'transcription',
      audio: { input: { format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad' } } },
    });
  });

  it('holds a quiet line for 200 ms appends, never speech nor the silence that ends a turn', async () => {
    const { stream, events } = await connect();
    const detector = new SpeechDetector();
    const sent: Buffer[] = [];
    // As the media stream feeds it: Twilio's base64 payload and our detector's verdict on the frame.
    const feed = (audio: Buffer) => {
      for (let offset = 0; offset < audio.length; offset += FRAME) {
        const frame = audio.subarray(offset, offset + FRAME);
        detector.push(frame);
        stream.pushBase64?.(frame.toString('base64'), frame.length, detector.quiet);
        sent.push(frame);
      }
    };
    const sizes = () => (emu.sessions.last?.chunks ?? []).map((c) => c.length);
    const received = (bytes: number) => () => (emu.sessions.last?.receivedBytes ?? 0) >= bytes;

    feed(silence(1100));
    await waitUntil(received(8000), 2_000, 'five held appends');
    expect(sizes()).toEqual([1600, 1600, 1600, 1600, 1600]);

    // The first word goes at once, with the 100 ms held before it; then 40 ms appends, and the
    // frame left over goes as soon as the provider says speech started.
    const audio = loadFixture('book-oil-change');
    feed(audio.subarray(0, 10 * FRAME));
    await waitUntil(() => events.some((e) => e.type === 'speech_started'), 2_000, 'speech_started');
    await waitUntil(received(8000 + 15 * FRAME), 2_000, 'the first word');
    expect(sizes().slice(5)).toEqual([960, 320, 320, 320, 320, FRAME]);
    feed(audio.subarray(10 * FRAME));
    // Speech is open at the provider: the silence that closes the turn is not held, quiet or not.
    feed(silence(600));
    await waitUntil(() => events.some((e) => e.type === 'final'), 5_000, 'final transcript');
    const duringTurn = sizes().slice(11);
    // 40 ms appends (one a little longer where the fixture ends mid-frame), and less than one held back.
    expect(Math.max(...duringTurn)).toBeLessThan(320 + FRAME);
    const unsent = Buffer.concat(sent).length - (emu.sessions.last?.receivedBytes ?? 0);
    expect(unsent).toBeGreaterThanOrEqual(0);
    expect(unsent).toBeLessThan(320);

    // Turn over: once the line has been quiet for a second, quiet audio is held again.
    const before = sizes().length;
    feed(silence(1440));
    const after = () => sizes().slice(before);
    await waitUntil(
      () => after().filter((n) => n === 1600).length >= 2,
      2_000,
      'held appends after the turn',
    );
    const held = after().indexOf(1600);
    expect(
      after()
        .slice(held)
        .every((n) => n === 1600),
    ).toBe(true);
    expect(
      after()
        .slice(0, held)
        .every((n) => n <= 320),
    ).toBe(true);

    expect(events.find((e) => e.type === 'final')).toEqual({
      type: 'final',
      text: textOf('book-oil-change'),
    });
    expect((stream as unknown as { stats: { appends: number } }).stats.appends).toBe(sizes().length);
    await stream.close();
    // Nothing lost or reordered: what arrived is what was fed, less the frames still held at close.
    const got = Buffer.concat(emu.sessions.last?.chunks ?? []);
    expect(got.equals(Buffer.concat(sent).subarray(0, got.length))).toBe(true);
  });

  it("does not hold the quiet after a sound before the provider's speech_started can arrive", async () => {
    const { stream } = await connect();
    const detector = new SpeechDetector();
    const feed = (audio: Buffer) => {
      for (let offset = 0; offset < audio.length; offset += FRAME) {
        const frame = audio.subarray(offset, offset + FRAME);
        detector.push(frame);
        stream.pushBase64?.(frame.toString('base64'), frame.length, detector.quiet);
      }
    };
    const sizes = () => (emu.sessions.last?.chunks ?? []).map((c) => c.length);
    feed(silence(1000));
    // A short word and the silence after it, all before any provider event can come back: the
    // silence that would end the turn goes in 40 ms appends, though speech is not yet open there.
    const word = loadFixture('yes-confirm').subarray(0, 25 * FRAME);
    feed(Buffer.concat([word, silence(800)]));
    const total = 8000 + word.length + 6400;
    await waitUntil(
      () => (emu.sessions.last?.receivedBytes ?? 0) >= total - 320,
      2_000,
      'the word and silence',
    );
    const afterHeld = sizes().slice(sizes().indexOf(1600) + 5);
    expect(afterHeld.length).toBeGreaterThan(20);
    expect(Math.max(...afterHeld.slice(1))).toBeLessThanOrEqual(320);
    await stream.close();
  });

  it('recognises every fixture, one turn each, in a single call', async () => {
    const { stream, events } = await connect();
    const manifest = fixtureManifest();
    for (const f of manifest) await speak(stream, Buffer.concat([loadFixture(f.file), silence(700)]), []);
    await waitUntil(
      () => events.filter((e) => e.type === 'final').length === manifest.length,
      5_000,
      'all transcripts',
    );
    expect(events.filter((e) => e.type === 'final').map((e) => (e.type === 'final' ? e.text : ''))).toEqual(
      manifest.map((f) => f.text),
    );
    const starts = events.filter((e) => e.type === 'speech_started').map((e) => ('atMs' in e ? e.atMs : 0));
    expect(starts).toHaveLength(manifest.length);
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
  });

  it('does not offer permessage-deflate: appends are never compressed', async () => {
    await connect();
    const session = emu.sessions.all.at(-1);
    expect(session).toBeDefined();
    expect(session?.offeredExtensions).toBeUndefined();
  });

  it('speaks the beta dialect when asked (OpenAI-Beta header, g711_ulaw)', async () => {
    const { stream, events } = await connect({ api: 'beta' });
    await speak(stream, Buffer.concat([loadFixture('hours'), silence(700)]), []);
    await waitUntil(() => events.some((e) => e.type === 'final'), 5_000, 'final transcript');
    expect(events.find((e) => e.type === 'final')).toEqual({ type: 'final', text: textOf('hours') });
    expect(emu.sessions.last?.api).toBe('beta');
    expect(emu.sessions.last?.config).toMatchObject({ input_audio_format: 'g711_ulaw' });
  });

  it('reconnects after the server drops the socket and keeps transcribing', async () => {
    const before = emu.connectionCount;
    const { stream, events } = await connect({ reconnect: { initialDelayMs: 50 } });
    await speak(stream, silence(200), []);
    emu.dropConnections();
    await waitUntil(() => events.some((e) => e.type === 'error'), 2_000, 'drop reported');
    expect(events.find((e) => e.type === 'error')).toMatchObject({ fatal: false });
    await waitUntil(() => emu.connectionCount === before + 2, 2_000, 'reconnection');
    await waitUntil(() => emu.sessions.last?.config !== undefined, 2_000, 'session configured again');

    const sent: Buffer[] = [];
    await speak(stream, Buffer.concat([loadFixture('human'), silence(700)]), sent);
    await waitUntil(() => events.some((e) => e.type === 'final'), 5_000, 'final transcript');
    expect(events.find((e) => e.type === 'final')).toEqual({ type: 'final', text: textOf('human') });
    expect(Buffer.concat(emu.sessions.last?.chunks ?? []).equals(Buffer.concat(sent))).toBe(true);
  });

  it('replaces a socket that has gone silent while audio flows (watchdog)', async () => {
    const before = emu.connectionCount;
    const { stream, events } = await connect({ watchdogMs: 300, reconnect: { initialDelayMs: 20 } });
    emu.silent = true;
    const pump = setInterval(() => stream.push(SILENCE), 20);
    try {
      await waitUntil(() => emu.connectionCount === before + 2, 3_000, 'watchdog reconnection');
    } finally {
      clearInterval(pump);
      emu.silent = false;
    }
    await speak(stream, Buffer.concat([loadFixture('cancel'), silence(700)]), []);
    await waitUntil(() => events.some((e) => e.type === 'final'), 5_000, 'final transcript');
    expect(events.find((e) => e.type === 'final')).toEqual({ type: 'final', text: textOf('cancel') });
  });

  it('drops (and counts) audio beyond its small backlog while disconnected, without blocking', async () => {
    const { stream, events } = await connect({ maxPendingMs: 100, reconnect: { initialDelayMs: 300 } });
    emu.dropConnections();
    await waitUntil(() => events.some((e) => e.type === 'error'), 2_000, 'drop reported');
    const started = Date.now();
    for (let i = 0; i < 50; i++) stream.push(SILENCE); // 1 s of audio
    expect(Date.now() - started).toBeLessThan(50);
    const stats = (stream as unknown as { stats: { droppedBytes: number } }).stats;
    expect(stats.droppedBytes).toBe(50 * FRAME - 100 * 8);
  });

  it('gives up with a fatal error after its bounded reconnect attempts', async () => {
    const { events } = await connect({ reconnect: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 2 } });
    emu.refuseConnections(503, 5);
    emu.dropConnections();
    await waitUntil(() => events.some((e) => e.type === 'error' && e.fatal), 3_000, 'fatal error');
    const fatal = events.find((e) => e.type === 'error' && e.fatal);
    expect(fatal && fatal.type === 'error' ? fatal.error : undefined).toBeInstanceOf(ProviderError);
  });

  it('rejects open() with a non-retryable ProviderError on a bad key', async () => {
    const provider = new OpenAiStt({
      apiKey: 'sk-wrong',
      realtimeUrl: url,
      model: 'gpt-4o-transcribe',
      logger: quietLogger,
    });
    const err = await provider
      .open({ signal: new AbortController().signal, callSid: 'CA1' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(401);
    expect((err as ProviderError).retryable).toBe(false);
  });

  it('closes its socket on close() and on abort', async () => {
    const { stream } = await connect();
    await stream.close();
    await waitUntil(() => emu.sessions.last?.closed === true, 2_000, 'server saw the close');
    stream.push(SILENCE); // a push after close is a no-op, never a throw

    const controller = new AbortController();
    const provider = new OpenAiStt({
      apiKey: KEY,
      realtimeUrl: url,
      model: 'gpt-4o-transcribe',
      logger: quietLogger,
    });
    const aborted = await provider.open({ signal: controller.signal, callSid: 'CA2' });
    open.push(aborted);
    controller.abort();
    await waitUntil(() => emu.sessions.last?.closed === true, 2_000, 'server saw the abort close');
  });
});
