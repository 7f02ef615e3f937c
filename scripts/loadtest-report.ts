/** The load test's report: the JSON shape, the statistics behind it and the table printed from it. */
import type { BucketQuantiles, LatenessSnapshot } from './loadtest-probe';
import type { LeakReport } from './loadtest-summary';

export interface Dist {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentiles; null when there are no samples. */
export function dist(values: readonly number[]): Dist | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return null;
  const at = (q: number) => v[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] as number;
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    n,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(v[n - 1] as number),
    mean: round(v.reduce((a, b) => a + b, 0) / n),
  };
}

/** Percentiles of the frames counted between two snapshots of the pacers' lateness histogram. */
export function latenessBetween(
  a: LatenessSnapshot | undefined,
  b: LatenessSnapshot,
  bucketMs: number,
): { frames: number; lateFrames: number; p50: number; p99: number; p999: number } {
  const counts = b.counts.map((c, i) => c - (a?.counts[i] ?? 0));
  const frames = counts.reduce((x, y) => x + y, 0);
  const q = (p: number) => {
    if (frames === 0) return 0;
    const rank = Math.ceil(p * frames);
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i] as number;
      // The bucket's upper edge: a conservative reading of "p99 ≤ x".
      // The last bucket holds everything beyond the histogram: its edge is unknown.
      if (seen >= rank) return Math.round((i + 1) * bucketMs * 100) / 100;
    }
    return counts.length * bucketMs;
  };
  return {
    frames,
    lateFrames: b.lateFrames - (a?.lateFrames ?? 0),
    p50: q(0.5),
    p99: q(0.99),
    p999: q(0.999),
  };
}

export interface BudgetLine {
  readonly name: string;
  readonly target: string;
  readonly value: string;
  readonly ok: boolean | null;
}

export interface Report {
  readonly tool: 'bayline-loadtest';
  readonly version: 1;
  startedAt: string;
  finishedAt: string;
  machine: {
    cpus: number;
    model: string;
    memTotalMb: number;
    node: string;
    loadavgBefore: number[];
    loadavgAfter: number[];
  };
  options: Record<string, unknown>;
  target: {
    mode: 'local' | 'url';
    baseUrl: string;
    serverPid: number | null;
    /** The server's processes: with --workers, the cluster primary and its workers. */
    serverPids: number[];
    emulatorPids: number[];
  };
  method: Record<string, string>;
  window: { startS: number; endS: number; seconds: number };
  calls: {
    planned: number;
    started: number;
    connected: number;
    completed: number;
    dropped: number;
    withErrors: number;
  };
  errors: { count: number; byKind: Record<string, number>; samples: string[] };
  turns: { total: number; answered: number; bargeIns: number; bargeInsCleared: number };
  turnOverheadMs: Dist | null;
  turnStagesMs: {
    llmRequest: Dist | null;
    ttsRequest: Dist | null;
    inProcess: Dist | null;
    /** Server records read, and calls whose records did not line up with the caller's turns. */
    turns: number;
    unmatchedCalls: number;
  };
  e2eTurnOverheadMs: Dist | null;
  greetingMs: Dist | null;
  /** Server-side, from bayline_greeting_seconds: bucket upper edges (null: beyond the last). */
  greetingServerMs: BucketQuantiles | null;
  bargeInClearMs: Dist | null;
  /** Server-side, from bayline_barge_in_seconds: bucket upper edges (null: beyond the last). */
  bargeInServerMs: BucketQuantiles | null;
  pacing: {
    source: string;
    frames: number;
    jitterP50Ms: number | null;
    jitterP99Ms: number | null;
    /** Jitter percentiles are capped at the histogram's 100 ms; true when one reached the cap. */
    jitterCapped: boolean;
    jitterP999Ms: number | null;
    lateFrames: number | null;
    missedTicks: number | null;
    serverLoopDelayP99Ms: number | null;
    callerFrames: number;
    callerUnderruns: number;
    callerMaxUnderrunMs: number;
  };
  server: {
    idle: { rssMb: number | null; cpuCores: number | null; heapUsedMb: number | null };
    load: {
      cpuSeconds: number | null;
      cpuCores: number | null;
      /** Share of the CPU time spent in the kernel (syscalls: socket reads and writes). */
      cpuKernelShare: number | null;
      /** Socket reads and writes (/proc/<pid>/io syscr/syscw) per call per second. */
      syscallsPerCallSecond: { reads: number; writes: number } | null;
      cpuSecondsPerCall: number | null;
      cpuMsPerCallSecond: number | null;
      rssMbMean: number | null;
      rssMbMax: number | null;
      rssKbPerCall: number | null;
      heapUsedMb: number | null;
      /** After a forced full GC at idle and at the end of the window: memory the calls really hold. */
      liveKbPerCall: { heap: number; external: number; rss: number } | null;
    };
    log: { errors: number; warnings: number; samples: string[] };
    exited: string | null;
    metrics: Record<string, number>;
  };
  loadgen: {
    cpuCores: number | null;
    rssMb: number | null;
    loopDelayP99Ms: number;
    /**
     * The callers' frames in the window: send time − place on the media timeline (ms, capped at
     * 100), and the share sent more than one frame (20 ms) late. Null when nothing was sent.
     */
    sendLagMs: { frames: number; p50: number; p99: number; capped: boolean; latePct: number } | null;
    /** How late a 100 ms timer fires in the emulators' processes (the emulated latencies are such timers). */
    timerLatenessMs: Dist | null;
    /** The same per process: `transcription`, `http` (model, TTS, REST); with --url, `loadgen`. */
    timerLatenessByProcessMs: Record<string, Dist | null>;
  };
  machineCpu: {
    busyCores: number | null;
    /** Machine busy time not billed to the server or the load generator (other work, softirq). */
    otherCores: number | null;
    breakdownCores: { user: number; system: number; softirq: number; steal: number } | null;
    topOthers: Array<{ pid: number; name: string; cores: number }>;
  };
  leak: LeakReport | null;
  /** [seconds since the run started, caller-side e2e overhead ms] per answered turn. */
  turnTimeline: Array<[number, number]>;
  budget: BudgetLine[];
  /**
   * The callers kept real time (their frames' send lag p99 ≤ 20 ms): the budget lines describe N
   * real callers' load. False: the load generator fell behind, the load was lighter and burstier.
   */
  realTimeLoad: boolean | null;
  samples: Array<{
    t: number;
    serverCpuS: number | null;
    serverRssMb: number | null;
    serverHeapMb: number | null;
    loadgenCpuS: number | null;
  }>;
  complete: boolean;
  errorFree: boolean;
}

const f = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
const edge = (v: number | null) => (v === null ? 'beyond the last bucket' : `≤ ${f(v)}`);
const buckets = (q: BucketQuantiles | null) =>
  q ? `${edge(q.p50)} / ${edge(q.p99)}  (max ${edge(q.max)}, n=${q.n})` : '—';
const d = (x: Dist | null) =>
  x ? `${f(x.p50)} / ${f(x.p95)} / ${f(x.p99)}  (max ${f(x.max)}, n=${x.n})` : '—';

/** `part +x.y` for the parts that changed, in the order given (largest first). */
const byPart = (mb: Record<string, number>) =>
  Object.entries(mb)
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k} ${v > 0 ? '+' : ''}${f(v)}`)
    .join(', ') || 'none';

export function formatReport(r: Report): string {
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(40)} ${v}`);
  lines.push(
    `Bayline load test — ${r.options.mode === 'sequential' ? `${r.calls.planned} calls, ${String(r.options.calls)} at a time` : `${r.calls.planned} concurrent calls`}, window ${f(r.window.seconds, 0)} s`,
  );
  lines.push(
    `  machine: ${r.machine.cpus} × ${r.machine.model}, node ${r.machine.node}; load avg ${r.machine.loadavgBefore.map((x) => x.toFixed(2)).join(' ')} → ${r.machine.loadavgAfter.map((x) => x.toFixed(2)).join(' ')}`,
  );
  const e = r.options.emulated as { sttMs: number; llmMs: number; ttsMs: number };
  lines.push(
    `  emulated: transcript ${e.sttMs} ms after speech stops, first token ${e.llmMs} ms, TTS first byte ${e.ttsMs} ms`,
  );
  lines.push('');
  lines.push('  latency (ms)                             p50 / p95 / p99');
  row('turn overhead (server)', d(r.turnOverheadMs));
  row('  of which LLM request beyond emulated', d(r.turnStagesMs.llmRequest));
  row('  of which TTS request beyond emulated', d(r.turnStagesMs.ttsRequest));
  row('  of which in-process (chunk→TTS→pacer)', d(r.turnStagesMs.inProcess));
  row('turn overhead end-to-end (caller)', d(r.e2eTurnOverheadMs));
  row('greeting (start → first audio)', d(r.greetingMs));
  row('  the same, server-side (bucket edges)', buckets(r.greetingServerMs));
  row('barge-in: speech start → clear', d(r.bargeInClearMs));
  row('  the same, server-side (bucket edges)', buckets(r.bargeInServerMs));
  lines.push('');
  lines.push('  pacing');
  row(
    'outbound jitter p50 / p99 / p99.9 (ms)',
    `${f(r.pacing.jitterP50Ms)} / ${f(r.pacing.jitterP99Ms)} / ${f(r.pacing.jitterP999Ms)}${r.pacing.jitterCapped ? ' (capped: ≥ 100 ms)' : ''}  (${r.pacing.frames} frames)`,
  );
  row(
    'frames later than 60 ms',
    `${r.pacing.lateFrames ?? '—'}  (missed ticks ${r.pacing.missedTicks ?? '—'})`,
  );
  row('server event-loop delay p99 (ms)', f(r.pacing.serverLoopDelayP99Ms));
  row(
    'caller playback underruns',
    `${r.pacing.callerUnderruns} of ${r.pacing.callerFrames} frames (max gap ${f(r.pacing.callerMaxUnderrunMs)} ms)`,
  );
  lines.push('');
  lines.push('  server process');
  row('idle: RSS MB / CPU cores', `${f(r.server.idle.rssMb)} / ${f(r.server.idle.cpuCores, 3)}`);
  row(
    'load: CPU s (cores) over window',
    `${f(r.server.load.cpuSeconds)} (${f(r.server.load.cpuCores, 2)} cores, ${f((r.server.load.cpuKernelShare ?? NaN) * 100, 0)} % in the kernel)`,
  );
  row(
    'load: CPU per call',
    `${f(r.server.load.cpuSecondsPerCall, 3)} s/call over the window, ${f(r.server.load.cpuMsPerCallSecond, 2)} ms per call-second`,
  );
  row(
    'load: syscalls per call-second (r / w)',
    r.server.load.syscallsPerCallSecond
      ? `${f(r.server.load.syscallsPerCallSecond.reads)} / ${f(r.server.load.syscallsPerCallSecond.writes)}`
      : '—',
  );
  row(
    'load: RSS MB mean / max, per call',
    `${f(r.server.load.rssMbMean)} / ${f(r.server.load.rssMbMax)}, ${f(r.server.load.rssKbPerCall, 0)} KB/call`,
  );
  row(
    'live per call after GC: heap / external / RSS',
    r.server.load.liveKbPerCall
      ? `${r.server.load.liveKbPerCall.heap} / ${r.server.load.liveKbPerCall.external} / ${r.server.load.liveKbPerCall.rss} KB`
      : '—',
  );
  row('log errors / warnings', `${r.server.log.errors} / ${r.server.log.warnings}`);
  row(
    'load generator CPU cores / loop lag p99',
    `${f(r.loadgen.cpuCores, 2)} / ${f(r.loadgen.loopDelayP99Ms)} ms`,
  );
  row(
    "callers' frames sent late p50 / p99 (ms)",
    r.loadgen.sendLagMs
      ? `${f(r.loadgen.sendLagMs.p50)} / ${f(r.loadgen.sendLagMs.p99)}${r.loadgen.sendLagMs.capped ? ' (capped: ≥ 100 ms)' : ''}, ${f(r.loadgen.sendLagMs.latePct, 1)} % more than 20 ms`
      : '—',
  );
  row(
    'emulated latencies late by p50 / p99 (ms)',
    Object.entries(r.loadgen.timerLatenessByProcessMs)
      .map(([role, d]) => `${role} ${f(d?.p50)} / ${f(d?.p99)}`)
      .join(', ') || '—',
  );
  row(
    'machine busy / not server, not load gen',
    `${f(r.machineCpu.busyCores, 2)} / ${f(r.machineCpu.otherCores, 2)} cores` +
      (r.machineCpu.breakdownCores
        ? `  (softirq ${f(r.machineCpu.breakdownCores.softirq, 2)}, steal ${f(r.machineCpu.breakdownCores.steal, 2)})`
        : ''),
  );
  if (r.machineCpu.topOthers.length)
    row(
      'busiest other processes (cores)',
      r.machineCpu.topOthers.map((p) => `${p.name} ${p.cores}`).join(', '),
    );
  lines.push('');
  lines.push('  calls');
  row('planned / connected / completed', `${r.calls.planned} / ${r.calls.connected} / ${r.calls.completed}`);
  row('dropped / with errors', `${r.calls.dropped} / ${r.calls.withErrors}`);
  row(
    'turns / answered / barge-ins (cleared)',
    `${r.turns.total} / ${r.turns.answered} / ${r.turns.bargeIns} (${r.turns.bargeInsCleared})`,
  );
  row('errors', `${r.errors.count}${r.errors.count ? `  ${JSON.stringify(r.errors.byKind)}` : ''}`);
  for (const s of r.errors.samples.slice(0, 5)) lines.push(`    ${s}`);
  for (const s of r.server.log.samples.slice(0, 5)) lines.push(`    server log: ${s}`);
  if (r.server.exited) lines.push(`    ${r.server.exited}`);
  if (r.leak) {
    lines.push('');
    lines.push('  leak check');
    row(
      'RSS MB before → after (after GC)',
      `${f(r.leak.rssBeforeMb)} → ${f(r.leak.rssAfterMb)} (${f(r.leak.growthPct)} %), heap ${f(r.leak.heapBeforeMb)} → ${f(r.leak.heapAfterMb)} (${f(r.leak.heapGrowthPct)} %)`,
    );
    row('RSS growth by part, MB', byPart(r.leak.growthByPartMb));
    const mid = r.leak.midpoint;
    if (mid)
      row(
        `second half (after ${mid.calls} calls → end)`,
        `RSS ${f(mid.rssMb)} → ${f(r.leak.rssAfterMb)} (${f(mid.secondHalfGrowthPct)} %), heap ${f(mid.heapMb)} → ${f(r.leak.heapAfterMb)} (${f(mid.secondHalfHeapGrowthPct)} %); ${byPart(mid.secondHalfByPartMb)}`,
      );
    const ran = (s: number | null) => (s === null ? 'no' : `yes (seen at ${s} s)`);
    const reducer = r.leak.memoryReducerAfterS;
    row(
      "V8's memory reducer ran after the calls",
      `base ${ran(reducer.base)}, ${mid ? `halfway ${ran(reducer.midpoint)}, ` : ''}end ${ran(reducer.end)}`,
    );
    row('handles left over', JSON.stringify(r.leak.extraResources));
    row('verdict', r.leak.ok ? 'ok' : 'LEAK');
  }
  lines.push('');
  lines.push('  budget (DESIGN.md § Performance)');
  for (const b of r.budget)
    row(
      b.name,
      `${b.value.padEnd(14)} target ${b.target.padEnd(10)} ${b.ok === null ? 'n/a' : b.ok ? 'ok' : 'MISSED'}`,
    );
  if (r.realTimeLoad !== null)
    lines.push(
      r.realTimeLoad
        ? '  load: real time (the callers sent their frames on time, p99 ≤ 20 ms)'
        : '  load: NOT real time: the callers fell behind their media timelines (p99 > 20 ms), so the\n' +
            `  server carried fewer, burstier frames than ${r.options.calls} real callers send; read the lines above as such`,
    );
  lines.push('');
  lines.push(`  report ${r.complete ? 'complete' : 'INCOMPLETE'}, ${r.errorFree ? 'no errors' : 'ERRORS'}`);
  return lines.join('\n');
}
