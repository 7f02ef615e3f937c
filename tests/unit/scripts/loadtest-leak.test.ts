/**
 * The leak check's RSS growth by part: each V8 heap space's pages and the rest of the process,
 * adding up to the RSS change, so a report says where memory went, not only how much. And its
 * verdict: the whole run against the budget line, the second half beside it.
 */
import {
  MAIN_ARENA,
  OTHER_NATIVE,
  OUTSIDE_V8_HEAP,
  rssGrowthByPart,
  type ProbeReply,
} from '../../../scripts/loadtest-probe';
import { leakReport } from '../../../scripts/loadtest-summary';
import { probeReply } from '../../support/probe-reply';

function reply(rssBytes: number, heapSpacesBytes: Record<string, number>): ProbeReply {
  return probeReply(1, { rssBytes, heapSpacesBytes });
}

describe('rssGrowthByPart', () => {
  it("splits the RSS change into V8's spaces and the rest, which add up to it", () => {
    const before = reply(100_000, { new_space: 1_000, old_space: 30_000, code_space: 2_000 });
    const after = reply(112_000, { new_space: 9_000, old_space: 31_000, code_space: 3_000, lo: 500 });
    const parts = rssGrowthByPart(before, after);
    expect(parts).toEqual({
      new_space: 8_000,
      old_space: 1_000,
      code_space: 1_000,
      lo: 500,
      [OUTSIDE_V8_HEAP]: 1_500,
    });
    expect(Object.values(parts).reduce((a, b) => a + b, 0)).toBe(12_000);
  });

  it("splits what is outside V8's heap into malloc's main arena and the rest when both read it", () => {
    const before = probeReply(1, {
      rssBytes: 100_000,
      heapSpacesBytes: { old_space: 30_000 },
      mainArenaBytes: 6_000,
    });
    const after = probeReply(1, {
      rssBytes: 110_000,
      heapSpacesBytes: { old_space: 31_000 },
      mainArenaBytes: 9_500,
    });
    expect(rssGrowthByPart(before, after)).toEqual({
      old_space: 1_000,
      [MAIN_ARENA]: 3_500,
      [OTHER_NATIVE]: 5_500,
    });
    // One side not read (a lite reply, or not Linux): the rest stays whole.
    expect(rssGrowthByPart({ ...before, mainArenaBytes: null }, after)).toEqual({
      old_space: 1_000,
      [OUTSIDE_V8_HEAP]: 9_000,
    });
  });

  it('counts a space that shrank as negative, and one gone as all of it', () => {
    const parts = rssGrowthByPart(
      reply(50_000, { new_space: 8_000, map_space: 700 }),
      reply(44_000, { new_space: 2_000 }),
    );
    expect(parts).toEqual({ new_space: -6_000, map_space: -700, [OUTSIDE_V8_HEAP]: 700 });
  });
});

describe('leakReport', () => {
  const MB = 2 ** 20;
  const at = (
    rssMb: number,
    heapMb: number,
    resources: Record<string, number> = {},
    reducerAfterS: number | null = 60,
  ) => ({
    reply: probeReply(1, {
      rssBytes: rssMb * MB,
      heapUsedBytes: heapMb * MB,
      heapSpacesBytes: { old_space: heapMb * MB },
      resources,
    }),
    reducerAfterS,
  });

  it('judges the whole run from the base, and shows the second half from the midpoint', () => {
    // Warm-up growth in the first half, none per call in the second: the line as written fails.
    const r = leakReport(
      at(100, 30, { TCPSocketWrap: 2 }),
      { calls: 500, ...at(112, 32, { TCPSocketWrap: 2 }, 95) },
      at(113, 32.5, { TCPSocketWrap: 2 }, null),
      1000,
    );
    expect(r).toMatchObject({
      calls: 1000,
      rssBeforeMb: 100,
      rssAfterMb: 113,
      growthPct: 13,
      heapGrowthPct: 8.3,
      midpoint: {
        calls: 500,
        rssMb: 112,
        heapMb: 32,
        secondHalfGrowthPct: 0.9,
        secondHalfHeapGrowthPct: 1.6,
        secondHalfByPartMb: { old_space: 0.5, [OUTSIDE_V8_HEAP]: 0.5 },
      },
      // Each point says when V8's memory reducer ran: the end's did not within its wait.
      memoryReducerAfterS: { base: 60, midpoint: 95, end: null },
      extraResources: {},
      ok: false,
    });
    expect(r.growthByPartMb).toEqual({ [OUTSIDE_V8_HEAP]: 10.5, old_space: 2.5 });
  });

  it('fails on a handle left over even when memory holds, and passes when nothing grew', () => {
    const base = at(100, 30, { TCPSocketWrap: 2, Timeout: 1 });
    const left = leakReport(base, null, at(101, 30, { TCPSocketWrap: 3, Timeout: 1 }), 10);
    expect(left).toMatchObject({ extraResources: { TCPSocketWrap: 1 }, midpoint: null, ok: false });
    expect(leakReport(base, null, at(105, 31, { TCPSocketWrap: 1 }), 10).ok).toBe(true);
    expect(leakReport(base, null, at(100, 33.5), 10).ok).toBe(false);
  });
});
