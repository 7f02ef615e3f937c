/**
 * The leak check's RSS growth by part: each V8 heap space's pages and the rest of the process,
 * adding up to the RSS change, so a report says where memory went, not only how much.
 */
import { OUTSIDE_V8_HEAP, rssGrowthByPart, type ProbeReply } from '../../../scripts/loadtest-probe';
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

  it('counts a space that shrank as negative, and one gone as all of it', () => {
    const parts = rssGrowthByPart(
      reply(50_000, { new_space: 8_000, map_space: 700 }),
      reply(44_000, { new_space: 2_000 }),
    );
    expect(parts).toEqual({ new_space: -6_000, map_space: -700, [OUTSIDE_V8_HEAP]: 700 });
  });
});
