/**
 * The provider emulators of `npm run loadtest`, in processes of their own. Real providers are other
 * machines: sharing the callers' event loop would make every emulated latency wait behind the
 * callers' 20 ms frame bursts, and that wait would be billed to the server's turn overhead. The
 * transcription socket (every call's audio, ~10 messages a second each, VAD and fixture matching)
 * runs in one process, the request/response providers (model, TTS, Twilio REST) in another, so the
 * model's and TTS's timers do not wait behind the audio either. Forked by loadtest-target.ts with
 * its settings in argv[2] (JSON); it answers on the IPC channel with its URLs once listening, and
 * with its timers' lateness (= how late the emulated latencies fire).
 */
import {
  RealtimeTranscriptionEmulator,
  startEmulators,
  createDemoBrain,
  type ChatHandler,
} from '../server/providers/emulators';

type EmulatorUrls = Awaited<ReturnType<typeof startEmulators>>['urls'];

export interface EmulatorSettings {
  /** `transcription`: the realtime socket only; `http`: everything else. */
  readonly role: 'transcription' | 'http';
  readonly brain: 'text' | 'demo';
  readonly sttMs: number;
  readonly llmMs: number;
  readonly llmChunkMs: number;
  readonly ttsMs: number;
  readonly ttsMsPerChar: number;
}

export type EmulatorMessage =
  | { type: 'ready'; urls: Partial<EmulatorUrls> }
  | { type: 'timers'; lateMs: number[] }
  | { type: 'failed'; message: string };

/** A few two-sentence answers, so replies are the same length whatever the caller said. */
const REPLIES = [
  'Sure, I can help with that. Which day works best for you?',
  'We have openings tomorrow morning. Would nine in the morning suit you?',
  'Got it, thank you. Is there anything else I can do for you today?',
  'Our service desk is open until six tonight. What else can I help with?',
];

function textBrain(): ChatHandler {
  return (body) => {
    const userTurns = (body.messages ?? []).filter((m) => (m as { role?: string }).role === 'user').length;
    return { text: REPLIES[userTurns % REPLIES.length] as string };
  };
}

async function start(
  settings: EmulatorSettings,
): Promise<{ urls: Partial<EmulatorUrls>; close(): Promise<void> }> {
  if (settings.role === 'transcription') {
    const realtime = new RealtimeTranscriptionEmulator({
      transcriptDelayMs: settings.sttMs,
      keepAudioBytes: 0,
    });
    const { url } = await realtime.start();
    return { urls: { openaiRealtimeUrl: url }, close: () => realtime.close() };
  }
  return startEmulators({
    openai: {
      chat: {
        handler: settings.brain === 'demo' ? createDemoBrain() : textBrain(),
        firstTokenMs: settings.llmMs,
        chunkMs: settings.llmChunkMs,
      },
      realtime: { transcriptDelayMs: settings.sttMs, keepAudioBytes: 0 },
    },
    elevenlabs: { firstByteMs: settings.ttsMs, msPerChar: settings.ttsMsPerChar },
  });
}

async function main(settings: EmulatorSettings): Promise<void> {
  const emulators = await start(settings);

  // The emulated latencies are timers in this process: a 100 ms probe timer shows how late they fire.
  let lateMs: number[] = [];
  const arm = (): void => {
    const due = performance.now() + 100;
    setTimeout(() => {
      lateMs.push(performance.now() - due);
      arm();
    }, 100).unref();
  };
  arm();

  process.on('message', (msg: { type?: string }) => {
    if (msg?.type !== 'timers') return;
    process.send?.({ type: 'timers', lateMs } satisfies EmulatorMessage);
    lateMs = [];
  });
  const stop = (): void => void emulators.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  process.send?.({ type: 'ready', urls: emulators.urls } satisfies EmulatorMessage);
}

main(JSON.parse(process.argv[2] ?? '{}') as EmulatorSettings).catch((err: unknown) => {
  process.send?.({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
