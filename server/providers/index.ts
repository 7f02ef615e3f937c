/** Builds the configured providers. Vendor SDKs stay behind these constructors. */
import type { Config } from '../config';
import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
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

/**
 * In demo mode `urls` points every provider at the local emulators (any key works there). Each
 * switch to a fallback is logged and counted in bayline_provider_failovers_total{kind,from,to}.
 */
export function createProviders(
  config: Config,
  logger: Logger,
  urls?: ProviderUrls,
  metrics?: Pick<Metrics, 'providerFailovers'>,
): Providers {
  const openaiKey = config.openai.apiKey ?? 'demo-key';
  const failover = (kind: 'llm' | 'tts') => (from: string, to: string, err: unknown) => {
    metrics?.providerFailovers.inc({ kind, from, to });
    logger.warn(
      { kind, from, to, err: { message: (err as Error | undefined)?.message } },
      'provider failover',
    );
  };
  return {
    stt: new OpenAiStt({
      apiKey: openaiKey,
      realtimeUrl: urls?.openaiRealtimeUrl ?? config.openai.realtimeUrl,
      model: config.openai.transcribeModel,
      language: 'en',
      logger,
    }),
    // Each model gets 5 s to start answering and one quiet retry, then the secondary model does;
    // after that the caller hears the apology rather than a long silence.
    llm: new FailoverLlm(
      [config.openai.model, config.openai.fallbackModel]
        .filter((model): model is string => model !== null)
        .map(
          (model, i) =>
            new OpenAiLlm({
              apiKey: openaiKey,
              baseUrl: urls?.openaiBaseUrl ?? config.openai.baseUrl,
              model,
              logger,
              name: i === 0 ? 'openai-llm' : 'openai-llm-fallback',
            }),
        ),
      { retries: 1, onFailover: failover('llm') },
    ),
    // ElevenLabs, then OpenAI TTS (resampled to 8 kHz mu-law); cached phrases cover both being down.
    tts: new FailoverTts(
      [
        new ElevenLabsTts({
          apiKey: config.elevenlabs.apiKey ?? 'demo-key',
          baseUrl: urls?.elevenlabsBaseUrl ?? config.elevenlabs.baseUrl,
          voiceId: config.elevenlabs.voiceId,
          modelId: config.elevenlabs.modelId,
          logger,
        }),
        new OpenAiTts({ apiKey: openaiKey, baseUrl: urls?.openaiBaseUrl ?? config.openai.baseUrl, logger }),
      ],
      { onFailover: failover('tts') },
    ),
    rest: new TwilioRest({
      accountSid: config.twilio.accountSid,
      authToken: config.twilio.authToken,
      apiBaseUrl: urls?.twilioApiBaseUrl ?? config.twilio.apiBaseUrl,
      logger,
    }),
  };
}
