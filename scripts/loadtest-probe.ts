/**
 * What the load generator can learn about the server process: the IPC probe (loadtest-server.ts),
 * /proc (CPU ticks, RSS; works for any pid, so also with --url --server-pid) and /metrics.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';

export interface ProbeRequest {
  readonly type: 'probe';
  readonly id: number;
  readonly gc?: boolean;
  readonly resetLoopDelay?: boolean;
  /** Memory and CPU only (sampled every second). */
  readonly lite?: boolean;
}

export interface LatenessSnapshot {
  readonly counts: number[];
  readonly frames: number;
  readonly lateFrames: number;
  readonly maxMs: number;
}

export interface ProbeReply {
  /** Tells a reply apart from the other messages on a channel (a cluster worker's, say). */
  readonly type: 'probe-reply';
  readonly id: number;
  readonly pid: number;
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  /** Pages each V8 heap space holds (physical size), by space name: what RSS the heap accounts for. */
  readonly heapSpacesBytes: Record<string, number>;
  /** Resident bytes of glibc's main malloc arena (`[heap]`); null when not read (lite, not Linux). */
  readonly mainArenaBytes: number | null;
  readonly gcRan: boolean;
  readonly loopDelayMs: { p50: number; p99: number; max: number; samples: number };
  readonly lateness: LatenessSnapshot;
  readonly ticker: { ticks: number; missedTicks: number; maxLatenessMs: number };
  readonly resources: Record<string, number>;
  /**
   * Full GCs V8's memory reducer has run since the process started: it runs on its own once the
   * process has been idle a while, and is the only GC that returns the heap's spare pages (a
   * forced `gc()` keeps them). In a cluster: the fewest any worker has had.
   */
  readonly memoryReducerGcs: number;
  /** With WORKERS > 1: the workers' pids (the reply sums or takes the worst of their figures). */
  readonly workerPids?: number[];
}

/**
 * One reply for a cluster from its workers' replies: CPU, memory, frames and resources add up;
 * loop delay and lateness maxima are the worst worker's (a percentile of percentiles, so an upper
 * bound, never an average that would hide one slow worker).
 */
export function mergeProbeReplies(id: number, pid: number, replies: readonly ProbeReply[]): ProbeReply {
  const sum = (f: (r: ProbeReply) => number) => replies.reduce((a, r) => a + f(r), 0);
  const max = (f: (r: ProbeReply) => number) => replies.reduce((a, r) => Math.max(a, f(r)), 0);
  const counts: number[] = [];
  for (const r of replies) r.lateness.counts.forEach((c, i) => (counts[i] = (counts[i] ?? 0) + c));
  const sumByKey = (f: (r: ProbeReply) => Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const r of replies) for (const [k, v] of Object.entries(f(r))) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    type: 'probe-reply',
    id,
    pid,
    cpuUserUs: sum((r) => r.cpuUserUs),
    cpuSystemUs: sum((r) => r.cpuSystemUs),
    rssBytes: sum((r) => r.rssBytes),
    heapUsedBytes: sum((r) => r.heapUsedBytes),
    externalBytes: sum((r) => r.externalBytes),
    arrayBuffersBytes: sum((r) => r.arrayBuffersBytes),
    heapSpacesBytes: sumByKey((r) => r.heapSpacesBytes),
    mainArenaBytes: replies.some((r) => r.mainArenaBytes === null) ? null : sum((r) => r.mainArenaBytes ?? 0),
    gcRan: replies.length > 0 && replies.every((r) => r.gcRan),
    loopDelayMs: {
      p50: max((r) => r.loopDelayMs.p50),
      p99: max((r) => r.loopDelayMs.p99),
      max: max((r) => r.loopDelayMs.max),
      samples: sum((r) => r.loopDelayMs.samples),
    },
    lateness: {
      counts,
      frames: sum((r) => r.lateness.frames),
      lateFrames: sum((r) => r.lateness.lateFrames),
      maxMs: max((r) => r.lateness.maxMs),
    },
    ticker: {
      ticks: sum((r) => r.ticker.ticks),
      missedTicks: sum((r) => r.ticker.missedTicks),
      maxLatenessMs: max((r) => r.ticker.maxLatenessMs),
    },
    resources: sumByKey((r) => r.resources),
    memoryReducerGcs: replies.length ? Math.min(...replies.map((r) => r.memoryReducerGcs)) : 0,
    workerPids: replies.map((r) => r.pid),
  };
}

/**
 * Request/response over a fork's IPC channel (the server's, or in its cluster primary a worker's);
 * each request times out on its own.
 */
export class ProbeClient {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (r: ProbeReply | null) => void>();
  #seq = 0;

  constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (msg: ProbeReply | null) => {
      if (msg?.type !== 'probe-reply') return;
      const resolve = this.#waiting.get(msg.id);
      this.#waiting.delete(msg.id);
      resolve?.(msg);
    });
    child.on('exit', () => {
      for (const resolve of this.#waiting.values()) resolve(null);
      this.#waiting.clear();
    });
  }

  ask(
    opts: { gc?: boolean; resetLoopDelay?: boolean; lite?: boolean } = {},
    timeoutMs = 10_000,
  ): Promise<ProbeReply | null> {
    if (!this.#child.connected) return Promise.resolve(null);
    const id = ++this.#seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        resolve(null);
      }, timeoutMs);
      this.#waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      // Type and id last: a request relayed whole (by a cluster primary) carries its own.
      this.#child.send({ ...opts, type: 'probe', id } satisfies ProbeRequest);
    });
  }
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ: 100 on every Linux ABI Node supports.

/** utime + stime of a process from /proc/<pid>/stat, in seconds; null when it is gone. */
export function procCpuSeconds(pid: number | 'self'): number | null {
  const t = procCpuTimes(pid);
  return t ? t.user + t.system : null;
}

/** utime and stime (kernel: syscalls, and the loopback TCP work done in them) in seconds. */
export function procCpuTimes(pid: number | 'self'): { user: number; system: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / CLOCK_TICKS_PER_S, system: Number(fields[12]) / CLOCK_TICKS_PER_S };
  } catch {
    return null;
  }
}

/** The sum of a figure over processes (a cluster's primary and workers); null if any is gone. */
export function sumOver<T extends number | { [k: string]: number }>(
  pids: readonly number[],
  read: (pid: number) => T | null,
): T | null {
  if (pids.length === 0) return null;
  let total: T | null = null;
  for (const pid of pids) {
    const v = read(pid);
    if (v === null) return null;
    if (total === null) total = v;
    else if (typeof v === 'number') total = ((total as number) + v) as T;
    else {
      const t = { ...(total as Record<string, number>) };
      for (const [k, x] of Object.entries(v)) t[k] = (t[k] ?? 0) + x;
      total = t as T;
    }
  }
  return total;
}

/** Read and write system calls made so far (/proc/<pid>/io: syscr, syscw). */
export function procSyscalls(pid: number | 'self'): { reads: number; writes: number } | null {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(io)?.[1] ?? NaN);
    return { reads: get('syscr'), writes: get('syscw') };
  } catch {
    return null;
  }
}

/** VmRSS of a process from /proc/<pid>/status, in bytes; null when it is gone. */
export function procRssBytes(pid: number | 'self'): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export interface MachineJiffies {
  busy: number;
  total: number;
  /** user, system, softirq (loopback TCP is processed here, often billed to no process), steal. */
  user: number;
  system: number;
  softirq: number;
  steal: number;
}

/** Jiffies of the whole machine (all cores) from /proc/stat. */
export function machineJiffies(): MachineJiffies | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return {
      busy: total - idle,
      total,
      user: (v[0] ?? 0) + (v[1] ?? 0),
      system: v[2] ?? 0,
      softirq: (v[5] ?? 0) + (v[6] ?? 0),
      steal: v[7] ?? 0,
    };
  } catch {
    return null;
  }
}

/** CPU seconds of every process on the machine, by pid, with its name. */
export function allProcesses(): Map<number, { name: string; cpu: number }> {
  const out = new Map<number, { name: string; cpu: number }>();
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(pid), { name, cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The processes that used most CPU between two snapshots (cores over `seconds`), except `skip`. */
export function topProcesses(
  a: Map<number, { name: string; cpu: number }>,
  b: Map<number, { name: string; cpu: number }>,
  seconds: number,
  skip: number[],
  n = 5,
): Array<{ pid: number; name: string; cores: number }> {
  const rows: Array<{ pid: number; name: string; cores: number }> = [];
  for (const [pid, now] of b) {
    if (skip.includes(pid)) continue;
    const used = now.cpu - (a.get(pid)?.cpu ?? 0);
    if (used > 0) rows.push({ pid, name: now.name, cores: Math.round((used / seconds) * 100) / 100 });
  }
  return rows.sort((x, y) => y.cores - x.cores).slice(0, n);
}

export function machineInfo(): { cpus: number; model: string; memTotalMb: number; node: string } {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    memTotalMb: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
  };
}

/** Prometheus text exposition → `name{labels}` → value (counters, gauges, histogram series). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) out.set(line.slice(0, space), value);
  }
  return out;
}

export async function scrapeMetrics(baseUrl: string): Promise<Map<string, number> | null> {
  try {
    const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? parseMetrics(await res.text()) : null;
  } catch {
    return null;
  }
}

/** Percentiles of a Prometheus histogram's observations between two scrapes, as bucket upper edges. */
export interface BucketQuantiles {
  readonly n: number;
  /** In the histogram's unit; null when the observation lies beyond the last finite bucket. */
  readonly p50: number | null;
  readonly p99: number | null;
  /** The upper edge of the highest bucket that gained an observation: every one was at most this. */
  readonly max: number | null;
}

export function histogramQuantiles(
  before: Map<string, number> | null,
  after: Map<string, number> | null,
  name: string,
): BucketQuantiles | null {
  if (!after) return null;
  const prefix = `${name}_bucket{le="`;
  const buckets: Array<{ le: number; count: number }> = [];
  for (const [key, value] of after) {
    if (!key.startsWith(prefix)) continue;
    const le = key.slice(prefix.length, key.indexOf('"', prefix.length));
    buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: value - (before?.get(key) ?? 0) });
  }
  buckets.sort((a, b) => a.le - b.le);
  const n = buckets.at(-1)?.count ?? 0;
  if (n <= 0) return null;
  const at = (q: number) => {
    const edge = buckets.find((b) => b.count >= q * n)?.le ?? Infinity;
    return Number.isFinite(edge) ? edge : null;
  };
  return { n, p50: at(0.5), p99: at(0.99), max: at(1) };
}

/**
 * Pacing from the server's own `bayline_pacing_lateness_seconds` between two scrapes, in ms on its
 * bucket edges (beyond the last edge: Infinity): what a run against `--url` has instead of the probe.
 */
export function pacingFromMetrics(
  before: Map<string, number> | null,
  after: Map<string, number> | null,
): { frames: number; lateFrames: number; p50: number; p99: number; max: number } | null {
  const name = 'bayline_pacing_lateness_seconds';
  const q = histogramQuantiles(before, after, name);
  if (!q) return null;
  const within60 = (m: Map<string, number> | null) => metricSum(m, `${name}_bucket`, 'le="0.06"');
  const ms = (s: number | null) => (s === null ? Infinity : Math.round(s * 1e6) / 1e3);
  return {
    frames: q.n,
    lateFrames: q.n - (within60(after) - within60(before)),
    p50: ms(q.p50),
    p99: ms(q.p99),
    max: ms(q.max),
  };
}

/** Sum of every series of `name` whose labels include all of `labels` (e.g. `kind="tts"`). */
export function metricSum(m: Map<string, number> | null, name: string, ...labels: string[]): number {
  if (!m) return 0;
  let sum = 0;
  for (const [key, value] of m) {
    const brace = key.indexOf('{');
    const base = brace < 0 ? key : key.slice(0, brace);
    if (base !== name) continue;
    if (labels.every((l) => key.includes(l))) sum += value;
  }
  return sum;
}

/** Where RSS went between two replies: a name for V8's heap spaces, and for the rest. */
export const OUTSIDE_V8_HEAP = 'outside V8 heap';
export const MAIN_ARENA = "malloc's main arena";
/** What is outside V8's heap besides the main arena, when that was read. */
export const OTHER_NATIVE = 'other native memory';

/**
 * The change in RSS between two replies, by part, in bytes: each V8 heap space's pages, then the
 * rest of RSS, outside V8's heap. When both replies read glibc's main malloc arena, the rest is
 * split into that arena and other native memory (the other threads' arenas, thread stacks, the
 * binary's pages touched, V8 pages not yet returned). The parts add up to the RSS change.
 */
export function rssGrowthByPart(before: ProbeReply, after: ProbeReply): Record<string, number> {
  const out: Record<string, number> = {};
  const names = new Set([...Object.keys(before.heapSpacesBytes), ...Object.keys(after.heapSpacesBytes)]);
  let parts = 0;
  for (const name of names) {
    const d = (after.heapSpacesBytes[name] ?? 0) - (before.heapSpacesBytes[name] ?? 0);
    out[name] = d;
    parts += d;
  }
  const rest = after.rssBytes - before.rssBytes - parts;
  if (before.mainArenaBytes === null || after.mainArenaBytes === null) out[OUTSIDE_V8_HEAP] = rest;
  else {
    out[MAIN_ARENA] = after.mainArenaBytes - before.mainArenaBytes;
    out[OTHER_NATIVE] = rest - out[MAIN_ARENA];
  }
  return out;
}
