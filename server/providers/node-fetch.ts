/**
 * A `fetch` for the provider SDKs (openai's `fetch` option, ElevenLabs' `fetch` option) built on
 * node:http with a keep-alive agent. The SDKs still build every request and parse every response;
 * this replaces only undici's WHATWG fetch algorithm underneath, which was most of the CPU a
 * provider request cost on the server (one LLM stream + one TTS stream per turn, plus a body chunk
 * every 100 ms of speech). Request bodies the SDKs send (JSON strings, bytes) go out as they are;
 * anything else falls back to the global fetch. Aborts reject with an `AbortError`, network failures
 * with `TypeError('fetch failed')`, as WHATWG fetch does, so the SDKs map them the same way.
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

export interface NodeFetchOptions {
  /** Idle keep-alive sockets are closed after this long (default 30 s). */
  readonly keepAliveMs?: number;
  /** Concurrent sockets per provider origin (default 1024; more requests wait for one). */
  readonly maxSockets?: number;
}

type FetchInput = Parameters<typeof fetch>[0];
type FetchInit = NonNullable<Parameters<typeof fetch>[1]>;

const NO_BODY_STATUS = new Set([101, 204, 205, 304]);

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const err = new Error('This operation was aborted', { cause: reason });
  err.name = 'AbortError';
  return err;
}

function requestBody(body: FetchInit['body']): string | Uint8Array | undefined | null {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return null; // streams, forms, blobs: not ours to re-implement
}

export function createNodeFetch(opts: NodeFetchOptions = {}): typeof fetch {
  const agentOptions = {
    keepAlive: true,
    keepAliveMsecs: 1000,
    maxSockets: opts.maxSockets ?? 1024,
    maxFreeSockets: opts.maxSockets ?? 1024,
    timeout: opts.keepAliveMs ?? 30_000,
    scheduling: 'lifo' as const,
  };
  const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };

  const nodeFetch = (input: FetchInput, init: FetchInit = {}): Promise<Response> => {
    const href = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const body = requestBody(init.body);
    const url = new URL(href);
    if (body === null || input instanceof Request || (url.protocol !== 'http:' && url.protocol !== 'https:'))
      return fetch(input, init);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(abortError(signal));

    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => (headers[key] = value));
    const method = init.method ?? 'GET';
    const agent = agents[url.protocol as 'http:' | 'https:'];

    const attempt = (firstTry: boolean): Promise<Response> =>
      new Promise<Response>((resolve, reject) => {
        const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, agent });
        let settled = false;
        let res: http.IncomingMessage | undefined;
        const onAbort = (): void => {
          const err = abortError(signal as AbortSignal);
          if (!settled) {
            settled = true;
            reject(err);
          }
          req.destroy(err);
          res?.destroy(err);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        const release = (): void => signal?.removeEventListener('abort', onAbort);

        req.on('error', (err: NodeJS.ErrnoException) => {
          release();
          if (settled) return;
          settled = true;
          // A kept-alive socket the server closed just as we reused it: nothing reached the
          // server, so the request is sent once more on a fresh connection (Node's documented
          // pattern for request.reusedSocket).
          if (firstTry && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
            resolve(attempt(false));
            return;
          }
          reject(new TypeError('fetch failed', { cause: err }));
        });
        req.on('response', (incoming) => {
          res = incoming;
          settled = true;
          incoming.on('close', release);
          const status = incoming.statusCode ?? 502;
          const responseHeaders = new Headers();
          for (let i = 0; i < incoming.rawHeaders.length; i += 2)
            responseHeaders.append(incoming.rawHeaders[i] as string, incoming.rawHeaders[i + 1] as string);
          const noBody = NO_BODY_STATUS.has(status) || method === 'HEAD';
          if (noBody) incoming.resume();
          const response = new Response(
            noBody ? null : (Readable.toWeb(incoming) as unknown as ReadableStream<Uint8Array>),
            { status, statusText: incoming.statusMessage ?? '', headers: responseHeaders },
          );
          Object.defineProperty(response, 'url', { value: href });
          resolve(response);
        });
        req.end(body);
      });
    return attempt(true);
  };
  return nodeFetch as typeof fetch;
}

let shared: typeof fetch | undefined;

/** The process-wide transport of the provider adapters: one keep-alive pool per provider origin. */
export function providerFetch(): typeof fetch {
  shared ??= createNodeFetch();
  return shared;
}
