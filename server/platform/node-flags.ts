/**
 * The flags `npm start` runs node with (package.json passes the same; a test holds the two
 * together, and the load test starts its server with them). Cluster workers inherit them.
 *
 * `--max-semi-space-size=8`: V8 grows the young generation with the allocation rate, up to two
 * 16 MB semi-spaces on a 64-bit host. A busy server (≈ 53 MB/s of short-lived frames, messages
 * and promises at 200 calls) reaches that cap within seconds and keeps the pages: RSS rose
 * ≈ 30 MB from idle before the calls' own memory counted. Measured against 16 MB and 4 MB
 * (`docs/performance.md`, ninth round):
 * - 8 MB: RSS under load −14 MB at 200 and 300 calls; at 300 real-time calls the same CPU per
 *   call-second and pacing jitter as 16 MB. Scavenges run 1.8× as often, each shorter.
 * - 4 MB: −21 MB, but 3.4× the scavenges, each with a fixed cost (≈ 0.8 ms here), which shows
 *   at 300 calls: CPU per call-second +7 % and jitter p99 ≈ +1 ms.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
