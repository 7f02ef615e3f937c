/**
 * The system under load. Locally: a throwaway PostgreSQL database (migrated, seeded) and Redis key
 * prefix, the provider emulators with set latencies in a process of their own
 * (scripts/loadtest-emulators.ts), and the server forked as its own process
 * (scripts/loadtest-server.ts → server/main.ts in production mode pointed at the emulators), so
 * its CPU and memory are its own. With --url: a server someone else started.
 */
import { execFile, execFileSync, fork, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { Redis } from 'ioredis';
import { DEMO_TWILIO } from '../server/config';
import { PiiCipher, formatKeyList } from '../server/platform/crypto';
import { createDb, type Db } from '../server/platform/postgres';
import { migrate } from '../server/platform/migrate';
import { SERVER_NODE_FLAGS } from '../server/platform/node-flags';
import { seedDemo } from '../server/platform/seed';
import type { TurnLatency } from '../server/conversation/ports';
import type { EmulatorMessage, EmulatorSettings } from './loadtest-emulators';
import { serverLoopRt, type LoadtestOptions } from './loadtest-options';
import { ProbeClient } from './loadtest-probe';
import { apiCallLatencies } from './loadtest-remote';
import { Accounts } from '../server/dashboard/accounts';

export interface ServerLog {
  errors: number;
  warnings: number;
  /** The first few error/warning messages (constant strings by the product's logging rules). */
  samples: string[];
}

/** Timer lateness (ms) per emulator process, by role. */
export type EmulatorLateness = Record<EmulatorSettings['role'], number[]>;

export interface Target {
  /** Where this process reaches the server. */
  readonly baseUrl: string;
  /** The URL the server knows itself by (PUBLIC_BASE_URL): webhooks are signed over it. */
  readonly publicUrl: string;
  readonly authToken: string;
  readonly accountSid: string;
  readonly serverPid: number | undefined;
  /** The server's processes: its pid and, with WORKERS > 1, the workers' (CPU and RSS add up). */
  readonly serverPids: readonly number[];
  /** The emulators' processes (locally), whose CPU counts as the load generator's. */
  readonly emulatorPids: number[];
  /** How late each emulator process's timers fired since the last ask (locally); null with --url. */
  emulatorTimers(): Promise<EmulatorLateness | null>;
  readonly probe: ProbeClient | undefined;
  /** Emulated latencies of the server's providers (with --url: as the options assume them). */
  readonly emulated: { sttMs: number; llmMs: number; ttsMs: number };
  readonly log: ServerLog;
  /** Set when the server exited by itself. */
  exited: string | undefined;
  /** The server's own per-turn figures from the call records, once the calls are final. */
  callLatencies(callSids: string[], timeoutMs: number): Promise<Map<string, TurnLatency[]> | null>;
  /** Locally: a staff API key in the test database, for callers run elsewhere (--serve). */
  createApiKey?(): Promise<string>;
  close(): Promise<void>;
}

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const REPO = path.resolve(__dirname, '..');

/**
 * The server runs as `npm start` runs it: compiled by tsc, on plain node. Under the tsx loader its
 * idle RSS was ~27 MB and its live heap ~7 MB larger, and a loader thread shared its CPU.
 */
async function buildServer(progress: (s: string) => void, signal?: AbortSignal): Promise<string> {
  const dist = path.join(REPO, 'dist');
  await mkdir(dist, { recursive: true });
  // Two load tests at once (the CI smoke test runs two) must not write dist/ together: a server
  // started from a half-written file fails to load. Builds take turns, and an incremental build
  // rewrites only what changed, so a server already running from dist/ keeps its files.
  // Stopped mid-build, tsc is killed and the lock is let go once it has exited: no other load
  // test builds while it may still be writing.
  await withLock(
    path.join(dist, '.loadtest-build.lock'),
    progress,
    async () => {
      progress('compiling the server (tsc -p tsconfig.build.json --incremental)');
      const tsc = require.resolve('typescript/bin/tsc');
      const buildInfo = path.join(dist, '.loadtest.tsbuildinfo');
      await promisify(execFile)(
        process.execPath,
        [tsc, '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', buildInfo],
        { cwd: REPO, signal },
      ).catch((err: { stdout?: string; message: string }) => {
        signal?.throwIfAborted();
        throw new Error(`the server does not compile: ${err.stdout?.trim() || err.message}`);
      });
    },
    signal,
  );
  return path.join(dist, 'scripts', 'loadtest-server.js');
}

/**
 * Runs `fn` holding a lock directory. A holder that was killed (a load test stopped mid-build)
 * leaves the directory behind: its `owner` file names a process that no longer exists, and the
 * next load test takes the lock over. A lock with no owner file older than 10 minutes is taken
 * over too. An abort of `signal` ends the wait.
 */
export async function withLock(
  lock: string,
  progress: (s: string) => void,
  fn: () => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const owner = path.join(lock, 'owner');
  const deadline = Date.now() + 15 * 60_000;
  for (let waited = false; ; waited = true) {
    signal?.throwIfAborted();
    try {
      await mkdir(lock);
      await writeFile(owner, String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || Date.now() > deadline) throw err;
      if (await abandoned(lock, owner)) {
        progress('taking over the build lock of a load test that no longer runs');
        await rm(lock, { recursive: true, force: true });
      } else {
        if (!waited) progress('waiting for another load test to finish compiling');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  try {
    await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function abandoned(lock: string, owner: string): Promise<boolean> {
  const pid = Number(await readFile(owner, 'utf8').catch(() => ''));
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      // EPERM: the process exists and belongs to someone else.
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
  // Not written yet (the holder is between mkdir and writeFile), or by an older version.
  const age = await stat(lock).then(
    (s) => Date.now() - s.mtimeMs,
    () => 0,
  );
  return age > 10 * 60_000;
}

export interface EmulatorProcess {
  readonly pid: number | undefined;
  readonly urls: Extract<EmulatorMessage, { type: 'ready' }>['urls'];
  timers(): Promise<number[] | null>;
  close(): Promise<void>;
}

/** Forks scripts/loadtest-emulators.ts (pinned like this process) and waits for its URLs. */
function startEmulatorProcess(
  opts: LoadtestOptions,
  role: EmulatorSettings['role'],
): Promise<EmulatorProcess> {
  const settings: EmulatorSettings = {
    role,
    brain: opts.brain,
    sttMs: opts.sttMs,
    llmMs: opts.llmMs,
    llmChunkMs: opts.llmChunkMs,
    ttsMs: opts.ttsMs,
    ttsMsPerChar: opts.ttsMsPerChar,
  };
  return forkEmulators(settings, (pid) => {
    if (opts.loadgenCpus !== undefined) pinCpus(pid, opts.loadgenCpus);
    if (opts.emulatorsRt !== undefined) realtime(pid, opts.emulatorsRt);
  });
}

/** Forks the emulators' process with `settings`; `tune` sets its CPUs or priority before it starts. */
export async function forkEmulators(
  settings: EmulatorSettings,
  tune: (pid: number) => void = () => undefined,
): Promise<EmulatorProcess> {
  const child = fork(path.join(__dirname, 'loadtest-emulators.ts'), [JSON.stringify(settings)], {
    cwd: REPO,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (child.pid !== undefined) tune(child.pid);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const urls = await new Promise<EmulatorProcess['urls']>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the emulators did not start within 60 s')), 60_000);
    const onMessage = (msg: EmulatorMessage): void => {
      if (msg.type === 'timers') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      if (msg.type === 'ready') resolve(msg.urls);
      else reject(new Error(`the emulators failed to start: ${msg.message}`));
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`the emulators exited (code ${code ?? '-'})`)));
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    pid: child.pid,
    urls,
    timers: () =>
      new Promise((resolve) => {
        if (!child.connected) return resolve(null);
        const timer = setTimeout(() => resolve(null), 5000);
        const onMessage = (msg: EmulatorMessage): void => {
          if (msg.type !== 'timers') return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(msg.lateMs);
        };
        child.on('message', onMessage);
        child.send({ type: 'timers' });
      }),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function settledValue<T>(r: PromiseSettledResult<T>): T {
  if (r.status === 'rejected') throw r.reason;
  return r.value;
}

/** Pins every thread of a process (V8's GC helpers and libuv's pool too) to a CPU list. */
export function pinCpus(pid: number, cpus: string): void {
  execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cpus, String(pid)], { stdio: 'ignore' });
}

/** SCHED_RR at `priority` for every thread of a process (threads started later inherit it). */
export function realtime(pid: number, priority: number): void {
  execFileSync('chrt', ['--all-tasks', '--rr', '--pid', String(priority), String(pid)], { stdio: 'ignore' });
}

/**
 * The event loop's thread (its tid is the pid) at `priority`, above the process's other threads.
 * At the same priority, a V8 marking or compiler thread that holds a CPU keeps it for the whole
 * 100 ms round-robin slice while the event loop waits to run (2026-11-24, 200 calls, four interleaved
 * pairs: turn overhead p99 9.1–46.5 → 9.1–11.3 ms, jitter p99 1.7–7.9 → 1.7–2.6 ms). Threads
 * started before this keep `priority`.
 */
export function mainThreadAt(pid: number, priority: number): void {
  execFileSync('chrt', ['--rr', '--pid', String(priority), String(pid)], { stdio: 'ignore' });
}

/** With --host 0.0.0.0 the callers come from elsewhere: the first non-loopback IPv4 address. */
export function defaultPublicUrl(host: string, port: number): string {
  if (host !== '0.0.0.0') return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const ipv4 = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
  return `http://${ipv4?.address ?? '127.0.0.1'}:${port}`;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Forks the compiled server on a free port and waits for /health/ready. The port is free when
 * picked but another process can bind it before the server does (the tests run many listeners):
 * a start that fails with EADDRINUSE is retried on a new port, twice at most.
 */
export async function startServer(
  serverJs: string,
  env: (port: number) => NodeJS.ProcessEnv,
  opts: Pick<
    LoadtestOptions,
    'serverArgs' | 'serverNice' | 'serverCpus' | 'serverRt' | 'callersRt' | 'serverLog'
  > & { host?: string },
  progress: (s: string) => void,
  pickPort: () => Promise<number> = freePort,
): Promise<{ child: ChildProcess; baseUrl: string; log: ServerLog }> {
  // This process reaches the server on loopback unless it listens on one interface only.
  const local = opts.host === undefined || opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host;
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort();
    const baseUrl = `http://${local}:${port}`;
    progress(`starting server on ${baseUrl}`);
    const child = fork(serverJs, [], {
      cwd: REPO,
      env: env(port),
      // npm start's flags, then --server-args: V8 takes a flag's last value.
      execArgv: ['--expose-gc', ...SERVER_NODE_FLAGS, ...opts.serverArgs],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    if (opts.serverNice !== undefined && child.pid !== undefined) os.setPriority(child.pid, opts.serverNice);
    if (opts.serverCpus !== undefined && child.pid !== undefined) pinCpus(child.pid, opts.serverCpus);
    if (opts.serverRt !== undefined && child.pid !== undefined) realtime(child.pid, opts.serverRt);
    const log: ServerLog = { errors: 0, warnings: 0, samples: [] };
    watchLog(child.stdout, log);
    watchLog(child.stderr, log);
    if (opts.serverLog) {
      const file = createWriteStream(opts.serverLog, { flags: attempt === 1 ? 'w' : 'a' });
      child.stdout?.pipe(file);
      child.stderr?.pipe(file);
    }
    try {
      await waitReady(baseUrl, child, log, 60_000);
      const loopRt = serverLoopRt(opts);
      if (loopRt !== undefined && child.pid !== undefined) mainThreadAt(child.pid, loopRt);
      return { child, baseUrl, log };
    } catch (err) {
      await stopChild(child);
      if (attempt < 3 && log.samples.some((m) => m.includes('EADDRINUSE'))) continue;
      throw err;
    }
  }
}

/**
 * With WORKERS > 1: waits until every worker serves (the primary's probe asks only those) and
 * returns their pids. They inherit the primary's real-time policy at fork, and their event loops
 * stay at it: one step above, as a single server's is, two workers on two CPUs spun at 100 % each
 * (2026-11-24, 300 calls): each event loop re-ran V8's incremental sweeping task while its
 * concurrent sweeper, a step below, waited for a CPU that the two loops held.
 */
async function clusterWorkers(
  probe: ProbeClient,
  opts: Pick<LoadtestOptions, 'workers'>,
  child: ChildProcess,
): Promise<number[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const pids = (await probe.ask({ lite: true }))?.workerPids ?? [];
    if (pids.length >= opts.workers) return pids;
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`${pids.length} of ${opts.workers} workers serving`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitReady(
  baseUrl: string,
  child: ChildProcess,
  log: ServerLog,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      // Its output is read in lines as it comes: give the last of it a moment to arrive.
      await new Promise((r) => setTimeout(r, 100));
      const said = log.samples.length ? `: ${log.samples.join(' | ')}` : '';
      throw new Error(`server exited with ${child.exitCode} during start${said}`);
    }
    try {
      const res = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not ready after ${timeoutMs} ms (${last})`);
}

function watchLog(stream: NodeJS.ReadableStream | null, log: ServerLog): void {
  if (!stream) return;
  createInterface({ input: stream }).on('line', (line) => {
    let level = 0;
    let msg = line.slice(0, 200);
    try {
      const o = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      level = o.level ?? 0;
      msg = `${o.msg ?? ''}${o.err?.message ? `: ${o.err.message}` : ''}`;
    } catch {
      // Not pino: V8's own tracing (--trace-gc…) is not an error; anything else (a crash trace) is.
      if (/^\[\d+:0x[0-9a-f]+\]/.test(line) || line.trim() === '') return;
      level = 50;
    }
    if (level >= 50) log.errors++;
    else if (level >= 40) log.warnings++;
    else return;
    if (log.samples.length < 10 && !log.samples.includes(msg)) log.samples.push(msg);
  });
}

async function callLatenciesFrom(
  db: Db,
  callSids: string[],
  timeoutMs: number,
): Promise<Map<string, TurnLatency[]>> {
  const out = new Map<string, TurnLatency[]>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.query<{ call_sid: string; status: string; latency: TurnLatency[] | null }>(
      'SELECT call_sid, status, latency FROM calls WHERE call_sid = ANY($1::text[])',
      [callSids],
    );
    for (const r of rows) if (r.status === 'completed') out.set(r.call_sid, r.latency ?? []);
    if (out.size >= callSids.length || Date.now() > deadline) return out;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Creates the test database and Redis prefix, starts the emulators, builds and starts the server.
 * An abort of `signal` (the load test stopped by a signal) stops the start at its next step, or
 * kills the build, and throws once what was started is gone. `close()` may be called more than once.
 */
export async function startLocalTarget(
  opts: LoadtestOptions,
  progress: (s: string) => void,
  signal?: AbortSignal,
): Promise<Target & Required<Pick<Target, 'createApiKey'>>> {
  const cleanups: Array<() => Promise<void>> = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const fn of cleanups.reverse()) await fn().catch((err: unknown) => console.error(err));
      cleanups.length = 0;
    })());
  try {
    const piiKeys = new Map([[1, randomBytes(32)]]);
    const piiIndexKey = randomBytes(32);
    const cipher = new PiiCipher(piiKeys, piiIndexKey);

    const dbName = `bayline_loadtest_${process.pid}_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    cleanups.push(async () => {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await c.end();
    });
    const dbUrl = new URL(ADMIN_URL);
    dbUrl.pathname = `/${dbName}`;
    const db = createDb({ url: dbUrl.href, max: 2 });
    cleanups.push(() => db.close());
    signal?.throwIfAborted();
    await migrate(db.pool);
    await seedDemo(db, cipher);

    const prefix = `loadtest:${randomBytes(4).toString('hex')}:`;
    cleanups.push(async () => {
      const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
      await redis.quit();
    });

    const forked = await Promise.allSettled([
      startEmulatorProcess(opts, 'transcription'),
      startEmulatorProcess(opts, 'http'),
    ]);
    for (const f of forked) if (f.status === 'fulfilled') cleanups.push(() => f.value.close());
    // Both are in the cleanups by now: one failing to start leaves no orphan.
    const transcription = settledValue(forked[0]);
    const http = settledValue(forked[1]);
    signal?.throwIfAborted();
    const emulators = {
      urls: { ...http.urls, openaiRealtimeUrl: transcription.urls.openaiRealtimeUrl },
      pids: [transcription.pid, http.pid].filter((p): p is number => p !== undefined),
      timers: async (): Promise<EmulatorLateness | null> => {
        const [a, b] = await Promise.all([transcription.timers(), http.timers()]);
        return a && b ? { transcription: a, http: b } : null;
      },
    };

    const accountSid = `AC${randomBytes(16).toString('hex')}`;
    const authToken = randomBytes(16).toString('hex');
    const publicUrlOf = (port: number) => opts.publicUrl ?? defaultPublicUrl(opts.host, port);
    const env = (port: number): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: opts.host,
      PUBLIC_BASE_URL: publicUrlOf(port),
      DATABASE_URL: dbUrl.href,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      OPENAI_API_KEY: 'sk-loadtest',
      OPENAI_BASE_URL: emulators.urls.openaiBaseUrl,
      OPENAI_REALTIME_URL: emulators.urls.openaiRealtimeUrl,
      ELEVENLABS_API_KEY: 'loadtest',
      ELEVENLABS_BASE_URL: emulators.urls.elevenlabsBaseUrl,
      TWILIO_API_BASE_URL: emulators.urls.twilioApiBaseUrl,
      TWILIO_ACCOUNT_SID: accountSid,
      TWILIO_AUTH_TOKEN: authToken,
      TRANSFER_PHONE_NUMBER: '+13125550100',
      PII_KEYS: formatKeyList(piiKeys),
      PII_INDEX_KEY: piiIndexKey.toString('base64'),
      AUTH_SIGNING_KEYS: formatKeyList(new Map([[1, randomBytes(32)]])),
      LOG_LEVEL: 'warn',
      MAX_CONCURRENT_CALLS: String((opts.calls * 2 + 50) * opts.workers),
      WORKERS: String(opts.workers),
      ...opts.serverEnv,
    });
    progress(`database ${dbName}, Redis key prefix ${prefix}`);
    const serverJs = await buildServer(progress, signal);
    const fixedPort = opts.port;
    const { child, baseUrl, log } = await startServer(
      serverJs,
      env,
      opts,
      progress,
      fixedPort === undefined ? undefined : () => Promise.resolve(fixedPort),
    );
    let stopping = false;
    cleanups.push(async () => {
      stopping = true;
      await stopChild(child);
    });
    signal?.throwIfAborted();
    const probe = new ProbeClient(child);
    // After the server is in the cleanups: workers that never serve must not leave it running.
    const workerPids = opts.workers > 1 ? await clusterWorkers(probe, opts, child) : [];
    signal?.throwIfAborted();
    const target: Target & Required<Pick<Target, 'createApiKey'>> = {
      baseUrl,
      publicUrl: publicUrlOf(Number(new URL(baseUrl).port)),
      authToken,
      accountSid,
      serverPid: child.pid,
      serverPids: [child.pid, ...workerPids].filter((p): p is number => p !== undefined),
      emulatorPids: emulators.pids,
      emulatorTimers: () => emulators.timers(),
      probe,
      emulated: { sttMs: opts.sttMs, llmMs: opts.llmMs, ttsMs: opts.ttsMs },
      log,
      exited: undefined,
      callLatencies: (sids, timeoutMs) => callLatenciesFrom(db, sids, timeoutMs),
      createApiKey: async () => (await new Accounts(db).createApiKey('loadtest', 'staff')).key,
      close,
    };
    child.on('exit', (code, signal) => {
      if (!stopping) target.exited = `server exited (code ${code ?? '-'}, signal ${signal ?? '-'})`;
    });
    return target;
  } catch (err) {
    await close();
    throw err;
  }
}

export function urlTarget(opts: LoadtestOptions & { url: string }): Target {
  return {
    baseUrl: opts.url,
    publicUrl: opts.url,
    authToken: opts.authToken ?? DEMO_TWILIO.authToken,
    accountSid: opts.accountSid ?? DEMO_TWILIO.accountSid,
    serverPid: opts.serverPid,
    serverPids: opts.serverPid === undefined ? [] : [opts.serverPid],
    emulatorPids: [],
    emulatorTimers: () => Promise.resolve(null),
    probe: undefined,
    emulated: { sttMs: opts.sttMs, llmMs: opts.llmMs, ttsMs: opts.ttsMs },
    log: { errors: 0, warnings: 0, samples: [] },
    exited: undefined,
    callLatencies: (sids, timeoutMs) =>
      opts.apiKey === undefined
        ? Promise.resolve(null)
        : apiCallLatencies(opts.url, opts.apiKey, sids, timeoutMs),
    close: () => Promise.resolve(),
  };
}
