/**
 * TtsProvider over OpenAI `POST /v1/audio/speech`, the fallback when ElevenLabs fails. OpenAI has no
 * mu-law or 8 kHz output (PROTOCOLS.md §2.5), so it asks for raw 24 kHz PCM and converts as the bytes
 * stream in; the first frame can leave before the whole sentence has been synthesised.
 */
import type OpenAI from 'openai';
import { ProviderError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import type { TtsProvider } from '../types';
import { toProviderError } from './errors';
import { Pcm24kToMulaw8k } from './resample';
import { createOpenAiClient } from './client';
import { StreamGuard } from './stream-guard';

export interface OpenAiTtsOptions {
  apiKey: string;
  baseUrl: string;
  /** `gpt-4o-mini-tts`, `tts-1`, … */
  model?: string;
  voice?: string;
  logger: Logger;
  /** No bytes for this long aborts the request as a retryable error. */
  idleTimeoutMs?: number;
  /** Upper bound on one utterance's output (mu-law bytes, 8000 per second). */
  maxOutputBytes?: number;
  /** The SDK's transport (default: providerFetch, node:http with keep-alive). */
  fetch?: typeof fetch;
}

export class OpenAiTts implements TtsProvider {
  readonly name = 'openai-tts';
  readonly #client: OpenAI;
  readonly #opts: OpenAiTtsOptions;
  readonly #log: Logger;

  constructor(opts: OpenAiTtsOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ provider: this.name });
    this.#client = createOpenAiClient(opts);
  }

  async *synthesize(text: string, opts: { signal: AbortSignal }): AsyncIterable<Buffer> {
    const guard = new StreamGuard(opts.signal, this.#opts.idleTimeoutMs ?? 10_000);
    const maxBytes = this.#opts.maxOutputBytes ?? 8000 * 120;
    const converter = new Pcm24kToMulaw8k();
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let total = 0;
    try {
      const response = await this.#client.audio.speech.create(
        {
          model: this.#opts.model ?? 'gpt-4o-mini-tts',
          voice: this.#opts.voice ?? 'alloy',
          input: text,
          response_format: 'pcm',
        },
        { signal: guard.signal },
      );
      if (!response.body) throw new ProviderError(this.name, 'speech response has no body');
      reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          guard.complete();
          break;
        }
        guard.touch();
        const mulaw = converter.push(value);
        total += mulaw.length;
        if (total > maxBytes)
          throw new ProviderError(this.name, 'speech output too long', { retryable: false });
        if (mulaw.length > 0) yield mulaw;
      }
    } catch (err) {
      if (guard.cancelledByCaller) return;
      const mapped = guard.idled
        ? new ProviderError(this.name, 'speech stream idle', { cause: err, status: 408 })
        : toProviderError(this.name, 'speech synthesis failed', err);
      this.#log.warn({ err: mapped, status: mapped.status }, 'tts stream failed');
      throw mapped;
    } finally {
      guard.dispose();
      // Releases the socket when the consumer stops early (barge-in) or the bound trips.
      reader?.cancel().catch(() => undefined);
    }
  }
}
