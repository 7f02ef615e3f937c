/**
 * PostgreSQL down at ring time. The product reaches Postgres through a TCP gate this test holds:
 * cutting it drops every connection and refuses new ones, as a crashed or unreachable server
 * does, while the shared PostgreSQL keeps serving the other test files.
 */
import net from 'node:net';
import { createDb } from '../../server/platform/postgres';
import { PHRASES } from '../../server/conversation/phrases';
import { DATABASE_URL } from '../support/pg';
import { startStack, type Stack } from './harness';
import { agentReply, restRequests, until } from './flow';

jest.setTimeout(60_000);

/** A TCP hop in front of PostgreSQL that can be cut (every socket dropped, new ones refused). */
class PgGate {
  readonly #server = net.createServer((client) => this.#accept(client));
  readonly #sockets = new Set<net.Socket>();
  #up = true;
  port = 0;

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.port = (this.#server.address() as net.AddressInfo).port;
    return this;
  }

  url(): string {
    const u = new URL(DATABASE_URL);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  cut(): void {
    this.#up = false;
    for (const s of this.#sockets) s.destroy();
  }

  restore(): void {
    this.#up = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  #accept(client: net.Socket): void {
    if (!this.#up) {
      client.destroy();
      return;
    }
    const target = new URL(DATABASE_URL);
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }
}

type GatedStack = Stack & { gate: PgGate };

/** The stack as harness.ts builds it, except that the product's pool goes through the gate. */
async function startGatedStack(opts: { pgUpAtStart: boolean }): Promise<GatedStack> {
  const gate = await new PgGate().start();
  if (!opts.pgUpAtStart) gate.cut();
  const stack = await startStack({
    env: { MAX_CONCURRENT_CALLS: '1' },
    emulators: { elevenlabs: { msPerChar: 5 } },
    db: (tdb) => createDb({ url: gate.url(), searchPath: tdb.searchPath, max: 4 }),
    // What a ring synthesises is asserted: nothing may be synthesised ahead of it.
    warmPhrases: false,
  });
  return {
    ...stack,
    gate,
    async close() {
      await stack.close();
      await gate.close();
    },
  };
}

const synthesised = (stack: GatedStack) =>
  stack.emulators.elevenlabs.requests.all.map((r) => String(r.body.text));

describe('Postgres down after the dealership was loaded at start', () => {
  let stack: GatedStack;
  beforeAll(async () => {
    stack = await startGatedStack({ pgUpAtStart: true });
  });
  afterAll(async () => {
    await stack.close();
  });
  afterEach(() => {
    jest.restoreAllMocks();
    stack.gate.restore();
  });

  it('once the facts are past their TTL: TwiML, the greeting names the dealership, and the stream plays', async () => {
    stack.gate.cut();
    // Well past the dealership cache's 60 s: only the last good value can answer now.
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 120_000);
    const caller = stack.caller({ from: '+13125550199' });
    const ring = await caller.placeCall();
    expect(ring.status).toBe(200);
    expect(ring.streamUrl).toBeDefined();
    expect(synthesised(stack)).toContain(
      'Thanks for calling Bayline Motors service. How can I help you today?',
    );
    // media-stream.ts reads the dealership again at `start`; served stale, the call goes on.
    await caller.connect();
    await agentReply(caller, 0);
    expect(caller.closeCode).toBeUndefined();
    expect(caller.media.length).toBeGreaterThan(0);
    await caller.stop();
  });

  it('a failure after admission gives the slot back and hands the caller to the desk', async () => {
    // Nothing on this path fails on its own any more; a throwing synthesis stands for the unforeseen.
    const spy = jest.spyOn(stack.phrases, 'get').mockImplementationOnce(() => {
      throw new Error('synthesis unavailable');
    });
    const failing = stack.caller({ from: '+13125550142' });
    const ring = await failing.placeCall();
    expect(spy).toHaveBeenCalled();
    expect(ring.status).toBe(200);
    expect(ring.streamUrl).toBeUndefined();
    expect(ring.body).toContain('<Dial>+13125550100</Dial>');
    expect(ring.body).toContain('<Say');
    // MAX_CONCURRENT_CALLS is 1: a held slot would send the next caller to the desk as overflow.
    const next = stack.caller({ from: '+13125550199' });
    expect((await next.placeCall()).streamUrl).toBeDefined();
    await stack.postStatus(next.callSid, 'completed');
  });
});

describe('Postgres down since start (the dealership never loaded)', () => {
  let stack: GatedStack;
  beforeAll(async () => {
    stack = await startGatedStack({ pgUpAtStart: false });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('the webhook still answers with <Connect><Stream>, greeting without the dealership name', async () => {
    const caller = stack.caller({ from: '+13125550142' });
    const started = Date.now();
    const ring = await caller.placeCall();
    expect(ring.status).toBe(200);
    expect(ring.streamUrl).toBeDefined();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(synthesised(stack)).toContain(
      'Thanks for calling the dealership service. How can I help you today?',
    );
    expect(await stack.postStatus(caller.callSid, 'completed')).toMatchObject({ status: 204 });
  });

  it('the stream is not closed (1011): the caller hears why and is put through to the desk', async () => {
    const caller = stack.caller({ from: '+13125550199' });
    const ring = await caller.placeCall();
    expect(ring.streamUrl).toBeDefined();
    await caller.connect();
    const transfers = () => restRequests(stack, caller.callSid).filter((r) => r.form.Twiml);
    // The announcement plays out, its mark comes back, and the live call is sent to the desk.
    await until(() => transfers().length > 0, 15_000);
    expect(transfers()[0]?.form.Twiml).toContain('<Dial>+13125550100</Dial>');
    expect(synthesised(stack)).toContain(PHRASES.handOffNoFacts);
    expect(caller.media.length).toBeGreaterThan(0);
    expect(caller.closeCode).toBeUndefined();
    await caller.stop();
  });
});
