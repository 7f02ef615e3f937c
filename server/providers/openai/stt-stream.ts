/**
 * One call's transcription socket, kept alive across drops. push() runs ~50 times a second per call
 * and never waits: while a socket is being (re)built a bounded backlog is kept, and anything beyond
 * it (or beyond a congested socket) is dropped and counted. Event times are reported on the caller's
 * audio timeline, so they stay monotonic when a new socket restarts the server's clock at zero.
 */
import WebSocket from 'ws';
import { ProviderError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import type { SttEvent, SttStream } from '../types';

export interface SttStreamSettings {
  url: string;
  headers: Record<string, string>;
  /** The serialised session update, sent first on every socket. */
  sessionUpdate: string;
  connectTimeoutMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
  watchdogMs: number;
  maxPendingBytes: number;
  maxSocketBufferBytes: number;
}

const PROVIDER = 'openai-stt';
const BYTES_PER_MS = 8;
/** 40 ms of 8 kHz mu-law per append. */
const BATCH_BYTES = 320;
/** 200 ms per append while the line is quiet and no speech is open at the provider. */
const HOLD_BYTES = 1600;
/**
 * Quiet for this long (1 s of audio) before holding: a sound may have opened speech at the provider
 * before its speech_started reaches us (its VAD, then the network), and the silence after that sound
 * runs the provider's end-of-turn clock. Holding it would delay a short "yes" by up to 200 ms.
 */
const SETTLE_BYTES = 8000;
/** Partial transcripts are kept per item until its final arrives; a few turns in flight at most. */
const MAX_PARTIAL_ITEMS = 8;

type State = 'starting' | 'open' | 'reconnecting' | 'closed';

export class OpenAiSttStream implements SttStream {
  readonly #s: SttStreamSettings;
  readonly #log: Logger;
  readonly #signal: AbortSignal;
  readonly #onAbort = () => void this.close();
  readonly #listeners: Array<(event: SttEvent) => void> = [];
  readonly #partials = new Map<string, string>();
  #state: State = 'starting';
  #ws: WebSocket | undefined;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Every byte pushed, sent or dropped: the caller's audio timeline. */
  #clockBytes = 0;
  /** Caller-timeline ms at which the current socket's audio begins. */
  #offsetMs = 0;
  #lastActivityAt = 0;
  #lastAudioAt = 0;
  #lastPingAt = 0;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  readonly stats = { sentBytes: 0, appends: 0, droppedBytes: 0, reconnects: 0 };
  /** Frames gathered for the next append (room for a few oversize frames). */
  readonly #batch = Buffer.allocUnsafe(4096);
  #batchLen = 0;
  /** Between the provider's speech_started and speech_stopped: its end-of-turn clock is running. */
  #providerSpeech = false;
  /** Audio since the last frame that was not quiet (the call starts settled). */
  #quietBytes = SETTLE_BYTES;

  constructor(settings: SttStreamSettings, log: Logger, signal: AbortSignal) {
    this.#s = settings;
    this.#log = log;
    this.#signal = signal;
  }

  async start(): Promise<void> {
    if (this.#signal.aborted) throw new Error('aborted before open');
    this.#signal.addEventListener('abort', this.#onAbort, { once: true });
    await this.#connect();
    const tick = Math.max(50, Math.min(1_000, Math.floor(this.#s.watchdogMs / 4)));
    this.#watchdog = setInterval(() => this.#checkAlive(), tick);
  }

  /**
   * The hot path: Twilio's 20 ms frames are gathered into 40 ms appends. One socket send per frame
   * was the server's largest CPU cost under load (24 %); the bytes are unchanged, and speech-stopped
   * comes at most 20 ms later.
   *
   * `quiet` (the caller's line is silent by our own energy detector) lets frames wait for a 200 ms
   * append once the line has been quiet for a second, unless the provider has speech open: then the
   * silence it needs to end the turn goes out at once. The first frame that is not quiet sends
   * everything held with it, so speech reaches the provider as early as before and end-of-turn is
   * not delayed; only fewer messages carry silence.
   */
  pushBase64(payload: string, bytes: number, quiet = false): void {
    const ws = this.#ws;
    if (this.#state === 'open' && ws?.readyState === WebSocket.OPEN && this.#pending.length === 0) {
      this.#clockBytes += bytes;
      if (ws.bufferedAmount > this.#s.maxSocketBufferBytes) {
        this.stats.droppedBytes += bytes;
        return;
      }
      if (this.#batchLen + bytes > this.#batch.length) this.#flushBatch(ws);
      this.#batchLen += this.#batch.write(payload, this.#batchLen, 'base64');
      this.#quietBytes = quiet ? this.#quietBytes + bytes : 0;
      const hold = quiet && !this.#providerSpeech && this.#quietBytes > SETTLE_BYTES;
      if (this.#batchLen >= (hold ? HOLD_BYTES : BATCH_BYTES)) this.#flushBatch(ws);
      return;
    }
    // Reconnecting: what was gathered, and this frame, join the raw backlog like push().
    if (this.#batchLen > 0) {
      const held = Buffer.from(this.#batch.subarray(0, this.#batchLen));
      this.#clockBytes -= held.length;
      this.#batchLen = 0;
      this.push(held);
    }
    this.push(Buffer.from(payload, 'base64'));
  }

  #flushBatch(ws: WebSocket): void {
    if (this.#batchLen === 0) return;
    ws.send(
      `{"type":"input_audio_buffer.append","audio":"${this.#batch.toString('base64', 0, this.#batchLen)}"}`,
    );
    this.stats.sentBytes += this.#batchLen;
    this.stats.appends++;
    this.#lastAudioAt = Date.now();
    this.#batchLen = 0;
  }

  push(mulaw: Buffer): void {
    this.#clockBytes += mulaw.length;
    const ws = this.#ws;
    if (this.#state === 'open' && ws?.readyState === WebSocket.OPEN) {
      if (ws.bufferedAmount > this.#s.maxSocketBufferBytes) {
        this.stats.droppedBytes += mulaw.length;
        return;
      }
      this.#send(ws, mulaw);
      return;
    }
    if (this.#state === 'closed') {
      this.stats.droppedBytes += mulaw.length;
      return;
    }
    this.#pending.push(mulaw);
    this.#pendingBytes += mulaw.length;
    while (this.#pendingBytes > this.#s.maxPendingBytes) {
      const oldest = this.#pending.shift();
      if (!oldest) break;
      this.#pendingBytes -= oldest.length;
      this.stats.droppedBytes += oldest.length;
    }
  }

  onEvent(listener: (event: SttEvent) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed' && !this.#ws) return;
    this.#state = 'closed';
    // Audio still held for a larger append: the call is over, nobody will hear it transcribed.
    this.stats.droppedBytes += this.#batchLen;
    this.#batchLen = 0;
    this.#signal.removeEventListener('abort', this.#onAbort);
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#watchdog);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#partials.clear();
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws) await closeSocket(ws);
  }

  #send(ws: WebSocket, mulaw: Buffer): void {
    // Base64 needs no JSON escaping; building the string directly skips an object per frame.
    ws.send(`{"type":"input_audio_buffer.append","audio":"${mulaw.toString('base64')}"}`);
    this.stats.sentBytes += mulaw.length;
    this.stats.appends++;
    this.#lastAudioAt = Date.now();
  }

  #connect(): Promise<void> {
    const ws = new WebSocket(this.#s.url, {
      headers: this.#s.headers,
      handshakeTimeout: this.#s.connectTimeoutMs,
      // ws offers permessage-deflate by default. Accepted, every append (10–25 a second per call)
      // would go through zlib, which ws runs at most 10 at a time for the whole process: CPU and a
      // queue on the hot path, for base64 audio that deflates by a quarter at best.
      perMessageDeflate: false,
    });
    this.#ws = ws;
    ws.on('message', (data) => this.#onMessage(ws, data));
    ws.on('pong', () => {
      this.#lastActivityAt = Date.now();
    });
    ws.on('close', (code) => this.#onClose(ws, code));
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.send(this.#s.sessionUpdate);
        this.#offsetMs = (this.#clockBytes - this.#pendingBytes) / BYTES_PER_MS;
        this.#state = 'open';
        this.#lastActivityAt = Date.now();
        const backlog = this.#pending;
        this.#pending = [];
        this.#pendingBytes = 0;
        for (const chunk of backlog) this.#send(ws, chunk);
        resolve();
      });
      ws.on('error', (err) => {
        // Also the listener that keeps a socket error from becoming an uncaught exception; after
        // 'open' the promise is settled and reject is a no-op, 'close' drives the reconnect.
        this.#log.debug({ err }, 'stt socket error');
        reject(err);
      });
    });
  }

  #onClose(ws: WebSocket, code: number): void {
    if (ws !== this.#ws || this.#state === 'closed' || this.#state === 'starting') return;
    if (this.#state === 'open') {
      this.#log.warn({ code, droppedBytes: this.stats.droppedBytes }, 'stt socket dropped');
      this.#emit({
        type: 'error',
        error: new ProviderError(PROVIDER, 'transcription socket dropped'),
        fatal: false,
      });
    }
    this.#state = 'reconnecting';
    this.#providerSpeech = false;
    this.#partials.clear();
    if (this.#attempt >= this.#s.maxAttempts) {
      this.#log.error({ attempts: this.#attempt }, 'stt reconnect gave up');
      this.#emit({
        type: 'error',
        error: new ProviderError(PROVIDER, 'transcription reconnect gave up'),
        fatal: true,
      });
      void this.close();
      return;
    }
    const delay = Math.min(this.#s.maxDelayMs, this.#s.initialDelayMs * 2 ** this.#attempt);
    this.#attempt++;
    this.stats.reconnects++;
    this.#reconnectTimer = setTimeout(() => {
      // A failed attempt closes its socket, which lands in #onClose again with a longer delay.
      this.#connect().catch(() => undefined);
    }, delay);
  }

  #checkAlive(): void {
    const ws = this.#ws;
    if (this.#state !== 'open' || !ws) return;
    const now = Date.now();
    const audioFlowing = now - this.#lastAudioAt < this.#s.watchdogMs;
    if (audioFlowing && now - this.#lastActivityAt > this.#s.watchdogMs) {
      this.#log.warn({ silentMs: now - this.#lastActivityAt }, 'stt socket silent, reconnecting');
      ws.terminate();
      return;
    }
    // Pongs prove liveness while the caller is quiet and the server has nothing to say.
    if (now - this.#lastPingAt >= this.#s.watchdogMs / 3) {
      this.#lastPingAt = now;
      ws.ping();
    }
  }

  #onMessage(ws: WebSocket, data: WebSocket.RawData): void {
    if (ws !== this.#ws) return;
    this.#lastActivityAt = Date.now();
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(String(data)) as Record<string, unknown>;
    } catch {
      this.#log.warn('stt server sent a non-JSON message');
      return;
    }
    const itemId = typeof msg.item_id === 'string' ? msg.item_id : '';
    switch (msg.type) {
      case 'session.updated':
      case 'transcription_session.updated':
        // Only a session that accepted our configuration counts as a successful reconnect.
        this.#attempt = 0;
        return;
      case 'input_audio_buffer.speech_started':
        this.#providerSpeech = true;
        // Its end-of-turn clock runs on what it has: anything held goes now, not with the next frame.
        if (ws.readyState === WebSocket.OPEN) this.#flushBatch(ws);
        this.#emit({ type: 'speech_started', atMs: this.#offsetMs + numberOr(msg.audio_start_ms, 0) });
        return;
      case 'input_audio_buffer.speech_stopped':
        this.#providerSpeech = false;
        this.#emit({ type: 'speech_stopped', atMs: this.#offsetMs + numberOr(msg.audio_end_ms, 0) });
        return;
      case 'conversation.item.input_audio_transcription.delta': {
        if (typeof msg.delta !== 'string' || msg.delta === '') return;
        const text = (this.#partials.get(itemId) ?? '') + msg.delta;
        if (!this.#partials.has(itemId) && this.#partials.size >= MAX_PARTIAL_ITEMS) this.#partials.clear();
        this.#partials.set(itemId, text);
        this.#emit({ type: 'partial', text });
        return;
      }
      case 'conversation.item.input_audio_transcription.completed':
        this.#partials.delete(itemId);
        this.#emit({ type: 'final', text: typeof msg.transcript === 'string' ? msg.transcript.trim() : '' });
        return;
      case 'conversation.item.input_audio_transcription.failed':
        this.#partials.delete(itemId);
        this.#emit({
          type: 'error',
          error: new ProviderError(PROVIDER, 'transcription failed'),
          fatal: false,
        });
        return;
      case 'error': {
        const code = (msg.error as { code?: unknown } | undefined)?.code;
        this.#log.warn({ code }, 'stt server reported an error');
        this.#emit({
          type: 'error',
          error: new ProviderError(PROVIDER, `transcription server error (${String(code)})`, {
            retryable: false,
          }),
          fatal: false,
        });
        return;
      }
      default:
        return;
    }
  }

  #emit(event: SttEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#log.error({ err, event: event.type }, 'stt listener threw');
      }
    }
  }
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function closeSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => ws.terminate(), 1_000);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000);
  });
}
