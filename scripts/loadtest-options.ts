/** `npm run loadtest` options: parsed once, validated, every default in one place. */

export interface LoadtestOptions {
  /** Concurrent calls (in --total mode: how many run at once). */
  readonly calls: number;
  /** Time all calls are up together, after the ramp. */
  readonly seconds: number;
  /** Calls are started evenly over this long. */
  readonly rampSeconds: number;
  /** Metrics windows (CPU, RSS, jitter) start this long after the ramp: greetings are over by then. */
  readonly settleSeconds: number;
  /** Sequential (leak-check) mode: this many calls in all, `calls` at a time, `turns` each. */
  readonly total: number | undefined;
  /** Turns per call; unlimited (until the end of the run) when undefined. */
  readonly turns: number | undefined;
  /** Probability that the caller starts the next utterance while the agent is still talking. */
  readonly bargeIn: number;
  /** Emulated provider latencies (ms). */
  readonly sttMs: number;
  readonly llmMs: number;
  readonly llmChunkMs: number;
  readonly ttsMs: number;
  readonly ttsMsPerChar: number;
  /** `text`: a fixed two-sentence reply, no tools (clean latency); `demo`: the demo brain with tools. */
  readonly brain: 'text' | 'demo';
  readonly warmupCalls: number;
  /** Leak check: wait this long after the last call before the final GC + sample (idle pools close). */
  readonly leakWaitSeconds: number;
  readonly leakReducerWaitSeconds: number;
  /** Target an already running server instead of starting one (its providers are its own). */
  readonly url: string | undefined;
  /** Extra node flags for the server process, e.g. `--cpu-prof --cpu-prof-dir=artifacts`. */
  readonly serverArgs: string[];
  /** Extra environment for the server process, e.g. `MALLOC_ARENA_MAX=2` (what glibc reads at start). */
  readonly serverEnv: Record<string, string>;
  /** Server processes (WORKERS): 1 runs the server alone; more run a cluster primary and workers. */
  readonly workers: number;
  /** Scheduling priority for the server process (-20…19; negative needs root): let it win the CPU. */
  readonly serverNice: number | undefined;
  /** CPU list for the server process (taskset -c syntax), and for this process (the load generator). */
  readonly serverCpus: string | undefined;
  /**
   * Real-time round-robin priority (1–97) for the server's threads, as media servers run (chrt -r);
   * its event-loop thread runs one step above them and the callers (`serverLoopRt`) once it is up.
   */
  readonly serverRt: number | undefined;
  /** The same for the provider emulators' processes: real providers are other machines, on time. */
  readonly emulatorsRt: number | undefined;
  /**
   * The same for the callers (this process): Twilio is other machines and sends in real time. The
   * server's event loop runs above them (`serverLoopRt`).
   */
  readonly callersRt: number | undefined;
  readonly loadgenCpus: string | undefined;
  /** Copy the server's stdout/stderr here. */
  readonly serverLog: string | undefined;
  readonly serverPid: number | undefined;
  readonly authToken: string | undefined;
  /** With --url: the server's Twilio account SID (a served load test prints it). */
  readonly accountSid: string | undefined;
  /** With --url: a staff API key, to read each call's server-side turn latencies (/api/calls). */
  readonly apiKey: string | undefined;
  /**
   * Start the server, its emulators, database and keys, print how to run callers against it (from
   * another machine), and wait for Ctrl-C: the callers' CPU then is not this machine's.
   */
  readonly serve: boolean;
  /** With --serve: the interface to listen on, the port (default: a free one) and the URL callers use. */
  readonly host: string;
  readonly port: number | undefined;
  readonly publicUrl: string | undefined;
  readonly out: string | undefined;
  readonly seed: number;
  readonly quiet: boolean;
}

const HELP = `npm run loadtest -- --calls N --seconds S [options]
  --calls N            concurrent simulated Twilio callers (default 50)
  --seconds S          time all N calls are up together, after the ramp (default 30)
  --ramp S             seconds over which calls are started (default N/50, 1..15)
  --settle S           metrics windows start this long after the ramp (default min(5, seconds/3))
  --total M            leak check: M calls in all, N at a time, --turns each (default 1 turn)
  --turns T            turns per call (default: as many as fit)
  --barge-in P         probability of barging in on a reply (default 0.15)
  --stt-ms / --llm-ms / --tts-ms   emulated latencies: transcript after speech stops (100),
                       model first token (300), TTS first byte (150)
  --llm-chunk-ms MS    delay between model tokens (default 0)
  --tts-ms-per-char MS length of synthesised speech per character (default 40)
  --brain text|demo    reply policy of the model emulator (default text: no tools)
  --warmup N           warm-up calls before measuring (default 3)
  --leak-wait S        leak check: idle time before each sample (default 35: pools' idle timeouts)
  --leak-reducer-wait S  leak check: then up to S more until V8's memory reducer has run (default 0:
                       the report says whether it ran; after load it often does not for minutes)
  --server-args "..."  extra node flags for the server process (profiling: --cpu-prof --cpu-prof-dir=DIR)
  --server-env "K=V …" extra environment for the server process (e.g. MALLOC_ARENA_MAX=2)
  --server-log FILE    copy the server's output to FILE
  --workers N          server processes (WORKERS, default 1; not with --url): a cluster primary
                       and N workers; CPU, memory and pacing are summed or the worst worker's
  --server-nice N      run the server at this nice value (e.g. -10: it wins the CPU over the load
                       generator and other work, roughly as on a machine of its own)
  --server-cpus LIST   pin the server to these CPUs (taskset list, e.g. 1)
  --server-rt PRIO     run the server's threads at real-time round-robin priority PRIO (1-97, needs
                       root or CAP_SYS_NICE), as Asterisk and FreeSWITCH run media: nothing else on
                       its CPU can delay a due frame. Its event-loop thread runs one step above
                       them (and above --callers-rt) once it is up, so V8's GC and compiler threads
                       cannot hold a CPU it needs
  --callers-rt PRIO    the same for the callers (this process): Twilio is other machines and sends
                       in real time. Above --server-rt they run while the server's GC threads would
                       hold both CPUs; its event loop still runs first (see docs/performance.md:
                       on two shared cores that costs the server's turn-overhead tail)
  --emulators-rt PRIO  the same for the provider emulators' processes: real providers are other
                       machines, so their latencies should not wait behind this machine's work.
                       Give them a higher PRIO than the server's event loop: its GC threads can take
                       both CPUs, and the wait would count as turn overhead
  --server-first       --server-rt 20 --emulators-rt 30 (unless given): the server as on a machine
                       of its own, its providers on time, the callers get what is left (the report
                       says whether they still sent in real time)
  --loadgen-cpus LIST  pin the load generator (this process) to these CPUs (e.g. 0), so the two
                       do not preempt each other: the server has a core of its own
  --serve              start the server with its emulators, database and keys, as for a run, and
                       print the command that runs callers against it, here or on another machine
                       (so their CPU is not the server's); Ctrl-C or SIGTERM stops it and
                       removes it all
  --host H             with --serve: listen on H (default 127.0.0.1; 0.0.0.0 for other machines)
  --port P             with --serve: listen on P (default: a free port)
  --public-url URL     with --serve: the URL the callers use (default http://<first non-loopback
                       IPv4>:<port> with --host 0.0.0.0); calls are signed over it
  --url URL            target a running server (demo mode, or one started with --serve) instead of
                       starting one. Any server: its calls are real calls to it and its providers
  --server-pid PID     with --url: read that process's CPU and RSS from /proc
  --auth-token T       with --url: Twilio auth token to sign with (default: demo token)
  --account-sid AC     with --url: the server's Twilio account SID (default: demo)
  --api-key K          with --url: a staff API key; the server-side turn overhead is then read
                       from each call's record (GET /api/calls/:callSid)
  --out FILE           write the JSON report there
  --seed N             random seed (default 1)
  --quiet              no progress lines

A first Ctrl-C, SIGTERM or SIGHUP stops any run and removes its server, database and keys (exit
128 + the signal's number); a second one exits at once.`;

function num(args: string[], name: string, min: number, max: number): number | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const raw = args[i + 1];
  const v = Number(raw);
  if (raw === undefined || !Number.isFinite(v) || v < min || v > max)
    throw new Error(`${name} must be a number between ${min} and ${max}`);
  return v;
}

function str(args: string[], name: string, flagLike = false): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || (!flagLike && v.startsWith('--'))) throw new Error(`${name} needs a value`);
  return v;
}

/** `K=V K2=V2`: names as POSIX allows them; a value runs to the next space. */
function envList(v: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (v ?? '').split(/\s+/).filter(Boolean)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(pair);
    if (!m) throw new Error(`--server-env takes NAME=VALUE pairs, not "${pair}"`);
    out[m[1] as string] = m[2] as string;
  }
  return out;
}

export function parseOptions(args: string[]): LoadtestOptions | 'help' {
  if (args.includes('--help') || args.includes('-h')) return 'help';
  const calls = Math.round(num(args, '--calls', 1, 5000) ?? 50);
  const seconds = num(args, '--seconds', 1, 3600) ?? 30;
  const total = num(args, '--total', 1, 100_000);
  const brain = str(args, '--brain') ?? 'text';
  if (brain !== 'text' && brain !== 'demo') throw new Error('--brain must be text or demo');
  const url = str(args, '--url');
  const serverFirst = args.includes('--server-first');
  if (url !== undefined && !ORIGIN.test(url))
    throw new Error('--url must be an http(s) origin, e.g. http://127.0.0.1:8080');
  const publicUrl = str(args, '--public-url');
  if (publicUrl !== undefined && !ORIGIN.test(publicUrl))
    throw new Error('--public-url must be an http(s) origin, e.g. http://10.0.0.5:8080');
  const serve = args.includes('--serve');
  if (serve && url !== undefined) throw new Error('--serve starts a server; --url targets one: not both');
  return {
    calls,
    seconds,
    rampSeconds: num(args, '--ramp', 0, 600) ?? Math.min(15, Math.max(1, calls / 50)),
    settleSeconds: num(args, '--settle', 0, 600) ?? Math.min(5, seconds / 3),
    total: total === undefined ? undefined : Math.round(total),
    turns: num(args, '--turns', 0, 1000) ?? (total === undefined ? undefined : 1),
    bargeIn: num(args, '--barge-in', 0, 1) ?? 0.15,
    sttMs: num(args, '--stt-ms', 0, 10_000) ?? 100,
    llmMs: num(args, '--llm-ms', 0, 10_000) ?? 300,
    llmChunkMs: num(args, '--llm-chunk-ms', 0, 1000) ?? 0,
    ttsMs: num(args, '--tts-ms', 0, 10_000) ?? 150,
    ttsMsPerChar: num(args, '--tts-ms-per-char', 1, 200) ?? 40,
    brain,
    warmupCalls: Math.round(num(args, '--warmup', 0, 100) ?? 3),
    leakWaitSeconds: num(args, '--leak-wait', 0, 600) ?? 35,
    leakReducerWaitSeconds: num(args, '--leak-reducer-wait', 0, 1800) ?? 0,
    url: url?.replace(/\/+$/, ''),
    serverArgs: (str(args, '--server-args', true) ?? '').split(/\s+/).filter(Boolean),
    serverEnv: envList(str(args, '--server-env', true)),
    serverLog: str(args, '--server-log'),
    workers: Math.round(num(args, '--workers', 1, 64) ?? 1),
    serverNice: num(args, '--server-nice', -20, 19),
    serverRt: num(args, '--server-rt', 1, 97) ?? (serverFirst ? SERVER_FIRST.serverRt : undefined),
    callersRt: num(args, '--callers-rt', 1, 97),
    emulatorsRt: num(args, '--emulators-rt', 1, 99) ?? (serverFirst ? SERVER_FIRST.emulatorsRt : undefined),
    serverCpus: cpuList(str(args, '--server-cpus'), '--server-cpus'),
    loadgenCpus: cpuList(str(args, '--loadgen-cpus'), '--loadgen-cpus'),
    serverPid: num(args, '--server-pid', 1, 2 ** 31),
    authToken: str(args, '--auth-token'),
    accountSid: str(args, '--account-sid'),
    apiKey: str(args, '--api-key'),
    serve,
    host: str(args, '--host') ?? '127.0.0.1',
    port: num(args, '--port', 1, 65535),
    publicUrl: publicUrl?.replace(/\/+$/, ''),
    out: str(args, '--out'),
    seed: num(args, '--seed', 0, 2 ** 31) ?? 1,
    quiet: args.includes('--quiet'),
  };
}

export const USAGE = HELP;

/** An http(s) origin: scheme, host and optional port, nothing after. */
const ORIGIN = /^https?:\/\/[^/\s?#]+\/?$/;

/** What --server-first sets: the emulators above the server, the server above the callers. */
export const SERVER_FIRST = { serverRt: 20, emulatorsRt: 30 } as const;

/**
 * The server's event loop: one step above its other threads, and above the callers when they are
 * real-time. Not for cluster workers (loadtest-target.ts `clusterWorkers`): theirs stay at
 * `serverRt`.
 */
export function serverLoopRt(opts: Pick<LoadtestOptions, 'serverRt' | 'callersRt'>): number | undefined {
  if (opts.serverRt === undefined) return undefined;
  return Math.max(opts.serverRt, opts.callersRt ?? 0) + 1;
}

/**
 * Settings that make the report measure the machine rather than the server. With the server at
 * real-time priority and the emulators not above it, V8's GC threads of the server (they share its
 * priority) can hold both CPUs for a marking cycle: on 2026-11-24 the emulators' timers fired 23 ms
 * late at p99, and turn overhead p99 was 44–53 ms instead of 14.5–18 ms.
 */
export function optionWarnings(opts: LoadtestOptions): string[] {
  if (opts.url !== undefined) return [];
  const warnings: string[] = [];
  const loop = serverLoopRt(opts);
  if (opts.callersRt !== undefined && loop === undefined)
    warnings.push(
      `the callers run at real-time priority ${opts.callersRt} above a server at normal priority: ` +
        'they preempt it whenever they have work (add --server-rt, or use --server-first)',
    );
  // Above the server's event-loop thread, which runs one step above its other threads.
  if (
    opts.serverRt !== undefined &&
    loop !== undefined &&
    !(opts.emulatorsRt !== undefined && opts.emulatorsRt > loop)
  )
    warnings.push(
      `the emulators do not run above the server's real-time priority (${opts.serverRt}, its event loop ` +
        `${loop}): its threads can delay their replies, and the delay counts as turn overhead (use ` +
        `--server-first, or --emulators-rt above ${loop})`,
    );
  if (opts.workers > 1 && opts.serverRt !== undefined && (opts.callersRt ?? 0) >= opts.serverRt)
    warnings.push(
      `with --workers the workers' event loops stay at --server-rt ${opts.serverRt} (one step up, ` +
        `N workers on N CPUs livelock), so the callers at ${opts.callersRt} preempt the server ` +
        `(use --server-rt above --callers-rt, e.g. --server-rt ${(opts.callersRt ?? 0) + 1})`,
    );
  if (opts.serverRt !== undefined && opts.serverCpus !== undefined && cpuCount(opts.serverCpus) === 1)
    warnings.push(
      "the server's threads share one CPU at real-time priority, its event loop above the others: " +
        "V8's incremental sweeping task then reschedules itself while the concurrent sweeper waits " +
        'for that CPU (2026-11-24, 100 calls: 2,655 reads and 2,629 writes of an eventfd per ' +
        'call-second, 0.95 cores instead of 0.44). Give it two CPUs, or leave out --server-rt',
    );
  return warnings;
}

/** CPUs in a taskset list (`1`, `0,2-3`). */
function cpuCount(list: string): number {
  return list.split(',').reduce((n, part) => {
    const [from, to = from] = part.split('-').map(Number) as [number, number?];
    return n + Math.max(1, to - from + 1);
  }, 0);
}

function cpuList(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value))
    throw new Error(`${flag} takes a CPU list such as 1 or 0,2-3`);
  return value;
}

/** Deterministic PRNG (mulberry32): the same seed gives the same callers, fixtures and barge-ins. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
