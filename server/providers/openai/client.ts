import OpenAI from 'openai';
import { providerFetch } from '../node-fetch';

/**
 * The OpenAI SDK client every OpenAI adapter uses. Retries belong to the caller, which knows the
 * turn's remaining latency budget. The SDK's own console logging is off: it would print raw model
 * output (caller PII) outside pino's redaction. The transport is node:http (node-fetch.ts) unless
 * one is given.
 */
export function createOpenAiClient(opts: { apiKey: string; baseUrl: string; fetch?: typeof fetch }): OpenAI {
  return new OpenAI({
    apiKey: opts.apiKey,
    baseURL: opts.baseUrl,
    maxRetries: 0,
    logLevel: 'off',
    fetch: opts.fetch ?? providerFetch(),
  });
}
