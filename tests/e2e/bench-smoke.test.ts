/**
 * `npm run bench` as CI runs it: small n, both suites, JSON written. Asserts the report is complete
 * (every benchmark present with finite, positive figures), never the timings themselves.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO = path.resolve(__dirname, '../..');

interface BenchRow {
  name: string;
  n: number;
  p50: number;
  p99: number;
  max: number;
  opsPerSec: number;
}

jest.setTimeout(90_000);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/bench.ts', ...args],
      { cwd: REPO, timeout: 80_000, env: { ...process.env, LOG_LEVEL: 'silent' } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm run bench (smoke)', () => {
  it('measures the session store, customer lookup, the frame path and provider requests, and writes every figure', async () => {
    const out = path.join(dir, 'bench.json');
    const { code, stdout, stderr } = await run(['--n', '200', '--json', out]);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      results: BenchRow[];
      frame: { perFrameUs: { inbound: number; outbound: number }; callsPerCore: number } | null;
    };
    const names = report.results.map((r) => r.name);
    for (const expected of [
      'session.create',
      'session.get',
      'session.update',
      'session.appendTurn (encrypted)',
      'session.lock+unlock',
      'customer lookup: hit',
      'customer lookup: miss (PG + cache fill)',
      'customer lookup: negative hit',
      'frame in: parse + validate (media)',
      'frame in: base64 decode (Buffer.from)',
      'frame in: SpeechDetector.push',
      'frame in: STT append message (re-encode)',
      'frame in: ticker poll (nothing due)',
      'frame in: whole path (as media-stream.ts)',
      'frame out: OutboundEncoder.media',
      'frame out: pacer tick + encode (per frame)',
      'provider: model first token (openai SDK)',
      'provider: TTS first byte (ElevenLabs SDK)',
      'provider: model, then TTS (a turn at 0 ms)',
    ])
      expect(names).toContain(expected);
    for (const r of report.results) {
      expect(r.n).toBeGreaterThan(0);
      for (const v of [r.p50, r.p99, r.max, r.opsPerSec]) expect(Number.isFinite(v) && v >= 0).toBe(true);
      expect(r.opsPerSec).toBeGreaterThan(0);
    }
    expect(report.frame?.perFrameUs.inbound).toBeGreaterThan(0);
    expect(report.frame?.perFrameUs.outbound).toBeGreaterThan(0);
    expect(report.frame?.callsPerCore).toBeGreaterThan(0);
    expect(stdout).toContain('frame in: whole path');
    // A request that failed would have thrown; one that answered is at least a loopback round trip.
    const providers = report.results.filter((r) => r.name.startsWith('provider: '));
    for (const r of providers) expect(r.p50).toBeGreaterThan(0.05);
  });

  it('rejects an unknown suite with a clear message', async () => {
    const { code, stderr } = await run(['--suite', 'everything']);
    expect(code).toBe(2);
    expect(stderr).toContain('--suite must be all, store, frame or provider');
  });
});
