/**
 * `npm run loadtest` as CI runs it: a few calls for a few seconds against the real server process
 * (its own database, Redis prefix and emulated providers), then a tiny leak-check run. Asserts the
 * report is complete and error-free; the timings belong to real runs (docs/performance.md), not CI.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Report } from '../../scripts/loadtest-report';

const REPO = path.resolve(__dirname, '../..');

jest.setTimeout(120_000);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'loadtest-smoke-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function loadtest(args: string[]): Promise<{ code: number; stdout: string; report: Report }> {
  const out = path.join(dir, `report-${Date.now()}.json`);
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
    (resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'scripts/loadtest.ts', ...args, '--out', out, '--quiet'],
        { cwd: REPO, timeout: 100_000, env: process.env },
        (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    },
  );
  let report: Report;
  try {
    report = JSON.parse(readFileSync(out, 'utf8')) as Report;
  } catch {
    throw new Error(`no report written (exit ${code}):\n${stdout}\n${stderr}`);
  }
  return { code, stdout, report };
}

const isDist = (d: unknown, n: number) =>
  expect(d).toEqual(
    expect.objectContaining({
      n: expect.any(Number),
      p50: expect.any(Number),
      p95: expect.any(Number),
      p99: expect.any(Number),
      max: expect.any(Number),
    }),
  ) ?? expect((d as { n: number }).n).toBeGreaterThanOrEqual(n);

/** A short run long enough for turns inside its window: 3 calls for 12 s, one warm-up call. */
const SHORT_RUN = ['--calls', '3', '--seconds', '12', '--settle', '1', '--warmup', '1', '--seed', '7'];

describe('npm run loadtest (smoke)', () => {
  // Short speech (10 ms of audio per character) keeps each call to a few seconds.
  it.concurrent(
    'runs concurrent calls with turns and barge-ins and reports every figure, error-free',
    async () => {
      const { code, stdout, report } = await loadtest([
        ...SHORT_RUN,
        '--barge-in',
        '0.5',
        '--tts-ms-per-char',
        '10',
        // The server on a CPU of its own, the load generator (callers and emulators) on another.
        '--server-cpus',
        String(os.cpus().length - 1),
        '--loadgen-cpus',
        '0',
      ]);
      expect({ errors: report.errors, log: report.server.log, exited: report.server.exited }).toEqual({
        errors: { count: 0, byKind: {}, samples: [] },
        log: { errors: 0, warnings: expect.any(Number), samples: expect.any(Array) },
        exited: null,
      });
      // Named so a failure says which part of the report is missing.
      expect({
        complete: report.complete,
        turnsInWindow: report.turnOverheadMs?.n ?? 0,
        callerTurnsInWindow: report.e2eTurnOverheadMs?.n ?? 0,
        pacedFrames: report.pacing.frames,
      }).toEqual({
        complete: true,
        turnsInWindow: expect.any(Number),
        callerTurnsInWindow: expect.any(Number),
        pacedFrames: expect.any(Number),
      });
      expect(report.errorFree).toBe(true);
      expect(code).toBe(0);
      expect(report.calls).toMatchObject({ planned: 3, started: 3, connected: 3, completed: 3, dropped: 0 });
      expect(report.turns.answered).toBeGreaterThanOrEqual(3);
      isDist(report.turnOverheadMs, 1);
      isDist(report.e2eTurnOverheadMs, 1);
      isDist(report.greetingMs, 3);
      // The server's own greeting figure, from its histogram: every call of the run.
      expect(report.greetingServerMs).toEqual({
        n: expect.any(Number),
        p50: expect.any(Number),
        p99: expect.any(Number),
        max: expect.any(Number),
      });
      expect(report.greetingServerMs?.n).toBeGreaterThanOrEqual(3);
      isDist(report.turnStagesMs.inProcess, 1);
      expect(report.pacing.frames).toBeGreaterThan(0);
      expect(report.pacing.jitterP99Ms).toEqual(expect.any(Number));
      expect(report.pacing.lateFrames).toEqual(expect.any(Number));
      expect(report.server.idle.rssMb).toBeGreaterThan(0);
      expect(report.server.load.cpuSeconds).toEqual(expect.any(Number));
      expect(report.server.load.rssMbMax).toBeGreaterThan(0);
      expect(report.server.load.rssKbPerCall).toEqual(expect.any(Number));
      expect(report.server.metrics.inboundFramesOk).toBeGreaterThan(0);
      // The emulators run in two processes of their own (transcription; model, TTS and REST), counted
      // as load generator, timed by their own timers.
      expect(report.target.emulatorPids).toEqual([expect.any(Number), expect.any(Number)]);
      expect(new Set([...report.target.emulatorPids, report.target.serverPid]).size).toBe(3);
      expect(report.loadgen.cpuCores).toBeGreaterThan(0);
      isDist(report.loadgen.timerLatenessMs, 1);
      expect(Object.keys(report.loadgen.timerLatenessByProcessMs).sort()).toEqual(['http', 'transcription']);
      isDist(report.loadgen.timerLatenessByProcessMs.http, 1);
      isDist(report.loadgen.timerLatenessByProcessMs.transcription, 1);
      // Every frame the callers sent in the window, timed against its media timeline (50 a second
      // per call; callers that fell behind catch up, so the count stays near real time).
      const lag = report.loadgen.sendLagMs;
      const expected = 3 * 50 * report.window.seconds;
      expect(lag?.frames).toBeGreaterThan(0.5 * expected);
      expect(lag?.frames).toBeLessThanOrEqual(1.1 * expected + 150);
      expect(lag?.p99).toBeGreaterThanOrEqual(lag?.p50 ?? Infinity);
      expect(report.realTimeLoad).toBe((lag?.p99 ?? Infinity) <= 20);
      expect(stdout).toMatch(/callers' frames sent late p50 \/ p99 \(ms\)\s+[\d.]+ \/ [\d.]+/);
      expect(stdout).toMatch(/^ {2}load: (real time|NOT real time)/m);
      expect(report.options).toMatchObject({ serverCpus: String(os.cpus().length - 1), loadgenCpus: '0' });
      expect(Object.keys(report.method)).toEqual(
        expect.arrayContaining([
          'turnOverhead',
          'e2eTurnOverhead',
          'greeting',
          'jitter',
          'callerSendLag',
          'cpu',
          'rss',
          'errors',
        ]),
      );
      expect(report.budget.map((b) => b.name).join('\n')).toMatch(
        /turn overhead p99[\s\S]*pacing jitter p99/,
      );
      expect(stdout).toContain('turn overhead (server)');
      expect(stdout).toContain('report complete, no errors');
    },
  );

  it.concurrent(
    'leak-check mode runs calls back to back and reports memory and handles after GC',
    async () => {
      const { code, stdout, report } = await loadtest([
        '--total',
        '3',
        '--calls',
        '2',
        '--turns',
        '1',
        '--leak-wait',
        '0',
        '--barge-in',
        '0',
        '--warmup',
        '0',
        '--tts-ms-per-char',
        '10',
      ]);
      expect(report.errors.count).toBe(0);
      expect(report.complete).toBe(true);
      expect(code).toBe(0);
      expect(report.calls).toMatchObject({ planned: 3, connected: 3, dropped: 0 });
      expect(report.leak).toEqual(
        expect.objectContaining({
          calls: 3,
          rssBeforeMb: expect.any(Number),
          rssAfterMb: expect.any(Number),
          growthByPartMb: expect.objectContaining({
            new_space: expect.any(Number),
            old_space: expect.any(Number),
            // The server's own /proc/self/smaps, read by its probe (Linux).
            "malloc's main arena": expect.any(Number),
            'other native memory': expect.any(Number),
          }),
          // Halfway (2 of 3 calls), idle and collected as at the end.
          midpoint: expect.objectContaining({
            calls: 2,
            rssMb: expect.any(Number),
            secondHalfGrowthPct: expect.any(Number),
          }),
          resourcesBefore: expect.any(Object),
          resourcesAfter: expect.any(Object),
        }),
      );
      expect(stdout).toContain('second half (after 2 calls → end)');
      expect(Object.keys(report.leak?.memoryReducerAfterS ?? {})).toEqual(['base', 'midpoint', 'end']);
      expect(stdout).toContain("V8's memory reducer ran after the calls");
    },
  );

  it.concurrent(
    'with --workers 2 measures the cluster: every worker serving, figures summed over its processes',
    async () => {
      // As long as the first run: a turn must fall inside the window for the report to be complete.
      const { code, report } = await loadtest([
        ...SHORT_RUN,
        '--workers',
        '2',
        '--barge-in',
        '0',
        '--tts-ms-per-char',
        '10',
      ]);
      expect({ errors: report.errors.count, exited: report.server.exited }).toEqual({
        errors: 0,
        exited: null,
      });
      expect(report.complete).toBe(true);
      expect(code).toBe(0);
      expect(report.calls).toMatchObject({ planned: 3, connected: 3, completed: 3, dropped: 0 });
      // The primary and two workers, all counted as the server.
      expect(report.target.serverPids).toHaveLength(3);
      expect(report.target.serverPids[0]).toBe(report.target.serverPid);
      // Paced frames come from the workers' probes, merged by the primary.
      expect(report.pacing.frames).toBeGreaterThan(0);
      expect(report.greetingServerMs?.n).toBeGreaterThanOrEqual(3);
      // Each worker's idle RSS is over 100 MB (its SDKs), so the sum is well above one process.
      expect(report.server.idle.rssMb).toBeGreaterThan(200);
    },
  );

  it.concurrent(
    'serves the server side for callers elsewhere, and reads their turns back over the staff API',
    async () => {
      const served = spawn(
        process.execPath,
        ['--import', 'tsx', 'scripts/loadtest.ts', '--serve', '--quiet', '--tts-ms-per-char', '10'],
        { cwd: REPO, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const exited = new Promise<number | null>((r) => served.once('exit', (code) => r(code)));
      try {
        const line = await new Promise<string>((resolve, reject) => {
          createInterface({ input: served.stdout }).on('line', (l) => {
            if (l.startsWith('callers: ')) resolve(l);
          });
          void exited.then((code) => reject(new Error(`--serve exited with ${code}`)));
        });
        // The printed command, as someone would paste it on the callers' machine.
        const args = line.split(' ').slice(5, -4);
        expect(args).toEqual(expect.arrayContaining(['--url', '--auth-token', '--account-sid', '--api-key']));
        const { code, report } = await loadtest([...args, ...SHORT_RUN, '--barge-in', '0']);
        expect(report.errors.count).toBe(0);
        expect(report.target.mode).toBe('url');
        expect(report.calls).toMatchObject({ planned: 3, connected: 3, completed: 3, dropped: 0 });
        // The server's own turn figures came back over GET /api/calls.
        expect(report.turnOverheadMs?.n).toBeGreaterThanOrEqual(1);
        expect(report.pacing.frames).toBeGreaterThan(0);
        expect(code).toBe(0);
      } finally {
        served.kill('SIGINT');
      }
      expect(await exited).toBe(0);
    },
  );
});
