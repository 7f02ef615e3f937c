/**
 * The load test reads the server's histograms from two /metrics scrapes: what was observed between
 * them, as percentiles on the bucket grid.
 */
import { histogramQuantiles, parseMetrics } from '../../../scripts/loadtest-probe';

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
