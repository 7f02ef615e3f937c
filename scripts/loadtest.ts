/**
 * `npm run loadtest -- --calls N --seconds S [--out report.json]`: N simulated Twilio callers
 * against a server with emulated providers of set latency; prints and writes the figures of
 * DESIGN.md § Performance. The method behind each figure is in the report (`method`) and in
 * docs/performance.md. `--total M` runs M calls (N at a time) as a leak check instead.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LatenessTotals } from '../server/telephony/pacer';
import { fixtureTimings, runCall, type CallContext, type CallResult } from './loadtest-caller';
import { USAGE, optionWarnings, parseOptions, rng, type LoadtestOptions } from './loadtest-options';
import {
  allProcesses,
  machineJiffies,
  metricSum,
  procCpuSeconds,
  procCpuTimes,
  procRssBytes,
  sumOver,
  procSyscalls,
  scrapeMetrics,
  type ProbeClient,
  type ProbeReply,
} from './loadtest-probe';
import { formatReport, type Report } from './loadtest-report';
import { buildReport, leakReport, round, type Point, type SettledPoint } from './loadtest-summary';
import { callersCommand } from './loadtest-remote';
import { pinCpus, realtime, startLocalTarget, urlTarget, type Target } from './loadtest-target';

const MB = 2 ** 20;
/** The window closes before hang-up, so a forced GC for live memory cannot disturb its figures. */
const WINDOW_END_BEFORE_HANGUP_MS = 1500;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const REDUCER_SETTLE_MS = 5000;

/** How late the callers' frames went out, on their media timelines (0.1 ms buckets up to 100 ms). */
const callerSendLag = new LatenessTotals();

async function point(
  target: Target,
  probe: { gc?: boolean; resetLoopDelay?: boolean } | null,
): Promise<Point> {
  return {
    t: performance.now(),
    callerSendLag: callerSendLag.snapshot(),
    serverCpu: sumOver(target.serverPids, procCpuSeconds),
    serverSys: sumOver(target.serverPids, (pid) => procCpuTimes(pid)?.system ?? null),
    serverIo: sumOver(target.serverPids, procSyscalls),
    loadgenCpu: loadgenCpuSeconds(target),
    machine: machineJiffies(),
    processes: allProcesses(),
    probe: probe && target.probe ? await target.probe.ask(probe) : null,
    emulatorLate: await target.emulatorTimers(),
  };
}

/** The load generator is this process and, locally, the emulators' processes. */
function loadgenCpuSeconds(target: Target): number | null {
  let total = procCpuSeconds('self');
  for (const pid of target.emulatorPids) {
    const cpu = procCpuSeconds(pid);
    total = total === null || cpu === null ? null : total + cpu;
  }
  return total;
}

/** When the last call of a batch ended, and how many memory-reducer GCs the server had run then. */
interface CallsEnded {
  readonly at: number;
  readonly memoryReducerGcs: number;
}

const memoryReducerGcs = async (probe: ProbeClient | undefined) =>
  (await probe?.ask({ lite: true }))?.memoryReducerGcs ?? 0;

async function callsEnded(probe: ProbeClient | undefined): Promise<CallsEnded> {
  return { at: performance.now(), memoryReducerGcs: await memoryReducerGcs(probe) };
}

/**
 * The server idle, as the leak check compares it: no call left (up to 30 s), `leakWaitSeconds` for
 * idle keep-alive sockets and pools to close, then a full GC. Base, midpoint and end are all taken
 * this way. V8's memory reducer (the GC that returns the heap's spare pages, which a forced GC
 * keeps) runs on its own when it judges the process idle: within seconds after the warm-up, but
 * after load often not for minutes. The point says whether it ran since the calls ended, and
 * with `leakReducerWaitSeconds` waits up to that much longer for it.
 */
async function settled(
  target: Target,
  probe: ProbeClient,
  opts: Pick<LoadtestOptions, 'leakWaitSeconds' | 'leakReducerWaitSeconds'>,
  progress: (line: string) => void,
  label: string,
  since: CallsEnded,
): Promise<SettledPoint | null> {
  const reducerWait = opts.leakReducerWaitSeconds
    ? `, then up to ${opts.leakReducerWaitSeconds} s for V8's memory reducer`
    : '';
  progress(`leak check, ${label}: ${opts.leakWaitSeconds} s idle${reducerWait}, then GC`);
  for (let i = 0; i < 60; i++) {
    if (metricSum(await scrapeMetrics(target.baseUrl), 'bayline_active_calls') === 0) break;
    await sleep(500);
  }
  await sleep(opts.leakWaitSeconds * 1000);
  let reducerAfterS: number | null = null;
  const deadline = performance.now() + opts.leakReducerWaitSeconds * 1000;
  for (;;) {
    if ((await memoryReducerGcs(probe)) > since.memoryReducerGcs) {
      reducerAfterS = Math.round((performance.now() - since.at) / 1000);
      // It runs up to three GCs about a second apart: let it finish.
      await sleep(REDUCER_SETTLE_MS);
      break;
    }
    if (performance.now() >= deadline) break;
    await sleep(1000);
  }
  const reply = await probe.ask({ gc: true });
  progress(
    `leak check, ${label}: ${reducerAfterS === null ? "V8's memory reducer did not run" : `V8's memory reducer had run (seen ${reducerAfterS} s after the calls ended)`}, RSS ${reply ? (reply.rssBytes / MB).toFixed(1) : '?'} MB`,
  );
  return reply && { reply, reducerAfterS };
}

function phoneFor(i: number): string {
  if (i % 3 === 0) return '+13125550142';
  if (i % 3 === 1) return '+13125550199';
  return `+1312555${String(2000 + (i % 8000)).padStart(4, '0')}`;
}

/** Why a run stopped early: a signal, whose shell exit code is 128 + its number. */
class Interrupted extends Error {
  readonly exitCode: number;
  constructor(signalName: NodeJS.Signals) {
    super(`interrupted by ${signalName}`);
    this.exitCode = 128 + os.constants.signals[signalName];
  }
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * The first SIGINT, SIGTERM or SIGHUP aborts the returned signal (reason: `Interrupted`), so the
 * run stops and removes its server, database and keys; a second one exits at once, leaving them.
 */
function stopSignals(progress: (line: string) => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    const reason = new Interrupted(name);
    if (controller.signal.aborted) {
      progress(`${name} again: exiting without cleaning up`);
      process.exit(reason.exitCode);
    }
    progress(`${name}: stopping; the server, test database and keys are being removed (again to exit now)`);
    controller.abort(reason);
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const name of STOP_SIGNALS) process.off(name, onSignal);
    },
  };
}

export async function runLoadtest(
  opts: LoadtestOptions,
  progress: (line: string) => void,
  signal?: AbortSignal,
): Promise<Report> {
  const startedAt = new Date();
  const loadavgBefore = os.loadavg();
  const fixtures = fixtureTimings();
  if (opts.loadgenCpus !== undefined) pinCpus(process.pid, opts.loadgenCpus);
  const target = opts.url
    ? urlTarget({ ...opts, url: opts.url })
    : await startLocalTarget(opts, progress, signal);
  // The calls are not unwound one by one: the server and its data go, then the process.
  const onAbort = () => {
    const code = signal?.reason instanceof Interrupted ? signal.reason.exitCode : 1;
    void target.close().finally(() => process.exit(code));
  };
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const samples: Report['samples'] = [];
  const t0 = performance.now();
  let sampler: NodeJS.Timeout | undefined;
  try {
    // After the server's build and start, which need not preempt anything: the callers from here on.
    if (opts.callersRt !== undefined) realtime(process.pid, opts.callersRt);
    const ctx = (i: number): CallContext => ({
      baseUrl: target.baseUrl,
      publicBaseUrl: target.publicUrl,
      authToken: target.authToken,
      accountSid: target.accountSid,
      emulated: target.emulated,
      fixtures,
      random: rng(opts.seed * 100_003 + i),
      bargeIn: opts.bargeIn,
      sendLag: callerSendLag,
    });

    let warmupEnded = await callsEnded(target.probe);
    if (opts.warmupCalls > 0) {
      progress(`warm-up: ${opts.warmupCalls} calls`);
      const warm = await Promise.all(
        Array.from({ length: opts.warmupCalls }, (_, i) =>
          runCall(ctx(-1 - i), { from: phoneFor(i), hangUpAt: performance.now() + 60_000, maxTurns: 1 }),
        ),
      );
      const failed = warm.flatMap((r) => r.errors);
      if (failed.length) throw new Error(`warm-up calls failed: ${failed.slice(0, 3).join('; ')}`);
      warmupEnded = await callsEnded(target.probe);
      await sleep(1000);
    }

    const idleA = await point(target, null);
    await sleep(3000);
    const idleB = await point(target, { gc: false });
    const idleRss = sumOver(target.serverPids, procRssBytes);
    const sequential = opts.total !== undefined;
    // Live memory (after a full GC) at idle and at the end of the window: what calls really hold.
    const idleLive = (await target.probe?.ask({ gc: true })) ?? null;
    // The leak check's base: the same idle state as its midpoint and end.
    const leakBase =
      sequential && target.probe
        ? await settled(target, target.probe, opts, progress, 'base', warmupEnded)
        : null;
    let loadLive: ProbeReply | null = null;
    let leakMid: (SettledPoint & { calls: number }) | null = null;
    let leakCallsEnded: CallsEnded | undefined;
    const metricsBefore = await scrapeMetrics(target.baseUrl);

    let heapMb: number | null = null;
    sampler = setInterval(() => {
      samples.push({
        t: round((performance.now() - t0) / 1000, 1) as number,
        serverCpuS: sumOver(target.serverPids, procCpuSeconds),
        serverRssMb: target.serverPids.length
          ? round((sumOver(target.serverPids, procRssBytes) ?? NaN) / MB, 1)
          : null,
        serverHeapMb: heapMb,
        loadgenCpuS: loadgenCpuSeconds(target),
      });
      void target.probe?.ask({ lite: true }).then((p) => {
        if (p) heapMb = round(p.heapUsedBytes / MB, 1);
      });
    }, 1000);
    loop.enable();
    // With --url the emulators run in the target server: this process's timers stand in for theirs.
    const timerLateness: number[] = [];
    let timerProbe: NodeJS.Timeout | undefined;
    const armTimerProbe = () => {
      const due = performance.now() + 100;
      timerProbe = setTimeout(() => {
        timerLateness.push(performance.now() - due);
        armTimerProbe();
      }, 100);
      // Never what keeps this process alive, should the run end by an error.
      timerProbe.unref();
    };
    armTimerProbe();

    const results: CallResult[] = [];
    let windowA: Point | undefined;
    let windowB: Point | undefined;
    let started = 0;
    const runStart = performance.now();
    const status = setInterval(() => {
      const live = started - results.length;
      const turns = results.reduce((n, r) => n + r.turns.length, 0);
      progress(
        `t=${((performance.now() - runStart) / 1000).toFixed(0)}s calls started ${started}, live ${live}, done ${results.length}, turns(done calls) ${turns}, server RSS ${samples.at(-1)?.serverRssMb ?? '?'} MB, heap ${samples.at(-1)?.serverHeapMb ?? '?'} MB`,
      );
    }, 5000);
    try {
      if (!sequential) {
        const rampMs = opts.rampSeconds * 1000;
        const hangUpAt = runStart + rampMs + opts.seconds * 1000;
        progress(`run: ${opts.calls} calls, ramp ${opts.rampSeconds} s, then ${opts.seconds} s all up`);
        const windowTimers = [
          setTimeout(
            () => void point(target, { resetLoopDelay: true }).then((p) => (windowA = p)),
            rampMs + opts.settleSeconds * 1000,
          ),
          setTimeout(
            () =>
              void point(target, {}).then(async (p) => {
                windowB = p;
                loadLive = (await target.probe?.ask({ gc: true })) ?? null;
              }),
            hangUpAt - runStart - WINDOW_END_BEFORE_HANGUP_MS,
          ),
        ];
        const calls = Array.from({ length: opts.calls }, async (_, i) => {
          await sleep((i * rampMs) / opts.calls);
          started++;
          const r = await runCall(ctx(i), { from: phoneFor(i), hangUpAt, maxTurns: opts.turns });
          results.push(r);
        });
        await Promise.all(calls);
        windowTimers.forEach(clearTimeout);
        // The window end is taken before hang-up; wait for it if the last call ended early.
        for (let i = 0; i < 100 && (windowA === undefined || windowB === undefined || loadLive === null); i++)
          await sleep(100);
      } else {
        const total = opts.total as number;
        const half = Math.ceil(total / 2);
        progress(`leak check: ${total} calls, ${opts.calls} at a time, ${opts.turns ?? 1} turn(s) each`);
        windowA = await point(target, { resetLoopDelay: true });
        let next = 0;
        const runUpTo = (end: number) =>
          Promise.all(
            Array.from({ length: Math.min(opts.calls, end - next) }, async () => {
              while (next < end) {
                const i = next++;
                started++;
                const r = await runCall(ctx(i), {
                  from: phoneFor(i),
                  hangUpAt: performance.now() + 120_000,
                  maxTurns: opts.turns ?? 1,
                });
                results.push(r);
              }
            }),
          );
        await runUpTo(half);
        if (half < total && target.probe) {
          const ended = await callsEnded(target.probe);
          const mid = await settled(target, target.probe, opts, progress, `halfway (${half} calls)`, ended);
          if (mid) leakMid = { ...mid, calls: half };
        }
        await runUpTo(total);
        leakCallsEnded = await callsEnded(target.probe);
        windowB = await point(target, {});
        loadLive = (await target.probe?.ask({ gc: true })) ?? null;
      }
    } finally {
      clearInterval(status);
    }
    loop.disable();
    clearTimeout(timerProbe);

    progress('collecting call records');
    const sids = results.filter((r) => r.connected).map((r) => r.callSid);
    const records = await target.callLatencies(sids, 30_000);
    const metricsAfter = await scrapeMetrics(target.baseUrl);

    let leak: Report['leak'] = null;
    if (sequential && target.probe && leakBase && leakCallsEnded) {
      const after = await settled(target, target.probe, opts, progress, 'end', leakCallsEnded);
      if (after) leak = leakReport(leakBase, leakMid, after, results.length);
    }
    clearInterval(sampler);
    sampler = undefined;

    return buildReport({
      opts,
      target,
      startedAt,
      loadavgBefore,
      results,
      records,
      idleA,
      idleB,
      idleRss,
      windowA,
      windowB,
      samples,
      t0,
      runStart,
      metricsBefore,
      metricsAfter,
      leak,
      idleLive,
      loadLive,
      // The emulated latencies are the emulators' timers: measured in their process over the window.
      timerLateness: windowB?.emulatorLate ?? { loadgen: timerLateness },
      // The histogram holds whole 10 ms timer intervals: lag is the excess.
      loopP99: Math.max(0, loop.percentile(99) / 1e6 - 10),
    });
  } finally {
    if (sampler) clearInterval(sampler);
    signal?.removeEventListener('abort', onAbort);
    if (!opts.url) progress('stopping the server, removing the test database and keys');
    await target.close();
  }
}

/** --serve: the server side of a run whose callers are elsewhere, until `signal` (Ctrl-C, SIGTERM). */
async function serveOnly(
  opts: LoadtestOptions,
  progress: (line: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const target = await startLocalTarget(opts, progress, signal);
  try {
    const apiKey = await target.createApiKey();
    console.log(`serving ${target.publicUrl} (Ctrl-C stops it and removes its database and keys)`);
    console.log(`callers: ${callersCommand(opts, target, target.publicUrl, apiKey)}`);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    await target.close();
  }
}

async function main(): Promise<void> {
  let opts: LoadtestOptions | 'help';
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    console.error(USAGE);
    process.exit(2);
  }
  if (opts === 'help') {
    console.log(USAGE);
    return;
  }
  const quiet = opts.quiet;
  const progress = (l: string) => {
    if (!quiet) console.error(`[loadtest] ${l}`);
  };
  for (const w of optionWarnings(opts)) console.error(`[loadtest] warning: ${w}`);
  // Before the database exists: a signal at any point from here on removes what was made.
  const stop = stopSignals(progress);
  let report: Report | undefined;
  try {
    // A signal is how --serve ends once serving: then it exits cleanly.
    if (opts.serve) await serveOnly(opts, progress, stop.signal);
    else report = await runLoadtest(opts, progress, stop.signal);
  } catch (err) {
    if (stop.signal.reason instanceof Interrupted) process.exit(stop.signal.reason.exitCode);
    throw err;
  } finally {
    stop.dispose();
  }
  if (!report) return;
  console.log(formatReport(report));
  if (opts.out) {
    await writeFile(opts.out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`  JSON report: ${opts.out}`);
  }
  process.exitCode = report.complete && report.errorFree ? 0 : 1;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
