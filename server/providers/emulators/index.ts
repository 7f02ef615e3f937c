/**
 * The emulators' public face. `startEmulators()` starts one of each on loopback and returns the
 * base URLs the product's settings take (OPENAI_BASE_URL, OPENAI_REALTIME_URL, ELEVENLABS_BASE_URL,
 * TWILIO_API_BASE_URL); demo mode and e2e tests use exactly this.
 */
import { ChatCompletionsEmulator, type ChatEmulatorOptions } from './openai-chat';
import { ElevenLabsEmulator, type ElevenLabsEmulatorOptions } from './elevenlabs';
import { LoopbackServer } from './http';
import { RealtimeTranscriptionEmulator, type RealtimeEmulatorOptions } from './openai-realtime';
import { SpeechEmulator, type SpeechEmulatorOptions } from './openai-speech';
import { TwilioRestEmulator, type TwilioRestEmulatorOptions } from './twilio-rest';

export {
  ChatCompletionsEmulator,
  ElevenLabsEmulator,
  RealtimeTranscriptionEmulator,
  SpeechEmulator,
  TwilioRestEmulator,
};
export type { ChatHandler, ChatReply, ChatRequestBody } from './openai-chat';
export type { Fault } from './http';
export type { SessionRecord } from './realtime-session';
export type { TwilioRequestRecord } from './twilio-rest';
export type { ElevenLabsRequest } from './elevenlabs';
export { createDemoBrain, type DemoBrainOptions } from './demo-brain';
export { defaultFixturesDir } from './fixture-index';

/**
 * Chat completions, speech and realtime transcription on one server, as they share one base URL
 * at OpenAI: OPENAI_BASE_URL alone must reach both the model and the TTS fallback.
 */
export class OpenAiEmulator {
  readonly chat: ChatCompletionsEmulator;
  readonly speech: SpeechEmulator;
  readonly realtime: RealtimeTranscriptionEmulator;
  readonly #server: LoopbackServer;

  constructor(
    opts: {
      chat?: ChatEmulatorOptions;
      speech?: SpeechEmulatorOptions;
      realtime?: RealtimeEmulatorOptions;
    } = {},
  ) {
    this.chat = new ChatCompletionsEmulator(opts.chat);
    this.speech = new SpeechEmulator(opts.speech);
    this.realtime = new RealtimeTranscriptionEmulator(opts.realtime);
    this.#server = new LoopbackServer([this.chat, this.speech, this.realtime]);
  }

  /** `url` is the REST base (`…/v1`); `realtimeUrl` the transcription socket. */
  async start(): Promise<{ url: string; realtimeUrl: string }> {
    await this.realtime.prepare();
    const origin = await this.#server.start();
    return { url: this.chat.baseUrlFor(origin), realtimeUrl: this.realtime.baseUrlFor(origin) };
  }

  close(): Promise<void> {
    return this.#server.close();
  }
}

export interface EmulatorOptions {
  openai?: {
    apiKey?: string;
    chat?: ChatEmulatorOptions;
    speech?: SpeechEmulatorOptions;
    realtime?: RealtimeEmulatorOptions;
  };
  elevenlabs?: ElevenLabsEmulatorOptions;
  twilio?: TwilioRestEmulatorOptions;
}

export interface RunningEmulators {
  openai: OpenAiEmulator;
  elevenlabs: ElevenLabsEmulator;
  twilio: TwilioRestEmulator;
  urls: {
    /** OPENAI_BASE_URL, e.g. `http://127.0.0.1:P/v1`. */
    openaiBaseUrl: string;
    /** OPENAI_REALTIME_URL, e.g. `ws://127.0.0.1:P/v1/realtime?intent=transcription`. */
    openaiRealtimeUrl: string;
    /** ELEVENLABS_BASE_URL; the stream-input socket is the same origin with `ws:`. */
    elevenlabsBaseUrl: string;
    /** TWILIO_API_BASE_URL. */
    twilioApiBaseUrl: string;
  };
  close(): Promise<void>;
}

export async function startEmulators(opts: EmulatorOptions = {}): Promise<RunningEmulators> {
  const key = opts.openai?.apiKey;
  const openai = new OpenAiEmulator({
    chat: { ...(key ? { apiKey: key } : {}), ...opts.openai?.chat },
    speech: { ...(key ? { apiKey: key } : {}), ...opts.openai?.speech },
    realtime: { ...(key ? { apiKey: key } : {}), ...opts.openai?.realtime },
  });
  const elevenlabs = new ElevenLabsEmulator(opts.elevenlabs);
  const twilio = new TwilioRestEmulator(opts.twilio);
  const started: Array<{ close(): Promise<void> }> = [];
  try {
    const o = await openai.start();
    started.push(openai);
    const e = await elevenlabs.start();
    started.push(elevenlabs);
    const t = await twilio.start();
    started.push(twilio);
    return {
      openai,
      elevenlabs,
      twilio,
      urls: {
        openaiBaseUrl: o.url,
        openaiRealtimeUrl: o.realtimeUrl,
        elevenlabsBaseUrl: e.url,
        twilioApiBaseUrl: t.url,
      },
      close: async () => {
        await Promise.all(started.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
}
