/**
 * ElevenLabs emulator: HTTP streaming TTS (`POST /v1/text-to-speech/{voice}/stream`, PROTOCOLS.md
 * §3.1) and the stream-input WebSocket (§3.3, see elevenlabs-ws.ts). Audio is the synthetic tone of
 * audio.ts, in `ulaw_8000` or `pcm_<rate>`; its length follows the text.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { DEFAULT_MS_PER_CHAR, elevenLabsAudio, streamAudio } from './audio';
import { StreamInputSockets } from './elevenlabs-ws';
import { FaultQueue, Recorder, StandaloneEmulator, readBody, sendJson, type Fault } from './http';

export interface ElevenLabsRequest {
  voiceId: string;
  outputFormat: string;
  query: Record<string, string>;
  body: Record<string, unknown>;
}

export interface ElevenLabsEmulatorOptions {
  /** When set, only this `xi-api-key` is accepted; otherwise any non-empty one. */
  apiKey?: string;
  /** Default 150 ms, roughly what flash models take to the first byte. */
  firstByteMs?: number;
  chunkMs?: number;
  msPerChar?: number;
  /** Stream-input sockets close after this much silence from the client (ElevenLabs: 20 s). */
  inactivityMs?: number;
}

const STREAM_PATH = /^\/v1\/text-to-speech\/([^/]+)\/stream$/;
const STREAM_INPUT_PATH = /^\/v1\/text-to-speech\/([^/]+)\/stream-input$/;

export class ElevenLabsEmulator extends StandaloneEmulator {
  readonly requests = new Recorder<ElevenLabsRequest>();
  /** Faults for HTTP requests; stream-input sockets draw from `sockets.faults`. */
  readonly faults = new FaultQueue();
  readonly timing: { firstByteMs: number; chunkMs: number };
  readonly sockets: StreamInputSockets;
  readonly #apiKey: string | undefined;
  readonly #msPerChar: number;

  constructor(opts: ElevenLabsEmulatorOptions = {}) {
    super();
    this.#apiKey = opts.apiKey;
    this.#msPerChar = opts.msPerChar ?? DEFAULT_MS_PER_CHAR;
    this.timing = { firstByteMs: opts.firstByteMs ?? 150, chunkMs: opts.chunkMs ?? 20 };
    this.sockets = new StreamInputSockets({
      acceptsKey: (key) => this.acceptsKey(key),
      timing: this.timing,
      msPerChar: this.#msPerChar,
      inactivityMs: opts.inactivityMs ?? 20_000,
    });
  }

  fail(fault: Fault, times = 1): void {
    this.faults.inject(fault, times);
  }

  acceptsKey(key: string | undefined): boolean {
    return !!key && (this.#apiKey === undefined || key === this.#apiKey);
  }

  baseUrlFor(origin: string): string {
    return origin;
  }

  handleRequest(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const voiceId = STREAM_PATH.exec(url.pathname)?.[1];
    if (voiceId === undefined || req.method !== 'POST') return false;
    this.#serve(req, res, url, decodeURIComponent(voiceId), performance.now()).catch((err: unknown) =>
      sendJson(res, 500, { detail: { status: 'internal_error', message: String(err) } }),
    );
    return true;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): boolean {
    const voiceId = STREAM_INPUT_PATH.exec(url.pathname)?.[1];
    if (voiceId === undefined) return false;
    this.sockets.accept(req, socket, head, url, decodeURIComponent(voiceId));
    return true;
  }

  shutdown(): void {
    this.sockets.shutdown();
  }

  async #serve(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    voiceId: string,
    arrivedAt: number,
  ): Promise<void> {
    const key = req.headers['xi-api-key'];
    if (!this.acceptsKey(typeof key === 'string' ? key : undefined)) {
      sendJson(res, 401, { detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
    } catch {
      sendJson(res, 400, { detail: { status: 'invalid_json', message: 'Body is not valid JSON' } });
      return;
    }
    if (typeof body.text !== 'string' || body.text.trim() === '') {
      sendJson(res, 422, {
        detail: [{ loc: ['body', 'text'], msg: 'field required', type: 'value_error.missing' }],
      });
      return;
    }
    const outputFormat = url.searchParams.get('output_format') ?? 'mp3_44100_128';
    const audio = elevenLabsAudio(body.text, outputFormat, this.#msPerChar);
    if (!audio) {
      sendJson(res, 400, {
        detail: { status: 'unsupported_output_format', message: `emulator cannot produce ${outputFormat}` },
      });
      return;
    }
    this.requests.add({ voiceId, outputFormat, query: Object.fromEntries(url.searchParams), body });
    await streamAudio(res, audio.bytes, {
      contentType: audio.contentType,
      arrivedAt,
      firstByteMs: this.timing.firstByteMs,
      chunkMs: this.timing.chunkMs,
      // 100 ms of audio per chunk, whatever the format.
      chunkBytes: Math.max(2, Math.round(audio.bytesPerMs * 100)),
      fault: this.faults.take(),
      errorBody: (status) => ({ detail: { status: 'emulated_error', message: `emulated ${status}` } }),
    });
  }
}
