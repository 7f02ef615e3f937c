/**
 * The plumbing every emulator shares: a loopback HTTP server that several emulators can be mounted
 * on (OpenAI's chat, speech and realtime endpoints share one base URL, as they do for real), body
 * and auth helpers, timers that die with their response, and a queue of injected faults.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export interface EmulatorRoute {
  /** Returns false when the request is not this route's, so the next route may take it. */
  handleRequest(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
  handleUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): boolean;
  /** Ends every socket and timer the route holds; called when its server closes. */
  shutdown(): void;
}

export class LoopbackServer {
  readonly #routes: EmulatorRoute[];
  readonly #server: Server;

  constructor(routes: EmulatorRoute[]) {
    this.#routes = routes;
    this.#server = createServer((req, res) => this.#onRequest(req, res));
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (!this.#routes.some((r) => r.handleUpgrade?.(req, socket, head, url))) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      }
    });
    this.#server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Listens on 127.0.0.1, port 0; resolves with `http://127.0.0.1:<port>`. */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const r of this.#routes) r.shutdown();
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.on('error', () => res.destroy());
    res.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!this.#routes.some((r) => r.handleRequest(req, res, url))) {
      sendJson(res, 404, { error: { message: `no emulated route for ${req.method} ${url.pathname}` } });
    }
  }
}

/** One emulator served alone; `start()` resolves with the URL its adapter's base-URL setting takes. */
export abstract class StandaloneEmulator implements EmulatorRoute {
  #server: LoopbackServer | undefined;

  async start(): Promise<{ url: string }> {
    if (this.#server) throw new Error('emulator already started');
    const server = new LoopbackServer([this]);
    this.#server = server;
    return { url: this.baseUrlFor(await server.start()) };
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server) await server.close();
  }

  /** Maps the server origin to the base URL adapters are configured with. */
  abstract baseUrlFor(origin: string): string;
  abstract handleRequest(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
  abstract shutdown(): void;
}

export async function readBody(req: IncomingMessage, limit = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function bearerOf(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/**
 * Waits until `since + ms` (performance.now() time): an emulated latency counts from the request's
 * arrival, as a provider's does, so the emulator's own parsing and reply building are inside it
 * rather than added to it. Resolves false if the response closed meanwhile.
 */
export function pauseFrom(res: ServerResponse, since: number, ms: number): Promise<boolean> {
  return pause(res, since + ms - performance.now());
}

/**
 * Resolves true after `ms`, or false as soon as the response's connection closes (client gone,
 * server closing), so an emulator never keeps a timer alive for a dead request.
 */
export function pause(res: ServerResponse, ms: number): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(true);
    }, ms);
    res.once('close', onClose);
  });
}

/** Writes and waits for the socket to drain, so a slow reader paces the emulator. */
export function write(res: ServerResponse, chunk: string | Buffer): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

export type Fault =
  /** Answer with this HTTP status (and the vendor's error body). */
  | { kind: 'status'; status: number }
  /** Accept the request and never answer; with `afterChunks`, stop after that many chunks. */
  | { kind: 'stall'; afterChunks?: number }
  /** Destroy the socket mid-response after `afterChunks` chunks (default 1). */
  | { kind: 'drop'; afterChunks?: number }
  /** Send a malformed body (bad JSON in SSE, or junk bytes). */
  | { kind: 'garbage' };

/** Faults apply to the next requests in order; each is used `times` times. */
export class FaultQueue {
  readonly #queue: Array<{ fault: Fault; left: number }> = [];

  inject(fault: Fault, times = 1): void {
    this.#queue.push({ fault, left: times });
  }

  /** The fault for the request being served, if any. */
  take(): Fault | undefined {
    const head = this.#queue[0];
    if (!head) return undefined;
    head.left--;
    if (head.left <= 0) this.#queue.shift();
    return head.fault;
  }

  clear(): void {
    this.#queue.length = 0;
  }
}

/** Holds at most `limit` entries, oldest dropped: demo mode runs for days. */
export class Recorder<T> {
  readonly #items: T[] = [];
  readonly #limit: number;

  constructor(limit = 1000) {
    this.#limit = limit;
  }

  add(item: T): void {
    this.#items.push(item);
    if (this.#items.length > this.#limit) this.#items.shift();
  }

  get all(): readonly T[] {
    return this.#items;
  }

  get last(): T | undefined {
    return this.#items.at(-1);
  }

  clear(): void {
    this.#items.length = 0;
  }
}
