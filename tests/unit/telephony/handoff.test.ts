import { ClusterRouter } from '../../../server/platform/cluster';
import { AudioClip } from '../../../server/conversation/phrases';
import { CallRegistry, type PreparedCall } from '../../../server/telephony/call-registry';
import { ClusterLink, type ClusterPort } from '../../../server/telephony/handoff';
import type { SttStream } from '../../../server/providers/types';

/**
 * Two workers and a primary in one process, wired as Node's IPC delivers: each message is
 * structured-cloned (a Buffer arrives as a Uint8Array), and whatever is queued for a worker arrives
 * in one synchronous batch, as messages that share one read of the channel do.
 */
function cluster(opts: { claimTimeoutMs?: number; primarySilent?: boolean; max?: number } = {}) {
  const router = new ClusterRouter({ metrics: async () => 'bayline_active_calls 2' });
  const listeners = new Map<number, (msg: unknown) => void>();
  const queues = new Map<number, unknown[]>();
  const deliver = (id: number, msg: object) => {
    const q = queues.get(id) ?? [];
    queues.set(id, q);
    q.push(structuredClone(msg));
    if (q.length === 1)
      setImmediate(() => {
        const batch = q.splice(0);
        for (const m of batch) listeners.get(id)?.(m);
      });
  };
  const port = (id: number): ClusterPort => {
    router.add(id, { send: (msg) => deliver(id, msg) });
    return {
      send: (msg) => {
        if (!opts.primarySilent) setImmediate(() => router.receive(id, structuredClone(msg) as never));
      },
      on: (_event, fn) => listeners.set(id, fn),
    };
  };
  const linkOpts = opts.claimTimeoutMs === undefined ? {} : { claimTimeoutMs: opts.claimTimeoutMs };
  const a = new ClusterLink(port(1), linkOpts);
  const b = new ClusterLink(port(2), linkOpts);
  const registryA = new CallRegistry({ maxConcurrentCalls: opts.max ?? 10, peers: a });
  const registryB = new CallRegistry({ maxConcurrentCalls: opts.max ?? 10, peers: b });
  a.serve(registryA);
  b.serve(registryB);
  return { router, a, b, registryA, registryB };
}

function ring(registry: CallRegistry, callSid: string, greeting: AudioClip) {
  const closed = jest.fn(async () => undefined);
  registry.admit(callSid);
  const prepared: PreparedCall = {
    callSid,
    fromE164: '+13125550142',
    toE164: '+13125550100',
    customer: null,
    greetingText: 'Hi Dana, thanks for calling Bayline Motors service. How can I help you today?',
    greetingAudio: greeting,
    stt: Promise.resolve({ close: closed } as unknown as SttStream),
    admittedAt: 1,
  };
  registry.prepare(prepared);
  return { closed };
}

async function bytesOf(clip: AudioClip): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of clip.stream()) out.push(chunk);
  return Buffer.concat(out);
}

const tick = () => new Promise((r) => setImmediate(r));

describe('ClusterLink: a stream that lands on another worker claims what its ring prepared', () => {
  it('hands over the call facts and the whole greeting, sent in the same batch as the answer', async () => {
    const c = cluster();
    const greeting = new AudioClip();
    for (let i = 0; i < 30; i++) greeting.append(Buffer.alloc(160, i));
    greeting.end();
    const { closed } = ring(c.registryA, 'CA1', greeting);
    await tick();
    expect(c.router.ringing).toBe(1);

    const { result, prepared } = await c.b.claim('CA1');
    expect(result).toBe('claimed');
    expect(prepared).toMatchObject({
      callSid: 'CA1',
      fromE164: '+13125550142',
      toE164: '+13125550100',
      greetingText: 'Hi Dana, thanks for calling Bayline Motors service. How can I help you today?',
      stt: null,
    });
    const heard = await bytesOf((prepared as PreparedCall).greetingAudio);
    expect(heard.equals(Buffer.concat(greeting.chunks))).toBe(true);
    // The ringing worker gave up the slot and its speech-to-text socket, and told the primary.
    expect(c.registryA.active).toBe(0);
    await tick();
    expect(closed).toHaveBeenCalled();
    expect(c.router.ringing).toBe(0);
  });

  it('relays a greeting still being synthesised as its chunks arrive', async () => {
    const c = cluster();
    const greeting = new AudioClip();
    greeting.append(Buffer.from([1, 2]));
    ring(c.registryA, 'CA2', greeting);
    await tick();
    const { prepared } = await c.b.claim('CA2');
    const clip = (prepared as PreparedCall).greetingAudio;
    const heard = bytesOf(clip);
    await tick();
    await tick();
    expect(Buffer.concat(clip.chunks)).toEqual(Buffer.from([1, 2]));
    greeting.append(Buffer.from([3]));
    greeting.end();
    expect(await heard).toEqual(Buffer.from([1, 2, 3]));
  });

  it("fails the claimant's greeting when synthesis fails on the ringing worker", async () => {
    const c = cluster();
    const greeting = new AudioClip();
    ring(c.registryA, 'CA3', greeting);
    await tick();
    const { prepared } = await c.b.claim('CA3');
    greeting.fail(new Error('TTS down'));
    await expect((prepared as PreparedCall).greetingAudio.finished).rejects.toThrow(
      'greeting synthesis failed',
    );
  });

  it('says unknown for a call no worker rang, and timeout when the primary does not answer', async () => {
    expect(await cluster().b.claim('CA-nobody')).toEqual({ result: 'unknown', prepared: null });
    const silent = cluster({ primarySilent: true, claimTimeoutMs: 20 });
    expect(await silent.b.claim('CA1')).toEqual({ result: 'timeout', prepared: null });
  });

  it('does not hand over a call its own worker is already streaming', async () => {
    const c = cluster();
    ring(c.registryA, 'CA4', AudioClip.of(Buffer.from([9])));
    c.registryA.take('CA4');
    await tick();
    expect(await c.b.claim('CA4')).toEqual({ result: 'unknown', prepared: null });
    expect(c.registryA.isStreaming('CA4')).toBe(true);
  });

  it('fetches the metrics the primary aggregated, and drains when told', async () => {
    const c = cluster();
    expect(await c.a.metrics()).toBe('bayline_active_calls 2');
    const drained = jest.fn();
    c.a.onDrain(drained);
    c.router.broadcast({ type: 'bayline:drain' });
    await tick();
    expect(drained).toHaveBeenCalledTimes(1);
  });

  it("admits against the whole server's limit, counting the other worker's calls", async () => {
    const c = cluster({ max: 3 });
    expect(c.registryA.admit('CA1')).toBe(true);
    expect(c.registryA.admit('CA2')).toBe(true);
    await tick();
    await tick();
    expect(c.b.othersActive()).toBe(2);
    expect(c.registryB.admit('CA3')).toBe(true);
    await tick();
    await tick();
    // Three live between them: neither takes a fourth, though each holds fewer than three.
    expect(c.registryA.admit('CA4')).toBe(false);
    expect(c.registryB.admit('CA4')).toBe(false);
    c.registryA.release('CA1');
    await tick();
    await tick();
    expect(c.registryB.admit('CA4')).toBe(true);
  });
});
