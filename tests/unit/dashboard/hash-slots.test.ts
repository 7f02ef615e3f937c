import { HashSlots } from '../../../server/dashboard/passwords';

describe('HashSlots', () => {
  it('grants up to max at once, queues up to maxQueue in order, refuses the rest', async () => {
    const slots = new HashSlots({ max: 1, maxQueue: 2, maxWaitMs: 5000 });
    const first = await slots.acquire();
    expect(first).not.toBeNull();
    const order: string[] = [];
    const second = slots.acquire().then((r) => (order.push('second'), r));
    const third = slots.acquire().then((r) => (order.push('third'), r));
    expect(await slots.acquire()).toBeNull();
    first?.();
    first?.(); // a second release changes nothing
    const r2 = await second;
    expect(order).toEqual(['second']);
    r2?.();
    (await third)?.();
    expect(order).toEqual(['second', 'third']);
    // All free again: two can be held at once only if a release was counted twice.
    const a = await slots.acquire();
    const waiting = slots.acquire();
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).toBe(false);
    a?.();
    (await waiting)?.();
  });

  it('a waiter gives up after maxWaitMs and leaves the queue', async () => {
    const slots = new HashSlots({ max: 1, maxQueue: 1, maxWaitMs: 30 });
    const held = await slots.acquire();
    const started = Date.now();
    expect(await slots.acquire()).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    // Its place in the queue is free for the next one.
    const next = slots.acquire();
    held?.();
    expect(await next).not.toBeNull();
  });
});
