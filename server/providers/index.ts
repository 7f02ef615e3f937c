/** Builds the configured providers. Vendor SDKs stay behind these constructors. */
import type { Config } from '../config';
import type { Logger } from '../platform/logger';
import { OpenAiLlm, OpenAiStt, OpenAiTts } from './openai';
import { ElevenLabsTts } from './elevenlabs';
import { TwilioRest } from './twilio';
import type { LlmProvider, SttProvider, TtsProvider } from './types';
import { FailoverLlm } from './fallback/llm';
import { FailoverTts } from './fallback/tts';

export interface ProviderUrls {
  openaiBaseUrl: string;
  openaiRealtimeUrl: string;
  elevenlabsBaseUrl: string;
  twilioApiBaseUrl: string;
}

export interface Providers {
  stt: SttProvider;
  llm: LlmProvider;
  tts: TtsProvider;
  rest: TwilioRest;
}

/** In demo mode `urls` points every provider at the local emulators (any key works there). */
export function createProviders(config: Config, logger: Logger, urls?: ProviderUrls): Providers {
  const openaiKey = config.openai.apiKey ?? 'demo-key';
  return {
    stt: new OpenAiStt({
      apiKey: openaiKey,
      realtimeUrl: urls?.openaiRealtimeUrl ?? config.openai.realtimeUrl,
      model: config.openai.transcribeModel,
      language: 'en',
      logger,
    }),
    // One quiet retry of a retryable failure before the first token; after that the caller hears
    // the apology rather than a long silence.
    llm: new FailoverLlm(
      [
        new OpenAiLlm({
          apiKey: openaiKey,
          baseUrl: urls?.openaiBaseUrl ?? config.openai.baseUrl,
          model: config.openai.model,
          logger,
        }),
      ],
      { retries: 1 },
    ),
    // ElevenLabs, then OpenAI TTS (resampled to 8 kHz mu-law); cached phrases cover both being down.
    tts: new FailoverTts([
      new ElevenLabsTts({
        apiKey: config.elevenlabs.apiKey ?? 'demo-key',
        baseUrl: urls?.elevenlabsBaseUrl ?? config.elevenlabs.baseUrl,
        voiceId: config.elevenlabs.voiceId,
        modelId: config.elevenlabs.modelId,
        logger,
      }),
      new OpenAiTts({ apiKey: openaiKey, baseUrl: urls?.openaiBaseUrl ?? config.openai.baseUrl, logger }),
    ]),
    rest: new TwilioRest({
      accountSid: config.twilio.accountSid,
      authToken: config.twilio.authToken,
      apiBaseUrl: urls?.twilioApiBaseUrl ?? config.twilio.apiBaseUrl,
      logger,
    }),
  };
}
