import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNodeFetch } from '../../../server/providers/node-fetch';

describe('createNodeFetch (the provider SDKs’ transport)', () => {
  const sockets = new Set<number>();
  let origin = '';
  let holdOpen: http.ServerResponse | undefined;
  const servedOn = new WeakMap<object, number>();
  const server = http.createServer((req, res) => {
    sockets.add(req.socket.remotePort ?? 0);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/echo') {
        res.writeHead(201, { 'content-type': 'application/json', 'x-request-id': 'req_1' });
        res.end(
          JSON.stringify({
            method: req.method,
            query: url.search,
            auth: req.headers.authorization,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      } else if (url.pathname === '/stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let n = 0;
        const timer = setInterval(() => {
          res.write(`data: ${n++}\n\n`);
          if (n === 3) {
            clearInterval(timer);
            res.end();
          }
        }, 5);
      } else if (url.pathname === '/hang') {
        res.writeHead(200, { 'content-type': 'audio/basic' });
        res.write(Buffer.alloc(800, 0x7f));
        holdOpen = res;
      } else if (url.pathname === '/closes-on-reuse') {
        // The second request on a connection finds it closed, as when a server's keep-alive
        // timeout fires just as the client reuses the socket.
        const served = (servedOn.get(req.socket) ?? 0) + 1;
        servedOn.set(req.socket, served);
        if (served > 1) {
          req.socket.destroy();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      } else if (url.pathname === '/drop') {
        res.writeHead(200, { 'content-type': 'audio/basic' });
        res.write(Buffer.alloc(800, 0x7f));
        setTimeout(() => req.socket.destroy(), 5);
      } else {
        res.writeHead(204);
        res.end();
      }
    });
  });
  const nodeFetch = createNodeFetch();

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    holdOpen?.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => sockets.clear());

  it('sends method, headers and a JSON body; returns status, headers and body as fetch does', async () => {
    const res = await nodeFetch(`${origin}/echo?a=1`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Hello' }),
    });
    expect(res.status).toBe(201);
    expect(res.ok).toBe(true);
    expect(res.headers.get('x-request-id')).toBe('req_1');
    expect(res.url).toBe(`${origin}/echo?a=1`);
    expect(await res.json()).toEqual({
      method: 'POST',
      query: '?a=1',
      auth: 'Bearer sk-test',
      body: '{"text":"Hello"}',
    });
    const empty = await nodeFetch(`${origin}/none`);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it('streams the body chunk by chunk and keeps one connection alive across requests', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await nodeFetch(`${origin}/stream`);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      let reads = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        reads++;
        text += Buffer.from(value).toString();
      }
      expect(text).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\n');
      expect(reads).toBeGreaterThan(1);
    }
    expect(sockets.size).toBe(1);
  });

  it('an abort before or during the response rejects or errors with an AbortError', async () => {
    const before = new AbortController();
    before.abort();
    await expect(nodeFetch(`${origin}/echo`, { signal: before.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });

    const during = new AbortController();
    const res = await nodeFetch(`${origin}/hang`, { signal: during.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).value?.length).toBe(800);
    during.abort(new Error('barge-in'));
    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('sends a request once more on a fresh connection when a reused one turns out closed', async () => {
    const first = await nodeFetch(`${origin}/closes-on-reuse`, { method: 'POST', body: '{"n":1}' });
    expect(await first.json()).toEqual({ ok: true });
    const second = await nodeFetch(`${origin}/closes-on-reuse`, { method: 'POST', body: '{"n":2}' });
    expect(await second.json()).toEqual({ ok: true });
    expect(sockets.size).toBe(2);
  });

  it('a refused connection is a TypeError, and a connection dropped mid-body errors the stream', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(nodeFetch(`http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(TypeError);

    const res = await nodeFetch(`${origin}/drop`);
    await expect(res.arrayBuffer()).rejects.toThrow();
  });
});
