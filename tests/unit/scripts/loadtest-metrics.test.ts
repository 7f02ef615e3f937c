/**
 * The load test reads the server's histograms from two /metrics scrapes: what was observed between
 * them, as percentiles on the bucket grid.
 */
import { histogramQuantiles, pacingFromMetrics, parseMetrics } from '../../../scripts/loadtest-probe';

const scrape = (counts: number[]) =>
  parseMetrics(
    [
      '# HELP bayline_greeting_seconds Stream start received to the first greeting audio sent to Twilio',
      '# TYPE bayline_greeting_seconds histogram',
      ...['0.001', '0.002', '0.005', '0.05', '+Inf'].map(
        (le, i) => `bayline_greeting_seconds_bucket{le="${le}"} ${counts[i]}`,
      ),
      `bayline_greeting_seconds_sum 0.5`,
      `bayline_greeting_seconds_count ${counts[counts.length - 1]}`,
      'bayline_turn_latency_seconds_bucket{le="0.005",stage="total"} 7',
    ].join('\n'),
  );

describe('histogramQuantiles', () => {
  it('gives p50 and p99 of what was observed between two scrapes, as bucket upper edges', () => {
    // Before: 10 observations, all ≤ 1 ms. Between: 100 more, 60 ≤ 2 ms, 39 in (2, 5], 1 in (5, 50].
    const before = scrape([10, 10, 10, 10, 10]);
    const after = scrape([10, 70, 109, 110, 110]);
    expect(histogramQuantiles(before, after, 'bayline_greeting_seconds')).toEqual({
      n: 100,
      p50: 0.002,
      p99: 0.005,
      max: 0.05,
    });
    // Without a first scrape, everything counts.
    expect(histogramQuantiles(null, after, 'bayline_greeting_seconds')).toEqual({
      n: 110,
      p50: 0.002,
      p99: 0.005,
      max: 0.05,
    });
  });

  it('says null for a percentile beyond the last finite bucket, and null when nothing was observed', () => {
    const before = scrape([0, 0, 0, 0, 0]);
    expect(histogramQuantiles(before, scrape([0, 0, 0, 0, 3]), 'bayline_greeting_seconds')).toEqual({
      n: 3,
      p50: null,
      p99: null,
      max: null,
    });
    expect(histogramQuantiles(before, before, 'bayline_greeting_seconds')).toBeNull();
    expect(histogramQuantiles(before, null, 'bayline_greeting_seconds')).toBeNull();
    expect(histogramQuantiles(before, scrape([1, 1, 1, 1, 1]), 'bayline_no_such_histogram')).toBeNull();
  });
});

describe('pacingFromMetrics (a run against --url, where there is no probe)', () => {
  const EDGES = ['0.001', '0.002', '0.005', '0.01', '0.02', '0.04', '0.06', '0.1', '0.25', '1', '+Inf'];
  const pacing = (counts: number[]) =>
    parseMetrics(
      [
        '# TYPE bayline_pacing_lateness_seconds histogram',
        ...EDGES.map((le, i) => `bayline_pacing_lateness_seconds_bucket{le="${le}"} ${counts[i]}`),
        `bayline_pacing_lateness_seconds_count ${counts[counts.length - 1]}`,
      ].join('\n'),
    );

  it("reads jitter and frames later than 60 ms from the server's histogram between two scrapes", () => {
    // Between the scrapes: 90 messages within 1 ms, 9 in (5, 10] ms, 1 in (60, 100] ms.
    const before = pacing([5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
    const after = pacing([95, 95, 95, 104, 104, 104, 104, 105, 105, 105, 105]);
    expect(pacingFromMetrics(before, after)).toEqual({
      frames: 100,
      lateFrames: 1,
      p50: 1,
      p99: 10,
      max: 100,
    });
    expect(pacingFromMetrics(before, before)).toBeNull();
    expect(pacingFromMetrics(null, null)).toBeNull();
  });
});
