import net from 'node:net';

/**
 * A TCP proxy in front of the real Redis that a test can break in the two ways Redis goes away:
 * frozen, it holds every byte the client sends (a paused or black-holed server: connected but
 * silent) and lets them through on thaw; cut, it drops every connection and refuses new ones
 * until restored (Redis down).
 */
export class RedisProxy {
  readonly #server: net.Server;
  readonly #pairs = new Set<{ client: net.Socket; upstream: net.Socket; held: Buffer[] }>();
  #frozen = false;
  #cut = false;

  constructor(target: { host: string; port: number }) {
    this.#server = net.createServer((client) => {
      if (this.#cut) {
        client.destroy();
        return;
      }
      const upstream = net.connect(target.port, target.host);
      const pair = { client, upstream, held: [] as Buffer[] };
      this.#pairs.add(pair);
      client.on('data', (chunk) => (this.#frozen ? pair.held.push(chunk) : upstream.write(chunk)));
      upstream.on('data', (chunk) => client.write(chunk));
      const end = () => {
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      for (const s of [client, upstream]) {
        s.on('error', end);
        s.on('close', end);
      }
    });
  }

  static forUrl(url: string): RedisProxy {
    const u = new URL(url);
    return new RedisProxy({ host: u.hostname, port: Number(u.port || 6379) });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    return `redis://127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
  }

  freeze(): void {
    this.#frozen = true;
  }

  thaw(): void {
    this.#frozen = false;
    for (const p of this.#pairs) for (const chunk of p.held.splice(0)) p.upstream.write(chunk);
  }

  cut(): void {
    this.#cut = true;
    for (const p of this.#pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
  }

  restore(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.#cut = true;
    for (const p of this.#pairs) p.client.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
