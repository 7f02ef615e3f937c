import type { TtsProvider } from '../types';
import { ProviderError } from '../../platform/errors';

/**
 * ElevenLabs first, then the next provider (OpenAI TTS, resampled to 8 kHz mu-law). A provider is
 * abandoned only before its first byte: switching voices mid-sentence would be worse than an error.
 */
export class FailoverTts implements TtsProvider {
  readonly name: string;
  readonly #providers: readonly TtsProvider[];
  readonly #onFailover: (from: string, to: string, err: unknown) => void;

  constructor(
    providers: readonly TtsProvider[],
    opts: { onFailover?: (from: string, to: string, err: unknown) => void } = {},
  ) {
    if (providers.length === 0) throw new TypeError('FailoverTts needs at least one provider');
    this.#providers = providers;
    this.#onFailover = opts.onFailover ?? (() => undefined);
    this.name = providers.map((p) => p.name).join('>');
  }

  async *synthesize(text: string, opts: { signal: AbortSignal }): AsyncIterable<Buffer> {
    let lastError: unknown;
    for (let i = 0; i < this.#providers.length; i++) {
      const provider = this.#providers[i] as TtsProvider;
      let yielded = false;
      try {
        for await (const chunk of provider.synthesize(text, opts)) {
          yielded = true;
          yield chunk;
        }
        return;
      } catch (err) {
        if (yielded || opts.signal.aborted) throw err;
        lastError = err;
        // A request rejected as malformed fails everywhere; auth, quota and outages are the provider's.
        if (err instanceof ProviderError && isRequestProblem(err.status)) throw err;
        const next = this.#providers[i + 1];
        if (next) this.#onFailover(provider.name, next.name, err);
      }
    }
    throw lastError;
  }
}

function isRequestProblem(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500 && ![401, 402, 403, 408, 429].includes(status);
}
