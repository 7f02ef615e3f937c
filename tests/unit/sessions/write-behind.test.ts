import { createMetrics } from '../../../server/platform/metrics';
import {
  SessionWriteBehind,
  isTransient,
  type SessionBatch,
  type SessionWrite,
  type WriteIo,
} from '../../../server/sessions/write-behind';

/** Redis as the layer sees it: up or down, every round trip recorded, or held until released. */
class FakeIo implements WriteIo {
  down = false;
  hold = false;
  readonly sent: Array<{ callSid: string; kind: 'single' | 'replay' | 'remove'; what: unknown }> = [];
  readonly held: Array<{ ok(): void; fail(): void }> = [];
  turns = new Map<string, string[]>();

  #roundTrip<T>(
    callSid: string,
    kind: 'single' | 'replay' | 'remove',
    what: unknown,
    apply: () => T,
  ): Promise<T> {
    this.sent.push({ callSid, kind, what });
    if (this.hold)
      return new Promise((resolve, reject) =>
        this.held.push({ ok: () => resolve(apply()), fail: () => reject(new Error('Command timed out')) }),
      );
    if (this.down)
      return Promise.reject(new Error("Stream isn't writeable and enableOfflineQueue options is false"));
    return Promise.resolve(apply());
  }

  single(callSid: string, write: SessionWrite): Promise<number> {
    return this.#roundTrip(callSid, 'single', write, () => {
      if (write.op !== 'append') return 1;
      const list = this.turns.get(callSid) ?? [];
      list.push(write.value);
      this.turns.set(callSid, list);
      return list.length;
    });
  }

  replay(callSid: string, batch: SessionBatch): Promise<number> {
    return this.#roundTrip(callSid, 'replay', structuredClone(batch), () => {
      const list = this.turns.get(callSid) ?? [];
      list.push(...batch.turns);
      this.turns.set(callSid, list);
      return list.length;
    });
  }

  remove(callSid: string): Promise<void> {
    return this.#roundTrip(callSid, 'remove', null, () => {
      this.turns.delete(callSid);
    });
  }
}

const append = (value: string): SessionWrite => ({ op: 'append', value });
const update = (fields: Record<string, string>): SessionWrite => ({ op: 'update', fields, collected: null });

async function counter(
  metrics: ReturnType<typeof createMetrics>,
  name: 'sessionWritesDropped' | 'sessionWritesQueued' | 'sessionWritesReplayed',
) {
  const { values } = await metrics[name].get();
  return values.reduce((n, v) => n + v.value, 0);
}

const settle = () => new Promise((r) => setImmediate(r));

describe('session write-behind', () => {
  let io: FakeIo;
  let metrics: ReturnType<typeof createMetrics>;
  let wb: SessionWriteBehind;
  const make = (limits: ConstructorParameters<typeof SessionWriteBehind>[0]['limits'] = {}) => {
    wb = new SessionWriteBehind({ io, metrics, limits: { firstRetryMs: 10, maxRetryMs: 20, ...limits } });
    return wb;
  };
  beforeEach(() => {
    io = new FakeIo();
    metrics = createMetrics();
  });
  afterEach(async () => {
    await wb?.close();
  });

  it('writes straight through while Redis answers', async () => {
    make();
    expect(await wb.submit('CA1', append('t1'))).toBe(1);
    expect(await wb.submit('CA1', append('t2'))).toBe(2);
    expect(io.sent.map((s) => s.kind)).toEqual(['single', 'single']);
    expect(wb.queuedCalls).toBe(0);
  });

  it('queues a failed write and everything after it, and replays them in order', async () => {
    make();
    io.down = true;
    expect(await wb.submit('CA1', append('t1'))).toBe(-1);
    expect(await wb.submit('CA1', update({ state: 'thinking' }))).toBe(1);
    expect(await wb.submit('CA1', append('t2'))).toBe(-1);
    expect(await wb.submit('CA1', update({ state: 'listening', speaking: '0' }))).toBe(1);
    expect(wb.queuedCalls).toBe(1);
    expect(await counter(metrics, 'sessionWritesQueued')).toBe(4);
    io.down = false;
    await waitFor(() => wb.queuedCalls === 0);
    expect(io.turns.get('CA1')).toEqual(['t1', 't2']);
    const replay = io.sent.filter((s) => s.kind === 'replay').at(-1)?.what as SessionBatch;
    expect(replay.fields).toEqual({ state: 'listening', speaking: '0' });
    expect(await counter(metrics, 'sessionWritesReplayed')).toBe(4);
  });

  it("never overlaps a call's writes: an older patch cannot land over a newer one", async () => {
    make();
    io.hold = true;
    const first = wb.submit('CA1', update({ state: 'thinking' }));
    const second = wb.submit('CA1', update({ state: 'listening' }));
    const third = wb.submit('CA1', append('t1'));
    // Only the first is on the wire; the rest wait behind it.
    expect(io.sent).toHaveLength(1);
    io.hold = false;
    io.down = true;
    io.held.shift()?.fail();
    expect(await first).toBe(1);
    expect(await second).toBe(1);
    expect(await third).toBe(-1);
    io.down = false;
    await waitFor(() => wb.queuedCalls === 0);
    const replay = io.sent.at(-1)?.what as SessionBatch;
    expect(replay.fields).toEqual({ state: 'listening' });
    expect(replay.turns).toEqual(['t1']);
  });

  it("bounds a call's queued turns, dropping the oldest and counting them", async () => {
    make({ turnsPerCall: 200 });
    io.down = true;
    for (let i = 0; i < 250; i++) await wb.submit('CA1', append(`t${i}`));
    expect(wb.queuedTurns('CA1')).toBe(200);
    expect(await counter(metrics, 'sessionWritesDropped')).toBe(50);
    io.down = false;
    await waitFor(() => wb.queuedCalls === 0);
    expect(io.turns.get('CA1')).toEqual(Array.from({ length: 200 }, (_, i) => `t${i + 50}`));
  });

  it('bounds the calls with queues, dropping the oldest call', async () => {
    make({ calls: 3 });
    io.down = true;
    for (const sid of ['CA1', 'CA2', 'CA3', 'CA4', 'CA5']) await wb.submit(sid, append(`${sid}-t`));
    expect(wb.queuedCalls).toBe(3);
    expect(wb.queuedTurns('CA1')).toBe(0);
    expect(wb.queuedTurns('CA5')).toBe(1);
    expect(await counter(metrics, 'sessionWritesDropped')).toBe(2);
    io.down = false;
    await waitFor(() => wb.queuedCalls === 0);
    expect([...io.turns.keys()].sort()).toEqual(['CA3', 'CA4', 'CA5']);
  });

  it('backs off while Redis stays down, one probe at a time', async () => {
    make({ firstRetryMs: 20, maxRetryMs: 80 });
    io.down = true;
    for (const sid of ['CA1', 'CA2', 'CA3']) await wb.submit(sid, append('t'));
    io.sent.length = 0;
    await new Promise((r) => setTimeout(r, 400));
    // 20 + 40 + 80 + 80 + 80 ≈ 300 ms: about five probes, each one call's queue, not three.
    expect(io.sent.length).toBeGreaterThanOrEqual(3);
    expect(io.sent.length).toBeLessThanOrEqual(7);
    io.down = false;
    await waitFor(() => wb.queuedCalls === 0);
    expect(io.turns.size).toBe(3);
  });

  it('delete drops the call’s queue, and no late replay or late failure brings it back', async () => {
    make();
    io.down = true;
    await wb.submit('CA1', append('t1'));
    await wb.submit('CA1', update({ state: 'speaking' }));
    await wb.remove('CA1');
    expect(await wb.submit('CA1', append('late'))).toBe(0);
    io.down = false;
    await waitFor(() => wb.queuedCalls === 0);
    expect(io.sent.filter((s) => s.kind === 'replay')).toEqual([]);
    expect(io.sent.at(-1)?.kind).toBe('remove');
    expect(io.turns.has('CA1')).toBe(false);

    // A write in flight when the call ends, failing after: not queued.
    io.hold = true;
    const inFlight = wb.submit('CA2', append('t1'));
    io.hold = false;
    await wb.remove('CA2');
    io.held.shift()?.fail();
    await expect(inFlight).rejects.toThrow('Command timed out');
    expect(wb.queuedCalls).toBe(0);
  });

  it('releasing the lock flushes the queue first and drops what could not be written', async () => {
    make({ firstRetryMs: 60_000 });
    io.down = true;
    await wb.submit('CA1', append('t1'));
    io.down = false;
    let released = false;
    await wb.settle('CA1', async () => {
      expect(io.turns.get('CA1')).toEqual(['t1']);
      released = true;
    });
    expect(released).toBe(true);

    io.down = true;
    await wb.submit('CA2', append('t1'));
    await wb.settle('CA2', async () => undefined);
    expect(wb.queuedCalls).toBe(0);
    io.down = false;
    await settle();
    expect(io.turns.has('CA2')).toBe(false);
  });

  it('tells a Redis error reply (not retried) from Redis being unavailable (retried)', () => {
    const reply = Object.assign(new Error('ERR wrong number of arguments'), { name: 'ReplyError' });
    expect(isTransient(reply)).toBe(false);
    expect(isTransient(Object.assign(new Error('LOADING Redis is loading'), { name: 'ReplyError' }))).toBe(
      true,
    );
    expect(isTransient(new Error('Command timed out'))).toBe(true);
  });
});

async function waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}
