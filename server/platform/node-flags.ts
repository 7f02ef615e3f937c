/**
 * The flags `npm start` runs node with (package.json passes the same; a test holds the two
 * together, and the load test starts its server with them). Cluster workers inherit them.
 *
 * `--max-semi-space-size=4`: V8 grows the young generation with the allocation rate, up to two
 * 16 MB semi-spaces on a 64-bit host. A busy server (53 MB/s of short-lived frames, messages and
 * promises at 200 calls) grows it to the cap within seconds and keeps the pages, so RSS rose
 * ≈ 30 MB from idle before the first call's own memory counted. Capped at 4 MB, scavenges run
 * ≈ 3× as often and each is shorter: 200 calls, two interleaved pairs, RSS under load
 * 149 → 128 MB (283–293 → 179 KB per call), scavenge time +0.25 s over a 65 s run,
 * mark-compacts 21 → 22, CPU per call-second 3.11–3.33 → 3.07–3.19 ms (noise).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
