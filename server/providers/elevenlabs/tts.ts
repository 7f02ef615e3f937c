/**
 * TtsProvider over ElevenLabs HTTP streaming (`/v1/text-to-speech/{voice}/stream`) with
 * `output_format=ulaw_8000`: the bytes are Twilio's format already, so they go out untouched.
 * One request per sentence keeps barge-in simple: cancelling is aborting one HTTP request.
 */
import type { ElevenLabsClient } from '@elevenlabs/elevenlabs-js';
import { fetcher as sdkFetcher, type FetchFunction } from '@elevenlabs/elevenlabs-js/core';
import { ProviderError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import { providerFetch } from '../node-fetch';
import { StreamGuard } from '../openai/stream-guard';
import type { TtsProvider } from '../types';
import { elevenLabsSdk } from './sdk';

const { ElevenLabsClient: Client, ElevenLabsError } = elevenLabsSdk();

export interface ElevenLabsTtsOptions {
  apiKey: string;
  /** `https://api.elevenlabs.io` or an emulator. */
  baseUrl: string;
  voiceId: string;
  /** e.g. `eleven_flash_v2_5` (lowest latency). */
  modelId: string;
  logger: Logger;
  /** 0–4; 3 is the lowest latency that keeps text normalisation. */
  optimizeStreamingLatency?: number;
  /** No bytes (or no response) for this long aborts the request as a retryable error. */
  idleTimeoutMs?: number;
  /** Upper bound on one utterance's output (mu-law bytes, 8000 per second). */
  maxOutputBytes?: number;
  /** The SDK's transport (default: providerFetch, node:http with keep-alive). */
  fetch?: typeof fetch;
}

export class ElevenLabsTts implements TtsProvider {
  readonly name = 'elevenlabs-tts';
  readonly #client: ElevenLabsClient;
  readonly #opts: ElevenLabsTtsOptions;
  readonly #log: Logger;

  constructor(opts: ElevenLabsTtsOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ provider: this.name, voiceId: opts.voiceId });
    this.#client = new Client({
      apiKey: opts.apiKey,
      baseUrl: opts.baseUrl,
      maxRetries: 0,
      fetch: opts.fetch ?? providerFetch(),
      fetcher: untimedFetcher,
    });
  }

  async *synthesize(text: string, opts: { signal: AbortSignal }): AsyncIterable<Buffer> {
    const guard = new StreamGuard(opts.signal, this.#opts.idleTimeoutMs ?? 5_000);
    const maxBytes = this.#opts.maxOutputBytes ?? 8000 * 120;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let total = 0;
    try {
      const audio = await this.#client.textToSpeech.stream(
        this.#opts.voiceId,
        {
          text,
          modelId: this.#opts.modelId,
          outputFormat: 'ulaw_8000',
          optimizeStreamingLatency: this.#opts.optimizeStreamingLatency ?? 3,
        },
        { abortSignal: guard.signal, maxRetries: 0 },
      );
      reader = audio.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          guard.complete();
          break;
        }
        guard.touch();
        total += value.length;
        if (total > maxBytes)
          throw new ProviderError(this.name, 'speech output too long', { retryable: false });
        if (value.length > 0) yield Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      }
    } catch (err) {
      if (guard.cancelledByCaller) return;
      const mapped = this.#toProviderError(err, guard.idled);
      this.#log.warn({ err: mapped, status: mapped.status }, 'tts stream failed');
      throw mapped;
    } finally {
      guard.dispose();
      reader?.cancel().catch(() => undefined);
    }
  }

  #toProviderError(err: unknown, idled: boolean): ProviderError {
    if (err instanceof ProviderError) return err;
    if (idled) return new ProviderError(this.name, 'speech stream idle', { cause: err, status: 408 });
    if (err instanceof ElevenLabsError && err.statusCode !== undefined) {
      return new ProviderError(this.name, `speech synthesis failed (status ${err.statusCode})`, {
        status: err.statusCode,
        cause: err,
      });
    }
    return new ProviderError(this.name, 'speech synthesis failed', { cause: err });
  }
}

/**
 * The SDK arms a request timer (240 s for streams) and clears it only when a response arrives; a
 * connection that fails first leaves it running, holding the process open for minutes (2.73.0,
 * core/fetcher/makeRequest). StreamGuard already times every request, so the SDK's timer is off.
 */
const untimedFetcher: FetchFunction = (args) => sdkFetcher({ ...args, timeoutMs: undefined });
