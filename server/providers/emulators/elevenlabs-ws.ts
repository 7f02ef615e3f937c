/**
 * ElevenLabs stream-input WebSocket emulation (PROTOCOLS.md §3.3): an initialising `{"text":" "}`,
 * text buffered until `chunk_length_schedule` (or `flush`) releases it, AudioOutput messages with
 * base64 audio and per-character alignment, `{"text":""}` → remaining audio, `{"isFinal":true}`,
 * close. Sockets idle longer than the inactivity timeout are closed, as ElevenLabs does.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { FaultQueue, Recorder } from './http';
import { elevenLabsAudio } from './audio';

export interface StreamInputSettings {
  acceptsKey: (key: string | undefined) => boolean;
  timing: { firstByteMs: number };
  msPerChar: number;
  inactivityMs: number;
}

export interface StreamInputSession {
  voiceId: string;
  outputFormat: string;
  modelId: string | null;
  /** Every text fragment the client sent, in order. */
  texts: string[];
}

const DEFAULT_SCHEDULE = [120, 160, 250, 290];

export class StreamInputSockets {
  readonly sessions = new Recorder<StreamInputSession>();
  /** Per socket: `drop` closes it abruptly after `afterChunks` audio messages; `stall` never sends audio. */
  readonly faults = new FaultQueue();
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #settings: StreamInputSettings;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(settings: StreamInputSettings) {
    this.#settings = settings;
  }

  accept(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, voiceId: string): void {
    const outputFormat = url.searchParams.get('output_format') ?? 'mp3_44100_128';
    if (!elevenLabsAudio(' ', outputFormat, 1)) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    const header = req.headers['xi-api-key'];
    const preauthorised =
      this.#settings.acceptsKey(typeof header === 'string' ? header : undefined) ||
      this.#settings.acceptsKey(url.searchParams.get('authorization')?.replace(/^Bearer\s+/i, ''));
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const session: StreamInputSession = {
        voiceId,
        outputFormat,
        modelId: url.searchParams.get('model_id'),
        texts: [],
      };
      this.sessions.add(session);
      this.#run(ws, session, preauthorised);
    });
  }

  shutdown(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const ws of this.#wss.clients) ws.terminate();
  }

  #run(ws: WebSocket, session: StreamInputSession, preauthorised: boolean): void {
    const fault = this.faults.take();
    let initialised = false;
    let buffer = '';
    let schedule = DEFAULT_SCHEDULE;
    let step = 0;
    let sentChunks = 0;
    // Generations are sent strictly in order, each after the first-byte latency.
    let queue = Promise.resolve();
    let idle: NodeJS.Timeout | undefined;

    const later = (ms: number) => new Promise<void>((resolve) => this.#after(ms, resolve));
    const resetIdle = () => {
      if (idle) this.#clear(idle);
      idle = this.#after(this.#settings.inactivityMs, () => ws.close(1008, 'inactivity timeout'));
    };
    const generate = (text: string) => {
      // The latency counts from when the text was released, as the HTTP emulators' from arrival.
      const due = performance.now() + this.#settings.timing.firstByteMs;
      queue = queue.then(async () => {
        if (fault?.kind === 'stall' || ws.readyState !== WebSocket.OPEN) return;
        await later(Math.max(0, due - performance.now()));
        if (fault?.kind === 'drop' && sentChunks >= (fault.afterChunks ?? 1)) return void ws.terminate();
        ws.send(JSON.stringify(this.#audioMessage(text, session.outputFormat)));
        sentChunks++;
      });
    };
    const release = (all: boolean) => {
      const threshold = schedule[Math.min(step, schedule.length - 1)] ?? 120;
      if (buffer.trim() && (all || buffer.length >= threshold)) {
        generate(buffer);
        buffer = '';
        step++;
      }
    };

    resetIdle();
    ws.on('error', () => ws.terminate());
    ws.on('close', () => idle && this.#clear(idle));
    ws.on('message', (data) => {
      resetIdle();
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(String(data)) as Record<string, unknown>;
      } catch {
        return void ws.close(1007, 'invalid JSON');
      }
      if (!initialised) {
        const key = msg['xi-api-key'] ?? msg.xi_api_key;
        if (!preauthorised && !this.#settings.acceptsKey(typeof key === 'string' ? key : undefined)) {
          return void ws.close(1008, 'invalid_api_key');
        }
        if (msg.text !== ' ') return void ws.close(1008, 'the first message must have text " "');
        const given = (msg.generation_config as { chunk_length_schedule?: unknown } | undefined)
          ?.chunk_length_schedule;
        if (Array.isArray(given) && given.every((n) => typeof n === 'number')) schedule = given as number[];
        initialised = true;
        return;
      }
      if (typeof msg.text !== 'string') return;
      if (msg.text === '') {
        release(true);
        queue = queue.then(() => {
          if (ws.readyState !== WebSocket.OPEN || fault?.kind === 'stall') return;
          ws.send(JSON.stringify({ isFinal: true, audio: null }));
          ws.close(1000);
        });
        return;
      }
      session.texts.push(msg.text);
      buffer += msg.text;
      release(msg.flush === true);
    });
  }

  #audioMessage(text: string, outputFormat: string): Record<string, unknown> {
    const ms = this.#settings.msPerChar;
    const audio = elevenLabsAudio(text, outputFormat, ms);
    const chars = [...text];
    const alignment = {
      chars,
      charStartTimesMs: chars.map((_, i) => i * ms),
      charsDurationsMs: chars.map(() => ms),
    };
    return {
      audio: audio?.bytes.toString('base64') ?? '',
      isFinal: false,
      normalizedAlignment: alignment,
      alignment,
    };
  }

  #after(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
    return t;
  }

  #clear(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.#timers.delete(t);
  }
}
