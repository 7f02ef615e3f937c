/** A load-test probe reply with every figure zero, for tests to override what they check. */
import type { ProbeReply } from '../../scripts/loadtest-probe';

export function probeReply(pid: number, over: Partial<ProbeReply> = {}): ProbeReply {
  return {
    type: 'probe-reply',
    id: 0,
    pid,
    cpuUserUs: 0,
    cpuSystemUs: 0,
    rssBytes: 0,
    heapUsedBytes: 0,
    externalBytes: 0,
    arrayBuffersBytes: 0,
    heapSpacesBytes: {},
    mainArenaBytes: null,
    gcRan: true,
    loopDelayMs: { p50: 0, p99: 0, max: 0, samples: 0 },
    lateness: { counts: [], frames: 0, lateFrames: 0, maxMs: 0 },
    ticker: { ticks: 0, missedTicks: 0, maxLatenessMs: 0 },
    resources: {},
    memoryReducerGcs: 0,
    ...over,
  };
}
