/**
 * The server process of `npm run loadtest`: the real composition root (server/main.ts, unchanged)
 * plus a probe on the IPC channel the load generator forked it with. The probe answers with what
 * only the process itself can see: every pacer's per-frame lateness, the shared ticker's stats,
 * event-loop delay, heap, CPU and the handles keeping the process alive. It adds no work per frame.
 */
import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { PerformanceObserver, constants as perf, monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';
import { processLateness } from '../server/telephony/pacer';
import { sharedTicker } from '../server/telephony/ticker';
import { ProbeClient, mergeProbeReplies, type ProbeReply, type ProbeRequest } from './loadtest-probe';

const LOOP_RESOLUTION_MS = 10;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
loopDelay.enable();
const lag = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);

const EMPTY_LATENESS = { counts: [], frames: 0, lateFrames: 0, maxMs: 0 };

// V8's memory reducer starts its full GCs with this callback flag; a forced gc() has FORCED, one
// for allocation SCHEDULE_IDLE or none. One observer callback per GC: nothing per frame.
let memoryReducerGcs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const { kind, flags } = (e as unknown as { detail: { kind: number; flags: number } }).detail;
    if (kind === perf.NODE_PERFORMANCE_GC_MAJOR && flags & perf.NODE_PERFORMANCE_GC_FLAGS_ALL_EXTERNAL_MEMORY)
      memoryReducerGcs++;
  }
}).observe({ entryTypes: ['gc'] });

/**
 * Resident bytes of glibc's main malloc arena: the `[heap]` (brk) mapping, where the main
 * thread's malloc() lands (Buffers' memory, parsers, V8's own tables). Other native memory is
 * anonymous mappings that cannot be told apart from V8's pages. Null off Linux.
 */
function mainArenaBytes(): number | null {
  let smaps: string;
  try {
    smaps = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return null;
  }
  const at = smaps.search(/ \[heap\]\n/);
  if (at < 0) return 0;
  const rss = /\nRss:\s+(\d+) kB/.exec(smaps.slice(at));
  return rss ? Number(rss[1]) * 1024 : null;
}

function heapSpaces(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of v8.getHeapSpaceStatistics()) out[s.space_name] = s.physical_space_size;
  return out;
}

function countResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

function answer(req: ProbeRequest): ProbeReply {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (req.gc && gc) {
    // Twice: the first pass runs finalizers that free more on the second.
    gc();
    gc();
  }
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const reply: ProbeReply = {
    type: 'probe-reply',
    id: req.id,
    pid: process.pid,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    externalBytes: mem.external,
    arrayBuffersBytes: mem.arrayBuffers,
    heapSpacesBytes: req.lite ? {} : heapSpaces(),
    mainArenaBytes: req.lite ? null : mainArenaBytes(),
    gcRan: Boolean(req.gc && gc),
    // The histogram holds whole timer intervals: lag is what exceeds the 10 ms resolution.
    loopDelayMs: {
      p50: lag(loopDelay.percentile(50)),
      p99: lag(loopDelay.percentile(99)),
      max: lag(loopDelay.max),
      samples: loopDelay.count,
    },
    lateness: req.lite ? EMPTY_LATENESS : processLateness.snapshot(),
    ticker: sharedTicker().stats,
    resources: req.lite ? {} : countResources(),
    memoryReducerGcs,
  };
  if (req.resetLoopDelay) loopDelay.reset();
  return reply;
}

const isProbe = (msg: unknown): msg is ProbeRequest =>
  typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'probe';

if (cluster.isPrimary && process.env.WORKERS !== undefined && process.env.WORKERS !== '1') {
  // The primary runs no calls: it asks every worker that serves (the load test waits for all of
  // them before the first call) and merges their replies.
  const workers = new Map<Worker, ProbeClient>();
  cluster.on('listening', (worker) => workers.set(worker, new ProbeClient(worker.process)));
  cluster.on('exit', (worker) => workers.delete(worker));
  process.on('message', (msg: unknown) => {
    if (!isProbe(msg)) return;
    void Promise.all([...workers.values()].map((c) => c.ask(msg, 8_000))).then((replies) => {
      const got = replies.filter((r): r is ProbeReply => r !== null);
      process.send?.(mergeProbeReplies(msg.id, process.pid, got));
    });
  });
} else {
  process.on('message', (msg: unknown) => {
    if (isProbe(msg)) process.send?.(answer(msg));
  });
}
// Orphaned (the load generator died): shut down the way an orchestrator would ask.
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
// The channel must not keep the server alive on its own, nor show up as a leaked handle.
process.channel?.unref();

// Importing main starts the server exactly as `npm start` does (config from the environment).
import '../server/main';
