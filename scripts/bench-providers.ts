/**
 * What a provider request costs beyond the provider's own latency, for `npm run bench`: the model's
 * first token and the TTS first byte, through the product's adapters and the real SDKs (`openai`,
 * `@elevenlabs/elevenlabs-js`) over loopback HTTP with keep-alive, to the emulators in a process of
 * their own with every emulated latency at 0. A turn makes one of each, in sequence: their sum is
 * the floor of the turn overhead before any load.
 */
import { ElevenLabsTts } from '../server/providers/elevenlabs/tts';
import { OpenAiLlm } from '../server/providers/openai/llm';
import { createLogger } from '../server/platform/logger';
import type { ChatMessage } from '../server/providers/types';
import { toStats, type Stats } from './bench-lib';
import { forkEmulators, type EmulatorProcess } from './loadtest-target';

/** The model and TTS emulators with every latency at 0, in a process of their own. */
function startEmulators(): Promise<EmulatorProcess> {
  return forkEmulators({
    role: 'http',
    brain: 'text',
    sttMs: 0,
    llmMs: 0,
    llmChunkMs: 0,
    ttsMs: 0,
    // One chunk of audio per request: the figure is the first byte, not the length of the speech.
    ttsMsPerChar: 1,
  });
}

/** Time to the first item of each of n streams, every stream read to its end (so keep-alive holds). */
async function firstItem(name: string, n: number, open: () => AsyncIterable<unknown>): Promise<Stats> {
  const run = async (): Promise<number> => {
    const t = performance.now();
    let first = -1;
    for await (const _ of open()) if (first < 0) first = performance.now() - t;
    if (first < 0) throw new Error(`${name}: the stream ended empty`);
    return first;
  };
  for (let i = 0; i < Math.min(50, n); i++) await run();
  const samples = new Float64Array(n);
  const started = performance.now();
  for (let i = 0; i < n; i++) samples[i] = await run();
  return toStats(name, samples, performance.now() - started);
}

export async function providerSuite(n: number): Promise<Stats[]> {
  const emulators = await startEmulators();
  try {
    const logger = createLogger({ level: 'silent' });
    const llm = new OpenAiLlm({
      apiKey: 'bench-key',
      baseUrl: emulators.urls.openaiBaseUrl as string,
      model: 'gpt-4o-mini',
      logger,
    });
    const tts = new ElevenLabsTts({
      apiKey: 'bench-key',
      baseUrl: emulators.urls.elevenlabsBaseUrl as string,
      voiceId: 'bench-voice',
      modelId: 'eleven_flash_v2_5',
      logger,
    });
    // A system prompt of a realistic size and one caller turn: the body the SDK serialises each time.
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are the service desk of a car dealership. '.repeat(60) },
      { role: 'user', content: 'I need an oil change tomorrow morning if you have anything.' },
    ];
    const signal = new AbortController().signal;
    const sentence = 'Sure, I can help with that.';
    const model = () => llm.stream({ messages, tools: [], signal });
    const speech = () => tts.synthesize(sentence, { signal });
    return [
      await firstItem('provider: model first token (openai SDK)', n, model),
      await firstItem('provider: TTS first byte (ElevenLabs SDK)', n, speech),
      await firstItem('provider: model, then TTS (a turn at 0 ms)', n, async function* () {
        for await (const _ of model());
        yield* speech();
      }),
    ];
  } finally {
    await emulators.close();
  }
}
