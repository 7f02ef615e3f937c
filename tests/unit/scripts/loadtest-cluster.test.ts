/**
 * With --workers, the load test sees the server as the sum of its processes: the primary merges
 * its workers' probe replies, and /proc figures add up over the primary and the workers.
 */
import { mergeProbeReplies, sumOver } from '../../../scripts/loadtest-probe';
import { probeReply } from '../../support/probe-reply';

describe('mergeProbeReplies', () => {
  it('adds up CPU, memory, frames and handles, and keeps the worst loop delay and lateness', () => {
    const a = probeReply(11, {
      cpuUserUs: 100,
      cpuSystemUs: 10,
      rssBytes: 1000,
      heapUsedBytes: 300,
      loopDelayMs: { p50: 0.5, p99: 3, max: 9, samples: 50 },
      lateness: { counts: [5, 1], frames: 6, lateFrames: 0, maxMs: 0.2 },
      ticker: { ticks: 100, missedTicks: 0, maxLatenessMs: 1 },
      resources: { TCPSocketWrap: 4, Timeout: 2 },
      heapSpacesBytes: { new_space: 100, code_space: 20 },
      mainArenaBytes: 4000,
      memoryReducerGcs: 3,
    });
    const b = probeReply(12, {
      cpuUserUs: 50,
      cpuSystemUs: 5,
      rssBytes: 2000,
      heapUsedBytes: 100,
      gcRan: false,
      loopDelayMs: { p50: 0.7, p99: 2, max: 12, samples: 40 },
      lateness: { counts: [1, 2, 3], frames: 6, lateFrames: 1, maxMs: 70 },
      ticker: { ticks: 90, missedTicks: 2, maxLatenessMs: 4 },
      resources: { TCPSocketWrap: 3 },
      heapSpacesBytes: { new_space: 50, old_space: 30 },
      mainArenaBytes: 6000,
      memoryReducerGcs: 2,
    });
    const m = mergeProbeReplies(7, 10, [a, b]);
    expect(m).toMatchObject({
      id: 7,
      pid: 10,
      cpuUserUs: 150,
      cpuSystemUs: 15,
      rssBytes: 3000,
      heapUsedBytes: 400,
      gcRan: false,
      loopDelayMs: { p50: 0.7, p99: 3, max: 12, samples: 90 },
      lateness: { counts: [6, 3, 3], frames: 12, lateFrames: 1, maxMs: 70 },
      ticker: { ticks: 190, missedTicks: 2, maxLatenessMs: 4 },
      resources: { TCPSocketWrap: 7, Timeout: 2 },
      heapSpacesBytes: { new_space: 150, code_space: 20, old_space: 30 },
      mainArenaBytes: 10_000,
      // The reducer has run in every worker only as often as in the one where it ran least.
      memoryReducerGcs: 2,
      workerPids: [11, 12],
    });
  });

  it('says GC did not run when no worker answered', () => {
    expect(mergeProbeReplies(1, 10, []).gcRan).toBe(false);
  });
});

describe('sumOver', () => {
  it('adds numbers and objects over pids, and is null when any process is gone', () => {
    const cpu: Record<number, number | null> = { 1: 1.5, 2: 2, 3: null };
    expect(sumOver([1, 2], (p) => cpu[p] ?? null)).toBe(3.5);
    expect(sumOver([1, 2, 3], (p) => cpu[p] ?? null)).toBeNull();
    expect(sumOver([], (p) => cpu[p] ?? null)).toBeNull();
    expect(sumOver([1, 2], (p) => ({ reads: p, writes: 10 * p }))).toEqual({ reads: 3, writes: 30 });
  });
});
