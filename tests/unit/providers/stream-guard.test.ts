import { StreamGuard } from '../../../server/providers/openai/stream-guard';

describe('StreamGuard', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('aborts as idle when no progress comes for idleMs; every touch re-arms it', () => {
    const guard = new StreamGuard(new AbortController().signal, 100);
    jest.advanceTimersByTime(90);
    guard.touch();
    jest.advanceTimersByTime(90);
    guard.touch();
    jest.advanceTimersByTime(90);
    expect(guard.signal.aborted).toBe(false);
    jest.advanceTimersByTime(11);
    expect(guard.signal.aborted).toBe(true);
    expect(guard.idled).toBe(true);
    expect(guard.cancelledByCaller).toBe(false);
    guard.dispose();
  });

  it('waits firstMs for the first progress, then idleMs between the rest', () => {
    const slowStart = new StreamGuard(new AbortController().signal, 1000, 100);
    jest.advanceTimersByTime(101);
    expect(slowStart.signal.aborted).toBe(true);
    expect(slowStart.idled).toBe(true);
    slowStart.dispose();

    const guard = new StreamGuard(new AbortController().signal, 1000, 100);
    jest.advanceTimersByTime(90);
    guard.touch();
    // Past the first wait, chunks may be up to idleMs apart.
    jest.advanceTimersByTime(900);
    expect(guard.signal.aborted).toBe(false);
    guard.touch();
    jest.advanceTimersByTime(999);
    expect(guard.signal.aborted).toBe(false);
    jest.advanceTimersByTime(2);
    expect(guard.signal.aborted).toBe(true);
    guard.dispose();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('passes the caller’s abort on, and says so', () => {
    const caller = new AbortController();
    const guard = new StreamGuard(caller.signal, 100);
    caller.abort(new Error('barge-in'));
    expect(guard.signal.aborted).toBe(true);
    expect(guard.cancelledByCaller).toBe(true);
    expect(guard.idled).toBe(false);
    guard.dispose();
  });

  it('dispose aborts a request that was not read to its end, but not one that completed', () => {
    const early = new StreamGuard(new AbortController().signal, 100);
    early.dispose();
    expect(early.signal.aborted).toBe(true);

    const done = new StreamGuard(new AbortController().signal, 100);
    done.complete();
    done.dispose();
    expect(done.signal.aborted).toBe(false);
    // Released: no idle abort later, and the caller's abort no longer reaches it.
    jest.advanceTimersByTime(1000);
    expect(done.signal.aborted).toBe(false);
    expect(jest.getTimerCount()).toBe(0);
  });
});
