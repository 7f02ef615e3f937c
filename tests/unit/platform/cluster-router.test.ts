import { ClusterRouter, RestartBackoff } from '../../../server/platform/cluster';

/** A worker as the router sees it: the messages sent to it, in order. */
function worker(): { inbox: object[]; send(msg: object): void } {
  const inbox: object[] = [];
  return { inbox, send: (msg) => inbox.push(msg) };
}

function setup(metrics: () => Promise<string> = async () => 'all workers') {
  const router = new ClusterRouter({ metrics });
  const w1 = worker();
  const w2 = worker();
  router.add(1, w1);
  router.add(2, w2);
  return { router, w1, w2 };
}

describe('ClusterRouter (the cluster primary)', () => {
  it('sends a claim to the worker that took the ring, naming the claimant', () => {
    const { router, w1, w2 } = setup();
    router.receive(1, { type: 'bayline:ring', callSid: 'CA1' });
    router.receive(2, { type: 'bayline:claim', id: 7, callSid: 'CA1' });
    expect(w1.inbox).toEqual([{ type: 'bayline:claim', id: 7, callSid: 'CA1', from: 2 }]);
    expect(w2.inbox).toEqual([]);
  });

  it('relays the answer and the greeting audio to the claimant only', () => {
    const { router, w1, w2 } = setup();
    const chunk = new Uint8Array([1, 2, 3]);
    router.receive(1, { type: 'bayline:claimed', id: 7, to: 2, call: { greetingText: 'Hi' } });
    router.receive(1, { type: 'bayline:audio', id: 7, to: 2, chunk });
    router.receive(1, { type: 'bayline:audio-end', id: 7, to: 2, error: null });
    expect(w2.inbox.map((m) => (m as { type: string }).type)).toEqual([
      'bayline:claimed',
      'bayline:audio',
      'bayline:audio-end',
    ]);
    expect((w2.inbox[1] as { chunk: Uint8Array }).chunk).toBe(chunk);
    expect(w1.inbox).toEqual([]);
  });

  it('answers "nobody has it" for a call no worker rang, one the claimant rang, or one that is gone', () => {
    const { router, w1, w2 } = setup();
    router.receive(2, { type: 'bayline:claim', id: 1, callSid: 'CA-unknown' });
    router.receive(2, { type: 'bayline:ring', callSid: 'CA-own' });
    router.receive(2, { type: 'bayline:claim', id: 2, callSid: 'CA-own' });
    router.receive(1, { type: 'bayline:ring', callSid: 'CA-gone' });
    router.receive(1, { type: 'bayline:gone', callSid: 'CA-gone' });
    router.receive(2, { type: 'bayline:claim', id: 3, callSid: 'CA-gone' });
    expect(w2.inbox).toEqual([1, 2, 3].map((id) => ({ type: 'bayline:claimed', id, call: null })));
    expect(w1.inbox).toEqual([]);
  });

  it("ignores another worker's gone for a ring it does not own", () => {
    const { router, w1 } = setup();
    router.receive(1, { type: 'bayline:ring', callSid: 'CA1' });
    router.receive(2, { type: 'bayline:gone', callSid: 'CA1' });
    expect(router.ringing).toBe(1);
    router.receive(2, { type: 'bayline:claim', id: 4, callSid: 'CA1' });
    expect(w1.inbox).toHaveLength(1);
  });

  it("forgets a dead worker's rings, so their streams start afresh instead of waiting", () => {
    const { router, w2 } = setup();
    router.receive(1, { type: 'bayline:ring', callSid: 'CA1' });
    router.remove(1);
    expect(router.ringing).toBe(0);
    router.receive(2, { type: 'bayline:claim', id: 5, callSid: 'CA1' });
    expect(w2.inbox).toEqual([{ type: 'bayline:claimed', id: 5, call: null }]);
  });

  it('answers a metrics request with every worker aggregated, or null when that fails', async () => {
    let fail = false;
    const { router, w1 } = setup(async () => {
      if (fail) throw new Error('Operation timed out.');
      return 'bayline_active_calls 3';
    });
    router.receive(1, { type: 'bayline:metrics', id: 9 });
    fail = true;
    router.receive(1, { type: 'bayline:metrics', id: 10 });
    await new Promise((r) => setImmediate(r));
    expect(w1.inbox).toEqual([
      { type: 'bayline:metrics', id: 9, text: 'bayline_active_calls 3' },
      { type: 'bayline:metrics', id: 10, text: null },
    ]);
  });

  it("tells each worker how many calls the others hold, and forgets a dead worker's", () => {
    const { router, w1, w2 } = setup();
    router.receive(1, { type: 'bayline:active', active: 3 });
    router.receive(2, { type: 'bayline:active', active: 5 });
    expect(w1.inbox.at(-1)).toEqual({ type: 'bayline:others-active', active: 5 });
    expect(w2.inbox.at(-1)).toEqual({ type: 'bayline:others-active', active: 3 });
    router.receive(1, { type: 'bayline:active', active: 'many' });
    expect(w2.inbox.at(-1)).toEqual({ type: 'bayline:others-active', active: 3 });
    router.remove(1);
    expect(w2.inbox.at(-1)).toEqual({ type: 'bayline:others-active', active: 0 });
  });

  it('broadcasts drain to every worker', () => {
    const { router, w1, w2 } = setup();
    router.broadcast({ type: 'bayline:drain' });
    expect(w1.inbox).toEqual([{ type: 'bayline:drain' }]);
    expect(w2.inbox).toEqual([{ type: 'bayline:drain' }]);
  });
});

describe('RestartBackoff', () => {
  it('doubles the wait for workers that die young, up to 30 s, and starts over after a healthy one', () => {
    const b = new RestartBackoff();
    const young = [0, 0, 0, 0, 0, 0, 0].map(() => b.next(500));
    expect(young).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(b.next(60_000)).toBe(1_000);
    expect(b.next(2_000)).toBe(2_000);
  });
});
