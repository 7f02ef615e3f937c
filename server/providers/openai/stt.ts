/**
 * SttProvider over the OpenAI Realtime API in transcription mode (PROTOCOLS.md §2.4). The socket is
 * opened with `ws` directly: the SDK's `OpenAIRealtimeWS` forces `wss:` and, in openai 6.x, cannot
 * ask for `intent=transcription`. Audio is declared `audio/pcmu`, so Twilio's bytes go through as is.
 */
import { ProviderError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import type { SttProvider, SttStream } from '../types';
import { OpenAiSttStream, type SttStreamSettings } from './stt-stream';

export interface OpenAiSttOptions {
  apiKey: string;
  /** `wss://api.openai.com/v1/realtime?intent=transcription`, or an emulator's `ws://` URL. */
  realtimeUrl: string;
  /** Transcription model, e.g. `gpt-4o-transcribe`. */
  model: string;
  language?: string;
  logger: Logger;
  /**
   * `ga` (default): `session.update` with `type: "transcription"`. `beta`: the `OpenAI-Beta:
   * realtime=v1` header and `transcription_session.update` with `g711_ulaw`.
   */
  api?: 'ga' | 'beta';
  vad?: { threshold?: number; prefixPaddingMs?: number; silenceDurationMs?: number };
  /** Handshake timeout for every (re)connection. */
  connectTimeoutMs?: number;
  /** Exponential backoff after a drop; after `maxAttempts` failures in a row the stream gives up (fatal error). */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  /** No server message or pong for this long while audio flows: the socket is presumed dead and replaced. */
  watchdogMs?: number;
  /** Audio held while (re)connecting; older audio is dropped first. */
  maxPendingMs?: number;
  /** Beyond this many unsent bytes in the socket, audio is dropped rather than queued. */
  maxSocketBufferBytes?: number;
}

export class OpenAiStt implements SttProvider {
  readonly name = 'openai-stt';
  readonly #settings: SttStreamSettings;
  readonly #log: Logger;

  constructor(opts: OpenAiSttOptions) {
    this.#log = opts.logger.child({ provider: this.name });
    const api = opts.api ?? 'ga';
    const headers: Record<string, string> = { Authorization: `Bearer ${opts.apiKey}` };
    if (api === 'beta') headers['OpenAI-Beta'] = 'realtime=v1';
    this.#settings = {
      url: opts.realtimeUrl,
      headers,
      sessionUpdate: JSON.stringify(sessionUpdate(api, opts)),
      connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
      initialDelayMs: opts.reconnect?.initialDelayMs ?? 250,
      maxDelayMs: opts.reconnect?.maxDelayMs ?? 4_000,
      maxAttempts: opts.reconnect?.maxAttempts ?? 6,
      watchdogMs: opts.watchdogMs ?? 6_000,
      maxPendingBytes: (opts.maxPendingMs ?? 1_000) * 8,
      maxSocketBufferBytes: opts.maxSocketBufferBytes ?? 64 * 1024,
    };
  }

  /** Resolves once the first socket is open; a failure there is the caller's to handle (no retry). */
  async open(opts: { signal: AbortSignal; callSid: string }): Promise<SttStream> {
    const stream = new OpenAiSttStream(
      this.#settings,
      this.#log.child({ callSid: opts.callSid }),
      opts.signal,
    );
    try {
      await stream.start();
    } catch (err) {
      await stream.close();
      const status = /Unexpected server response: (\d+)/.exec(err instanceof Error ? err.message : '')?.[1];
      throw new ProviderError(this.name, 'transcription socket failed to open', {
        cause: err,
        status: status === undefined ? undefined : Number(status),
      });
    }
    return stream;
  }
}

function sessionUpdate(api: 'ga' | 'beta', opts: OpenAiSttOptions): Record<string, unknown> {
  const transcription = { model: opts.model, ...(opts.language ? { language: opts.language } : {}) };
  const turnDetection = {
    type: 'server_vad',
    threshold: opts.vad?.threshold ?? 0.5,
    prefix_padding_ms: opts.vad?.prefixPaddingMs ?? 300,
    silence_duration_ms: opts.vad?.silenceDurationMs ?? 500,
  };
  if (api === 'beta') {
    return {
      type: 'transcription_session.update',
      session: {
        input_audio_format: 'g711_ulaw',
        input_audio_transcription: transcription,
        turn_detection: turnDetection,
      },
    };
  }
  return {
    type: 'session.update',
    session: {
      type: 'transcription',
      audio: { input: { format: { type: 'audio/pcmu' }, transcription, turn_detection: turnDetection } },
    },
  };
}
