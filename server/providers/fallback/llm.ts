import type { LlmChunk, LlmProvider } from '../types';
import { ProviderError } from '../../platform/errors';

/**
 * A failover adapter is just another provider (livekit agents-js `fallback_adapter`): each provider
 * in turn, with `retries` extra attempts on a retryable error (in a chain, a timeout goes straight
 * to the next provider), but only while nothing has been yielded: once the caller has heard
 * words, a silent restart would repeat them.
 */
export class FailoverLlm implements LlmProvider {
  readonly name: string;
  readonly #providers: readonly LlmProvider[];
  readonly #retries: number;
  readonly #onFailover: (from: string, to: string, err: unknown) => void;

  constructor(
    providers: readonly LlmProvider[],
    opts: { retries?: number; onFailover?: (from: string, to: string, err: unknown) => void } = {},
  ) {
    if (providers.length === 0) throw new TypeError('FailoverLlm needs at least one provider');
    this.#providers = providers;
    this.#retries = opts.retries ?? 1;
    this.#onFailover = opts.onFailover ?? (() => undefined);
    this.name = providers.map((p) => p.name).join('>');
  }

  async *stream(req: Parameters<LlmProvider['stream']>[0]): AsyncIterable<LlmChunk> {
    let lastError: unknown;
    for (let i = 0; i < this.#providers.length; i++) {
      const provider = this.#providers[i] as LlmProvider;
      for (let attempt = 0; attempt <= this.#retries; attempt++) {
        let yielded = false;
        try {
          for await (const chunk of provider.stream(req)) {
            yielded = true;
            yield chunk;
          }
          return;
        } catch (err) {
          if (yielded || req.signal.aborted) throw err;
          lastError = err;
          const retryable = !(err instanceof ProviderError) || err.retryable;
          // A model that did not start answering in time (408) is likely overloaded: with a
          // chain, the next one is asked instead of a retry, so a caller waits one timeout per
          // model, not two (10 s in all with two models, not 20).
          const timedOut = err instanceof ProviderError && err.status === 408;
          if (!retryable || (timedOut && this.#providers.length > 1)) break;
        }
      }
      const next = this.#providers[i + 1];
      if (next) this.#onFailover(provider.name, next.name, lastError);
    }
    throw lastError;
  }
}
