import OpenAI from 'openai';
import { ProviderError } from '../../platform/errors';

/** SDK errors carry the HTTP status; ProviderError turns it into `retryable` (408/429/5xx). */
export function toProviderError(provider: string, message: string, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof OpenAI.APIError && err.status !== undefined) {
    return new ProviderError(provider, `${message} (status ${err.status})`, {
      status: err.status,
      cause: err,
    });
  }
  // Connection failures, timeouts and malformed streams carry no status: worth one more try.
  return new ProviderError(provider, message, { cause: err });
}
