/**
 * OpenAI text-to-speech emulator (`POST /v1/audio/speech`, PROTOCOLS.md §2.5). Produces `pcm` (raw
 * 24 kHz 16-bit little-endian) or `wav`; compressed formats are refused with a 400 because the
 * emulator has no encoder for them, and it is better to fail loudly than to send fake MP3.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_MS_PER_CHAR, speechDurationMs, streamAudio, tonePcm16, wavHeader } from './audio';
import { FaultQueue, Recorder, StandaloneEmulator, sendJson, type Fault } from './http';
import { openAiError, readAuthorizedJson } from './openai-chat';

export interface SpeechRequestBody {
  model?: string;
  input?: string;
  voice?: unknown;
  response_format?: string;
  [key: string]: unknown;
}

export interface SpeechEmulatorOptions {
  apiKey?: string;
  firstByteMs?: number;
  chunkMs?: number;
  msPerChar?: number;
}

const RATE = 24000;
/** 100 ms of 24 kHz 16-bit audio per chunk. */
const CHUNK_BYTES = 4800;

export class SpeechEmulator extends StandaloneEmulator {
  readonly requests = new Recorder<SpeechRequestBody>();
  readonly faults = new FaultQueue();
  readonly timing: { firstByteMs: number; chunkMs: number };
  readonly #apiKey: string | undefined;
  readonly #msPerChar: number;

  constructor(opts: SpeechEmulatorOptions = {}) {
    super();
    this.#apiKey = opts.apiKey;
    this.#msPerChar = opts.msPerChar ?? DEFAULT_MS_PER_CHAR;
    this.timing = { firstByteMs: opts.firstByteMs ?? 100, chunkMs: opts.chunkMs ?? 0 };
  }

  fail(fault: Fault, times = 1): void {
    this.faults.inject(fault, times);
  }

  baseUrlFor(origin: string): string {
    return `${origin}/v1`;
  }

  handleRequest(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    if (url.pathname !== '/v1/audio/speech' || req.method !== 'POST') return false;
    this.#serve(req, res, performance.now()).catch((err: unknown) =>
      sendJson(res, 500, openAiError(String(err), 'server_error')),
    );
    return true;
  }

  shutdown(): void {
    // Responses end with their connections, which the server closes.
  }

  async #serve(req: IncomingMessage, res: ServerResponse, arrivedAt: number): Promise<void> {
    const body = await readAuthorizedJson<SpeechRequestBody>(req, res, this.#apiKey);
    if (!body) return;
    const format = body.response_format ?? 'mp3';
    if (
      typeof body.model !== 'string' ||
      typeof body.input !== 'string' ||
      !body.input ||
      body.input.length > 4096 ||
      !body.voice
    ) {
      sendJson(
        res,
        400,
        openAiError("'model', 'input' (1-4096 chars) and 'voice' are required.", 'invalid_request_error'),
      );
      return;
    }
    if (format !== 'pcm' && format !== 'wav') {
      sendJson(
        res,
        400,
        openAiError(`the emulator produces only pcm and wav, not ${format}`, 'invalid_request_error'),
      );
      return;
    }
    this.requests.add(body);
    const pcm = tonePcm16(speechDurationMs(body.input, this.#msPerChar), RATE);
    const audio = format === 'wav' ? Buffer.concat([wavHeader(pcm.length, RATE), pcm]) : pcm;
    await streamAudio(res, audio, {
      contentType: format === 'wav' ? 'audio/wav' : 'audio/pcm',
      arrivedAt,
      firstByteMs: this.timing.firstByteMs,
      chunkMs: this.timing.chunkMs,
      chunkBytes: CHUNK_BYTES,
      fault: this.faults.take(),
      errorBody: (status) =>
        openAiError(`emulated ${status}`, status >= 500 ? 'server_error' : 'invalid_request_error'),
    });
  }
}
