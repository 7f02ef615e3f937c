/**
 * OpenAI Realtime transcription emulator: the WebSocket at `/v1/realtime?intent=transcription`.
 * Sessions (realtime-session.ts) do VAD and fixture recognition; this class owns the sockets and
 * the faults a resilient client must survive: dropped sockets, a server gone silent (no events, no
 * pongs), refused handshakes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { FixtureIndex, defaultFixturesDir } from './fixture-index';
import { Recorder, StandaloneEmulator, bearerOf } from './http';
import { TranscriptionSession, type SessionRecord } from './realtime-session';

export interface RealtimeEmulatorOptions {
  apiKey?: string;
  /** Directory with `manifest.json` and the `.ulaw` fixtures; missing → nothing is recognised. */
  fixturesDir?: string;
  /** Delay from speech stop to the transcript. */
  transcriptDelayMs?: number;
  /** Transcript for speech that matches no fixture. */
  unknownTranscript?: string;
  /** Appended audio kept per session for tests to compare (default 256 KiB, 32 s); 0 keeps none. */
  keepAudioBytes?: number;
}

export class RealtimeTranscriptionEmulator extends StandaloneEmulator {
  readonly sessions = new Recorder<SessionRecord>(100);
  transcriptDelayMs: number;
  /** While true, nothing is sent: no events and no pongs, as if the server hung. */
  silent = false;
  readonly #apiKey: string | undefined;
  readonly #fixturesDir: string;
  readonly #unknownTranscript: string;
  readonly #keepAudioBytes: number;
  readonly #wss = new WebSocketServer({ noServer: true, autoPong: false });
  readonly #live = new Map<WebSocket, TranscriptionSession>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #scripted: string[] = [];
  #refusals: Array<{ status: number; left: number }> = [];
  #index = FixtureIndex.empty();
  #connections = 0;

  constructor(opts: RealtimeEmulatorOptions = {}) {
    super();
    this.#apiKey = opts.apiKey;
    this.#fixturesDir = opts.fixturesDir ?? defaultFixturesDir();
    this.transcriptDelayMs = opts.transcriptDelayMs ?? 100;
    this.#unknownTranscript = opts.unknownTranscript ?? '';
    this.#keepAudioBytes = opts.keepAudioBytes ?? 256 * 1024;
  }

  /** Loads the fixture index; called by `start()`, and by a combined server before mounting. */
  async prepare(): Promise<void> {
    try {
      this.#index = await FixtureIndex.load(this.#fixturesDir);
    } catch {
      this.#index = FixtureIndex.empty();
    }
  }

  override async start(): Promise<{ url: string }> {
    await this.prepare();
    return super.start();
  }

  get fixtureCount(): number {
    return this.#index.fixtures.length;
  }

  /** Sockets accepted so far (reconnects show up here). */
  get connectionCount(): number {
    return this.#connections;
  }

  /** The next turns get these transcripts, whatever the audio. */
  scriptTranscripts(...texts: string[]): void {
    this.#scripted.push(...texts);
  }

  /** Cuts every live socket without a close frame, as a network failure would. */
  dropConnections(): void {
    for (const ws of this.#live.keys()) ws.terminate();
  }

  /** The next `times` handshakes are answered with this HTTP status. */
  refuseConnections(status: number, times = 1): void {
    this.#refusals.push({ status, left: times });
  }

  /** Clears scripted transcripts, pending refusals and silence. */
  resetFaults(): void {
    this.#refusals = [];
    this.#scripted.length = 0;
    this.silent = false;
  }

  baseUrlFor(origin: string): string {
    return `${origin.replace(/^http/, 'ws')}/v1/realtime?intent=transcription`;
  }

  handleRequest(_req: IncomingMessage, _res: ServerResponse, _url: URL): boolean {
    return false;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): boolean {
    if (url.pathname !== '/v1/realtime') return false;
    const key = bearerOf(req);
    const refusal = this.#refusals[0];
    const status = !key || (this.#apiKey !== undefined && key !== this.#apiKey) ? 401 : refusal?.status;
    if (status !== undefined) {
      if (status !== 401 && refusal && --refusal.left <= 0) this.#refusals.shift();
      socket.end(`HTTP/1.1 ${status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return true;
    }
    const api = req.headers['openai-beta'] === 'realtime=v1' ? 'beta' : 'ga';
    const extensions = req.headers['sec-websocket-extensions'];
    this.#wss.handleUpgrade(req, socket, head, (ws) =>
      this.#accept(ws, url.searchParams.get('intent'), api, extensions),
    );
    return true;
  }

  shutdown(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const ws of this.#live.keys()) ws.terminate();
  }

  #accept(ws: WebSocket, intent: string | null, api: 'ga' | 'beta', extensions: string | undefined): void {
    this.#connections++;
    const session = new TranscriptionSession(intent, api, {
      index: this.#index,
      send: (event) => {
        if (!this.silent && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(event));
      },
      nextScripted: () => this.#scripted.shift(),
      transcriptDelayMs: () => this.transcriptDelayMs,
      unknownTranscript: this.#unknownTranscript,
      keepAudioBytes: this.#keepAudioBytes,
      schedule: (ms, fn) => {
        const t = setTimeout(() => {
          this.#timers.delete(t);
          if (ws.readyState === WebSocket.OPEN) fn();
        }, ms);
        this.#timers.add(t);
      },
    });
    session.record.offeredExtensions = extensions;
    this.sessions.add(session.record);
    this.#live.set(ws, session);
    ws.on('ping', (data) => {
      if (!this.silent) ws.pong(data);
    });
    ws.on('message', (data) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(String(data)) as Record<string, unknown>;
      } catch {
        return;
      }
      session.handle(msg);
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      session.record.closed = true;
      this.#live.delete(ws);
    });
  }
}
