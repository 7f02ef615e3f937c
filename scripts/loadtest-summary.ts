/**
 * Turns what a load-test run collected (call results, the server's call records, CPU/RSS points,
 * the pacers' lateness histogram, /metrics) into the report. How each figure is computed is in
 * METHOD, which the report carries.
 */
import os from 'node:os';
import type { TurnLatency } from '../server/conversation/ports';
import { FRAME_MS } from '../server/telephony/mulaw';
import { LatenessTotals } from '../server/telephony/pacer';
import type { CallResult } from './loadtest-caller';
import type { LoadtestOptions } from './loadtest-options';
import {
  histogramQuantiles,
  machineInfo,
  type BucketQuantiles,
  type LatenessSnapshot,
  metricSum,
  pacingFromMetrics,
  procRssBytes,
  rssGrowthByPart,
  topProcesses,
  type MachineJiffies,
  type ProbeReply,
} from './loadtest-probe';
import { dist, latenessBetween, type BudgetLine, type Report } from './loadtest-report';
import type { EmulatorLateness, Target } from './loadtest-target';

const MB = 2 ** 20;
const JITTER_CAP_MS = (LatenessTotals.BUCKETS - 1) * LatenessTotals.BUCKET_MS;
export const round = (v: number | null, digits = 2) =>
  v === null || !Number.isFinite(v) ? null : Math.round(v * 10 ** digits) / 10 ** digits;

export const METHOD = {
  turnOverhead:
    'Server-side, per turn, from the call records the server writes (calls.latency): firstFrameMs (final transcript received → first audio of the reply handed to the pacer, which sends it in the same tick) minus the emulated first-token and TTS first-byte latencies. Breakdown: LLM request = measured first token − emulated; TTS request = measured first byte − emulated; in-process = the rest. Turns that produced no audio (barged in before it) are left out.',
  e2eTurnOverhead:
    "Caller-side, per turn, on the load generator's clock: first reply frame received − (time the frame that ends the VAD's 500 ms silence was sent + emulated transcript delay + first token + TTS first byte). Adds inbound transit (caller → server → STT), the transcript's way back and outbound transit to the server's figure; under load it also carries the load generator's own event-loop delay.",
  greeting: 'Caller-side: first media frame received − `start` sent.',
  bargeInServer:
    "Server-side: bayline_barge_in_seconds (caller speech onset → `clear` written), every interruption by speech between the scrapes, on the caller's audio timeline: the speech run's audio up to its latest frame plus the time since that frame arrived, so a sender that falls behind is not counted; bucket upper edges (800, 850, 900 ms, 1, 1.1, 1.25, 1.5 s, …). The budget line uses its max bucket when the server is local.",
  greetingServer:
    "Server-side: bayline_greeting_seconds (`start` received → first greeting audio written to the socket) between the scrapes before and after the run, every call; percentiles are bucket upper edges (1, 2, 5, 10, 20, 50 ms …). The budget line uses it when the server is local: the callers' figure also holds their own event-loop lag, which is large when they are starved.",
  jitter:
    "Server-side, every frame of every call's OutboundPacer in the metrics window: lateness = send time − due time (send time = that pacer's own turn in the tick, so hundreds of sends in one tick are each timed; due = when the audio Twilio holds would fall to the pacer's 180 ms lead, on the 20 ms tick grid), from a process-wide 0.1 ms histogram (percentiles are bucket upper edges). Late = more than 60 ms. With --url (no probe): the server's bayline_pacing_lateness_seconds between the scrapes before and after the run, on its bucket edges (1, 2, 5, 10, 20, 40, 60 ms …). Caller playback underruns replay Twilio's buffer from arrival times.",
  cpu: 'Server process utime+stime from /proc/<pid>/stat over the metrics window; per call = CPU s / calls; per call-second = CPU ms / (calls × window s).',
  rss: 'Server VmRSS from /proc/<pid>/status sampled each second; per call = (max RSS in the window − idle RSS) / calls. Idle = after warm-up calls, before the run.',
  callerSendLag:
    "Load generator: every inbound frame the callers sent in the metrics window, send time − its place on the call's media timeline (stream start + 20 ms × frame number), in 0.1 ms buckets up to 100 ms. Twilio sends in real time. When the callers are short of CPU they fall behind and catch up in bursts, and the server then carries a lighter, burstier load than N real callers: the run counts as real-time load when p99 ≤ 20 ms (one frame).",
  errors:
    'Failed rings/upgrades, greetings or replies that never came, protocol errors seen by the caller, calls the server closed (dropped), server log lines at error level, bayline_provider_errors_total increase, server exit.',
} as const;

export interface Point {
  t: number;
  /** The callers' send lag so far (process-wide histogram of this load generator). */
  callerSendLag: LatenessSnapshot | null;
  serverCpu: number | null;
  serverSys: number | null;
  serverIo: { reads: number; writes: number } | null;
  /** This process plus the emulators' process. */
  loadgenCpu: number | null;
  /** How late each emulator process's timers fired since the previous point; null if unknown. */
  emulatorLate: EmulatorLateness | null;
  machine: MachineJiffies | null;
  processes: Map<number, { name: string; cpu: number }>;
  probe: ProbeReply | null;
}

const diff = (a: number | null, b: number | null) => (a === null || b === null ? null : b - a);

export interface Collected {
  opts: LoadtestOptions;
  target: Target;
  startedAt: Date;
  loadavgBefore: number[];
  results: CallResult[];
  records: Map<string, TurnLatency[]> | null;
  idleA: Point;
  idleB: Point;
  idleRss: number | null;
  windowA: Point | undefined;
  windowB: Point | undefined;
  samples: Report['samples'];
  t0: number;
  runStart: number;
  metricsBefore: Map<string, number> | null;
  metricsAfter: Map<string, number> | null;
  leak: Report['leak'];
  idleLive: ProbeReply | null;
  loadLive: ProbeReply | null;
  /** How late the emulators' timers fired over the window, per process (with --url: this one's). */
  timerLateness: Record<string, number[]>;
  loopP99: number;
}

export function buildReport(c: Collected): Report {
  const { opts, target, results } = c;
  const e = target.emulated;
  const N = opts.calls;

  const overhead: number[] = [];
  const llmReq: number[] = [];
  const ttsReq: number[] = [];
  const inProc: number[] = [];
  let recordedTurns = 0;
  // Only turns whose utterance began inside the metrics window: the ramp (every call ringing at
  // once) is not the steady state. A call's server records are its caller's turns, in order (each
  // utterance is one transcript, one reply); a call where the counts disagree is left out.
  const winStart = c.windowA?.t ?? -Infinity;
  const winEnd = c.windowB?.t ?? Infinity;
  const inWindowTurn = (t: { startedAt: number }) => t.startedAt >= winStart && t.startedAt <= winEnd;
  let unmatchedCalls = 0;
  for (const r of results) {
    const server = c.records?.get(r.callSid);
    if (!server) continue;
    recordedTurns += server.length;
    const spoken = r.turns.filter((t) => t.startedAt > 0);
    if (server.length !== spoken.length && server.length !== spoken.length - 1) {
      unmatchedCalls++;
      continue;
    }
    server.forEach((t, i) => {
      const turn = spoken[i];
      if (!turn || !inWindowTurn(turn)) return;
      if (t.firstFrameMs === null || t.llmFirstTokenMs === null || t.ttsFirstByteMs === null) return;
      overhead.push(t.firstFrameMs - e.llmMs - e.ttsMs);
      llmReq.push(t.llmFirstTokenMs - e.llmMs);
      ttsReq.push(t.ttsFirstByteMs - e.ttsMs);
      inProc.push(t.firstFrameMs - t.llmFirstTokenMs - t.ttsFirstByteMs);
    });
  }

  const turns = results.flatMap((r) => r.turns);
  const windowTurns = turns.filter(inWindowTurn);
  const errorsList = results.flatMap((r) => r.errors);
  const byKind: Record<string, number> = {};
  for (const err of errorsList) {
    const kind = err.slice(0, err.indexOf(':') > 0 ? err.indexOf(':') : err.length);
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  const delta = (name: string, ...labels: string[]) =>
    metricSum(c.metricsAfter, name, ...labels) - metricSum(c.metricsBefore, name, ...labels);
  const metrics: Record<string, number> = {
    providerErrors: delta('bayline_provider_errors_total'),
    bargeIns: delta('bayline_barge_ins_total'),
    inboundFramesOk: delta('bayline_media_frames_total', 'direction="inbound"', 'result="ok"'),
    inboundFramesInvalid: delta('bayline_media_frames_total', 'direction="inbound"', 'result="invalid"'),
    inboundFramesEarly: delta('bayline_media_frames_total', 'direction="inbound"', 'result="early"'),
    toolErrors: delta('bayline_tool_calls_total', 'result="error"'),
  };
  if (metrics.providerErrors) byKind.provider = metrics.providerErrors;
  if (target.log.errors) byKind['server-log'] = target.log.errors;
  if (target.exited) byKind['server-exit'] = 1;
  const errorCount = Object.values(byKind).reduce((a, b) => a + b, 0);

  const { windowA: a, windowB: b } = c;
  const windowS = a && b ? (b.t - a.t) / 1000 : null;
  const serverCpu = a && b ? diff(a.serverCpu, b.serverCpu) : null;
  const serverSys = a && b ? diff(a.serverSys, b.serverSys) : null;
  const loadgenCpu = a && b ? diff(a.loadgenCpu, b.loadgenCpu) : null;
  const machineBusy = a?.machine && b?.machine ? (b.machine.busy - a.machine.busy) / 100 : null;
  const inWindow = c.samples.filter(
    (s) => a && b && s.t * 1000 >= a.t - c.t0 && s.t * 1000 <= b.t - c.t0 && s.serverRssMb !== null,
  );
  const rssMean = inWindow.length
    ? inWindow.reduce((x, s) => x + (s.serverRssMb as number), 0) / inWindow.length
    : null;
  const rssMax = inWindow.length ? Math.max(...inWindow.map((s) => s.serverRssMb as number)) : null;
  const idleRssMb = c.idleRss === null ? null : c.idleRss / MB;
  const rssKbPerCall = rssMax !== null && idleRssMb !== null ? ((rssMax - idleRssMb) * 1024) / N : null;
  const idleCpu = diff(c.idleA.serverCpu, c.idleB.serverCpu);

  const lat = b?.probe
    ? latenessBetween(a?.probe?.lateness, b.probe.lateness, LatenessTotals.BUCKET_MS)
    : null;
  // With --url there is no probe: the server's own histogram between the scrapes, on its bucket edges.
  const latMetric = lat ? null : pacingFromMetrics(c.metricsBefore, c.metricsAfter);
  const sendLag =
    a?.callerSendLag && b?.callerSendLag
      ? latenessBetween(a.callerSendLag, b.callerSendLag, LatenessTotals.BUCKET_MS)
      : null;
  const missedTicks = b?.probe && a?.probe ? b.probe.ticker.missedTicks - a.probe.ticker.missedTicks : null;

  const turnOverheadMs = dist(overhead);
  const e2e = dist(windowTurns.map((t) => t.e2eMs ?? NaN));
  const greeting = dist(results.map((r) => r.greetingMs ?? NaN));
  const greetingServer = histogramQuantiles(c.metricsBefore, c.metricsAfter, 'bayline_greeting_seconds');
  const greetingServerMs = inMs(greetingServer);
  const bargeInServerMs = inMs(
    histogramQuantiles(c.metricsBefore, c.metricsAfter, 'bayline_barge_in_seconds'),
  );
  const clears = dist(turns.filter((t) => t.bargeIn).map((t) => t.clearMs ?? NaN));
  const connected = results.filter((r) => r.connected).length;
  const dropped = results.filter((r) => r.dropped).length;

  const at = `at ${N} calls`;
  const budget: BudgetLine[] = [
    line(`turn overhead p50 ${at}`, '≤ 3 ms', turnOverheadMs?.p50, 3),
    line(`turn overhead p99 ${at}`, '≤ 15 ms', turnOverheadMs?.p99, 15),
    line(`pacing jitter p99 ${at}`, '≤ 5 ms', lat?.frames ? lat.p99 : latMetric?.p99, 5),
    line(`frames later than 60 ms ${at}`, '0', (lat ?? latMetric)?.lateFrames, 0),
    line(`RSS per call ${at}`, '≤ 256 KB', rssKbPerCall ?? undefined, 256),
    greetingServerMs && !opts.url
      ? line(`greeting p99 (server) ${at}`, '≤ 50 ms', greetingServerMs.p99 ?? Infinity, 50)
      : line(`greeting p99 ${at}`, '≤ 50 ms', greeting?.p99, 50),
    bargeInServerMs && !opts.url
      ? line('barge-in clear max (server)', '≤ 1500 ms', bargeInServerMs.max ?? Infinity, 1500)
      : line('barge-in clear max', '≤ 1500 ms', clears?.max, 1500),
  ];
  if (c.leak)
    budget.push({
      name: `leak: RSS, heap within 10 %, no handles (${c.leak.calls} calls)`,
      target: 'ok',
      value: `RSS ${c.leak.growthPct} %, heap ${c.leak.heapGrowthPct} %`,
      ok: c.leak.ok,
    });

  const complete =
    results.length === (opts.total ?? N) &&
    greeting !== null &&
    e2e !== null &&
    (opts.url !== undefined || (turnOverheadMs !== null && lat !== null && lat.frames > 0)) &&
    (target.serverPid === undefined || (serverCpu !== null && rssMax !== null)) &&
    (opts.total === undefined || opts.url !== undefined || c.leak !== null);

  return {
    tool: 'bayline-loadtest',
    version: 1,
    startedAt: c.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      ...machineInfo(),
      loadavgBefore: c.loadavgBefore.map((x) => round(x) as number),
      loadavgAfter: os.loadavg().map((x) => round(x) as number),
    },
    options: {
      ...opts,
      mode: opts.total === undefined ? 'concurrent' : 'sequential',
      emulated: e,
    },
    target: {
      mode: opts.url ? 'url' : 'local',
      baseUrl: target.baseUrl,
      serverPid: target.serverPid ?? null,
      serverPids: [...target.serverPids],
      emulatorPids: target.emulatorPids,
    },
    method: { ...METHOD },
    window: {
      startS: round(a ? (a.t - c.runStart) / 1000 : 0, 1) as number,
      endS: round(b ? (b.t - c.runStart) / 1000 : 0, 1) as number,
      seconds: round(windowS ?? 0, 1) as number,
    },
    calls: {
      planned: opts.total ?? N,
      started: results.length,
      connected,
      completed: results.filter((r) => r.connected && !r.dropped).length,
      dropped,
      withErrors: results.filter((r) => r.errors.length > 0).length,
    },
    errors: { count: errorCount, byKind, samples: [...new Set(errorsList)].slice(0, 10) },
    turns: {
      total: turns.length,
      answered: turns.filter((t) => t.e2eMs !== null).length,
      bargeIns: turns.filter((t) => t.bargeIn).length,
      bargeInsCleared: turns.filter((t) => t.bargeIn && t.clearMs !== null).length,
    },
    turnOverheadMs,
    turnStagesMs: {
      llmRequest: dist(llmReq),
      ttsRequest: dist(ttsReq),
      inProcess: dist(inProc),
      turns: recordedTurns,
      unmatchedCalls,
    },
    e2eTurnOverheadMs: e2e,
    greetingMs: greeting,
    greetingServerMs,
    bargeInClearMs: clears,
    bargeInServerMs,
    pacing: {
      source: target.probe
        ? 'server OutboundPacer lateness (all calls)'
        : latMetric
          ? 'server metric bayline_pacing_lateness_seconds between the scrapes (bucket edges; no p99.9)'
          : 'unavailable with --url',
      frames: lat?.frames ?? latMetric?.frames ?? 0,
      jitterP50Ms: lat ? Math.min(lat.p50, JITTER_CAP_MS) : (latMetric?.p50 ?? null),
      jitterP99Ms: lat ? Math.min(lat.p99, JITTER_CAP_MS) : (latMetric?.p99 ?? null),
      jitterCapped: lat !== null && lat.p999 > JITTER_CAP_MS,
      jitterP999Ms: lat ? Math.min(lat.p999, JITTER_CAP_MS) : null,
      lateFrames: lat?.lateFrames ?? latMetric?.lateFrames ?? null,
      missedTicks,
      serverLoopDelayP99Ms: round(b?.probe?.loopDelayMs.p99 ?? null),
      callerFrames: results.reduce((n, r) => n + r.mediaFrames, 0),
      callerUnderruns: results.reduce((n, r) => n + r.underruns, 0),
      callerMaxUnderrunMs: round(Math.max(0, ...results.map((r) => r.maxUnderrunMs))) as number,
    },
    server: {
      idle: {
        rssMb: round(idleRssMb, 1),
        cpuCores: round(idleCpu === null ? null : idleCpu / ((c.idleB.t - c.idleA.t) / 1000), 3),
        heapUsedMb: round(c.idleB.probe ? c.idleB.probe.heapUsedBytes / MB : null, 1),
      },
      load: {
        cpuSeconds: round(serverCpu),
        cpuCores: round(serverCpu !== null && windowS ? serverCpu / windowS : null),
        cpuKernelShare: round(serverCpu && serverSys !== null ? serverSys / serverCpu : null),
        syscallsPerCallSecond:
          a?.serverIo && b?.serverIo && windowS
            ? {
                reads: round((b.serverIo.reads - a.serverIo.reads) / (N * windowS), 1) as number,
                writes: round((b.serverIo.writes - a.serverIo.writes) / (N * windowS), 1) as number,
              }
            : null,
        // In leak-check mode the window holds every call, one after another.
        cpuSecondsPerCall: round(serverCpu !== null ? serverCpu / (opts.total ?? N) : null, 4),
        cpuMsPerCallSecond: round(
          serverCpu !== null && windowS ? (serverCpu * 1000) / (N * windowS) : null,
          3,
        ),
        rssMbMean: round(rssMean, 1),
        rssMbMax: round(rssMax, 1),
        rssKbPerCall: round(rssKbPerCall, 0),
        heapUsedMb: round(b?.probe ? b.probe.heapUsedBytes / MB : null, 1),
        liveKbPerCall:
          c.idleLive && c.loadLive && opts.total === undefined
            ? {
                heap: round((c.loadLive.heapUsedBytes - c.idleLive.heapUsedBytes) / 1024 / N, 0) as number,
                external: round(
                  (c.loadLive.externalBytes - c.idleLive.externalBytes) / 1024 / N,
                  0,
                ) as number,
                rss: round((c.loadLive.rssBytes - c.idleLive.rssBytes) / 1024 / N, 0) as number,
              }
            : null,
      },
      log: target.log,
      exited: target.exited ?? null,
      metrics,
    },
    loadgen: {
      cpuCores: round(loadgenCpu !== null && windowS ? loadgenCpu / windowS : null),
      rssMb: round((procRssBytes('self') ?? NaN) / MB, 1),
      loopDelayP99Ms: round(c.loopP99) as number,
      sendLagMs:
        sendLag && sendLag.frames > 0
          ? {
              frames: sendLag.frames,
              p50: Math.min(sendLag.p50, JITTER_CAP_MS),
              p99: Math.min(sendLag.p99, JITTER_CAP_MS),
              capped: sendLag.p99 > JITTER_CAP_MS,
              latePct: round((100 * sendLag.lateFrames) / sendLag.frames, 1) as number,
            }
          : null,
      timerLatenessMs: dist(Object.values(c.timerLateness).flat()),
      timerLatenessByProcessMs: Object.fromEntries(
        Object.entries(c.timerLateness).map(([role, late]) => [role, dist(late)]),
      ),
    },
    machineCpu: {
      busyCores: round(machineBusy !== null && windowS ? machineBusy / windowS : null),
      otherCores: round(
        machineBusy !== null && windowS
          ? Math.max(0, machineBusy - (serverCpu ?? 0) - (loadgenCpu ?? 0)) / windowS
          : null,
      ),
      breakdownCores:
        a?.machine && b?.machine && windowS
          ? {
              user: round((b.machine.user - a.machine.user) / 100 / windowS) as number,
              system: round((b.machine.system - a.machine.system) / 100 / windowS) as number,
              softirq: round((b.machine.softirq - a.machine.softirq) / 100 / windowS) as number,
              steal: round((b.machine.steal - a.machine.steal) / 100 / windowS) as number,
            }
          : null,
      topOthers:
        a && b && windowS
          ? topProcesses(a.processes, b.processes, windowS, [
              process.pid,
              target.serverPid ?? -1,
              ...target.serverPids,
              ...target.emulatorPids,
            ])
          : [],
    },
    leak: c.leak,
    turnTimeline: turns
      .filter((t) => t.e2eMs !== null)
      .map((t): [number, number] => [
        round((t.startedAt - c.runStart) / 1000, 1) as number,
        round(t.e2eMs, 1) as number,
      ])
      .sort((x, y) => x[0] - y[0]),
    budget,
    realTimeLoad: sendLag && sendLag.frames > 0 ? sendLag.p99 <= FRAME_MS : null,
    samples: c.samples,
    complete,
    errorFree: errorCount === 0 && dropped === 0,
  };
}

/** Seconds → ms, keeping null for "beyond the last bucket". */
function inMs(q: BucketQuantiles | null): BucketQuantiles | null {
  const ms = (v: number | null) => (v === null ? null : Math.round(v * 1e6) / 1e3);
  return q && { n: q.n, p50: ms(q.p50), p99: ms(q.p99), max: ms(q.max) };
}

function line(name: string, target: string, value: number | undefined, max: number): BudgetLine {
  return {
    name,
    target,
    value: value === undefined ? '—' : String(Math.round(value * 100) / 100),
    ok: value === undefined ? null : value <= max,
  };
}

const mb = (bytes: number) => round(bytes / MB, 1) as number;
const pct = (from: number, to: number) => round(((to - from) / from) * 100, 1) as number;

/** Largest first, in MB: which part of the process RSS changed in between two replies. */
function byPartMb(before: ProbeReply, after: ProbeReply): Record<string, number> {
  return Object.fromEntries(
    Object.entries(rssGrowthByPart(before, after))
      .sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]))
      .map(([k, v]) => [k, mb(v)]),
  );
}

/** The server idle, as the leak check compares it (loadtest.ts `settled`). */
export interface SettledPoint {
  readonly reply: ProbeReply;
  /** Seconds after the calls ended at which V8's memory reducer was seen to have run; null: not. */
  readonly reducerAfterS: number | null;
}

export interface LeakReport {
  calls: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  growthPct: number;
  heapGrowthPct: number;
  heapBeforeMb: number;
  heapAfterMb: number;
  /** The RSS change by part: V8's heap spaces (pages held) and the rest of the process. */
  growthByPartMb: Record<string, number>;
  /**
   * The same server idle after the first half of the calls (the same wait and GC as the end). The
   * growth from there to the end is per call: what warm-up (compiled code, allocators' working
   * size) left in the whole-run figure is in the first half.
   */
  midpoint: {
    calls: number;
    rssMb: number;
    heapMb: number;
    secondHalfGrowthPct: number;
    secondHalfHeapGrowthPct: number;
    secondHalfByPartMb: Record<string, number>;
  } | null;
  /**
   * Whether V8's memory reducer had run at each point (seconds after the calls ended when it was
   * seen; null: it had not). A point where it had not holds spare heap pages the others returned.
   */
  memoryReducerAfterS: { base: number | null; midpoint: number | null; end: number | null };
  resourcesBefore: Record<string, number>;
  resourcesAfter: Record<string, number>;
  extraResources: Record<string, number>;
  ok: boolean;
}

/**
 * The leak check's verdict from three idle, garbage-collected points: before the calls, halfway
 * (null when not taken) and after. The budget line is the whole run's: RSS and live heap within
 * 10 % of the base, and no handle (socket, timer) more than at the base.
 */
export function leakReport(
  basePoint: SettledPoint,
  midPoint: (SettledPoint & { calls: number }) | null,
  endPoint: SettledPoint,
  calls: number,
): LeakReport {
  const base = basePoint.reply;
  const after = endPoint.reply;
  const extra: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.resources)) {
    const more = v - (base.resources[k] ?? 0);
    if (more > 0) extra[k] = more;
  }
  const growthPct = pct(base.rssBytes, after.rssBytes);
  const heapGrowthPct = pct(base.heapUsedBytes, after.heapUsedBytes);
  return {
    calls,
    rssBeforeMb: mb(base.rssBytes),
    rssAfterMb: mb(after.rssBytes),
    growthPct,
    heapGrowthPct,
    heapBeforeMb: mb(base.heapUsedBytes),
    heapAfterMb: mb(after.heapUsedBytes),
    growthByPartMb: byPartMb(base, after),
    midpoint: midPoint && {
      calls: midPoint.calls,
      rssMb: mb(midPoint.reply.rssBytes),
      heapMb: mb(midPoint.reply.heapUsedBytes),
      secondHalfGrowthPct: pct(midPoint.reply.rssBytes, after.rssBytes),
      secondHalfHeapGrowthPct: pct(midPoint.reply.heapUsedBytes, after.heapUsedBytes),
      secondHalfByPartMb: byPartMb(midPoint.reply, after),
    },
    memoryReducerAfterS: {
      base: basePoint.reducerAfterS,
      midpoint: midPoint ? midPoint.reducerAfterS : null,
      end: endPoint.reducerAfterS,
    },
    resourcesBefore: base.resources,
    resourcesAfter: after.resources,
    extraResources: extra,
    // RSS alone can pass by shrinking (V8 returns pages when idle): the live heap must hold too.
    ok: growthPct <= 10 && heapGrowthPct <= 10 && Object.keys(extra).length === 0,
  };
}
