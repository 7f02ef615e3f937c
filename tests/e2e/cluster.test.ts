/**
 * WORKERS=2, as `npm start` runs it: the real entry point forks a cluster primary and two server
 * processes that share the port (real Redis and PostgreSQL, emulated providers). Node's primary
 * hands connections to the workers in turn, so a ring and its media stream usually land on
 * different workers: the stream's worker must claim what the ring prepared.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { formatKeyList, PiiCipher } from '../../server/platform/crypto';
import { seedDemo } from '../../server/platform/seed';
import { signRequest } from '../../server/telephony/signature';
import { createDemoBrain, startEmulators, type RunningEmulators } from '../../server/providers/emulators';
import { createTestDb, DATABASE_URL, type TestDb } from '../support/pg';
import { createTestRedis, REDIS_URL, type TestRedis } from '../support/redis';
import { TwilioCaller } from '../support/twilio-caller';
import { until } from './flow';
import { freePort } from './harness';

const REPO = path.resolve(__dirname, '../..');
const DANA = '+13125550142';
const GREETING = 'Hi Dana, thanks for calling Bayline Motors service. How can I help you today?';
const MS_PER_CHAR = 5;
/** What the ElevenLabs emulator synthesises for it, in ms of audio. */
const GREETING_MS = GREETING.length * MS_PER_CHAR;

jest.setTimeout(90_000);

let tdb: TestDb;
let tr: TestRedis;
let emulators: RunningEmulators;
let server: ChildProcess;
let baseUrl: string;
/** The server's environment, but for WORKERS, PORT and PUBLIC_BASE_URL. */
let env: NodeJS.ProcessEnv;
const lines: string[] = [];
const authToken = randomBytes(16).toString('hex');
const accountSid = `AC${randomBytes(16).toString('hex')}`;

const logged = (msg: string) => lines.filter((l) => l.includes(`"msg":"${msg}"`)).length;

/** The primary's workers (tsx also starts an esbuild child: not a worker). */
function workerPids(ppid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return parent === ppid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('server/main.ts');
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const escaped = name.replace(/[{}"=]/g, (c) => `\\${c}`);
  return Number(new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
}

/** The voice webhook, signed as Twilio signs it, on a connection of its own (no keep-alive). */
function ringOnNewConnection(origin: string, callSid: string): Promise<{ status: number; body: string }> {
  const params = { CallSid: callSid, AccountSid: accountSid, From: '+13125550199', To: '+13125550100' };
  const body = new URLSearchParams(params).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${origin}/twilio/voice`,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': signRequest(authToken, `${origin}/twilio/voice`, params),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function call(): Promise<TwilioCaller> {
  const caller = await TwilioCaller.dial({ baseUrl, authToken, accountSid, from: DANA });
  await caller.waitFor((c) => c.marksEchoed.length > 0, 15_000);
  await caller.stop();
  await caller.close();
  return caller;
}

beforeAll(async () => {
  tdb = await createTestDb();
  tr = await createTestRedis();
  const pii = new Map([[1, randomBytes(32)]]);
  const index = randomBytes(32);
  await seedDemo(tdb.db, new PiiCipher(pii, index));
  emulators = await startEmulators({
    elevenlabs: { msPerChar: MS_PER_CHAR },
    openai: { chat: { handler: createDemoBrain({ timeZone: 'America/Chicago' }) } },
  });
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const db = new URL(DATABASE_URL);
  db.searchParams.set('options', `-c search_path=${tdb.searchPath}`);
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOST: '127.0.0.1',
    DATABASE_URL: db.href,
    REDIS_URL,
    REDIS_KEY_PREFIX: tr.prefix,
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: emulators.urls.openaiBaseUrl,
    OPENAI_REALTIME_URL: emulators.urls.openaiRealtimeUrl,
    ELEVENLABS_API_KEY: 'test',
    ELEVENLABS_BASE_URL: emulators.urls.elevenlabsBaseUrl,
    TWILIO_API_BASE_URL: emulators.urls.twilioApiBaseUrl,
    TWILIO_ACCOUNT_SID: accountSid,
    TWILIO_AUTH_TOKEN: authToken,
    TRANSFER_PHONE_NUMBER: '+13125550100',
    PII_KEYS: formatKeyList(pii),
    PII_INDEX_KEY: index.toString('base64'),
    AUTH_SIGNING_KEYS: formatKeyList(new Map([[1, randomBytes(32)]])),
    LOG_LEVEL: 'info',
    IDLE_TRIM_SECONDS: '1',
  };
  server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, WORKERS: '2', PORT: String(port), PUBLIC_BASE_URL: baseUrl },
  });
  for (const s of [server.stdout, server.stderr])
    if (s) createInterface({ input: s }).on('line', (l) => lines.push(l));
  await until(() => logged('Bayline is listening') === 2 || server.exitCode !== null, 60_000);
  if (server.exitCode !== null) throw new Error(`server exited: ${lines.slice(-5).join('\n')}`);
});

afterAll(async () => {
  if (server.exitCode === null && server.signalCode === null) {
    server.kill('SIGKILL');
    for (const pid of workerPids(server.pid as number)) process.kill(pid, 'SIGKILL');
  }
  await emulators?.close();
  await tr?.cleanup();
  await tdb?.drop();
});

describe('WORKERS=2', () => {
  it("plays the ring's greeting on whichever worker takes the stream; metrics cover both", async () => {
    const claimedBefore = await metric('bayline_call_handoffs_total{result="claimed"}');
    const greetingsBefore = await metric('bayline_greeting_seconds_count');
    const sttSocketsBefore = emulators.openai.realtime.connectionCount;
    const callers: TwilioCaller[] = [];
    for (let i = 0; i < 4; i++) callers.push(await call());

    for (const c of callers) {
      expect(c.firstAudioAt).toBeDefined();
      // The whole personal greeting, not the apology (longer) nor a part of it.
      expect(c.heardAudioMs).toBe(GREETING_MS);
    }
    // Rings and streams alternate between the workers: at least one stream claimed its ring.
    expect((await metric('bayline_call_handoffs_total{result="claimed"}')) - claimedBefore).toBeGreaterThan(
      0,
    );
    // Each worker times its own greetings; one scrape, whichever worker answers, has all four.
    expect((await metric('bayline_greeting_seconds_count')) - greetingsBefore).toBe(4);
    // The greeting was synthesised once per worker at most: a claimed call's audio was relayed, not
    // synthesised again by the worker that took the stream.
    const synthesised = emulators.elevenlabs.requests.all.filter((r) => r.body.text === GREETING);
    expect(synthesised.length).toBeGreaterThanOrEqual(1);
    expect(synthesised.length).toBeLessThanOrEqual(2);
    // One transcription socket per call, opened by the worker that took its stream: none opened at
    // ring time only to be closed unused when another worker claimed the call.
    expect(emulators.openai.realtime.connectionCount - sttSocketsBefore).toBe(4);
    expect(await metric('bayline_active_calls')).toBe(0);
  });

  it('a worker gives freed memory back to the system once its last call has ended', async () => {
    const trims = async () =>
      (await metric('bayline_malloc_trims_total{released="yes"}')) +
      (await metric('bayline_malloc_trims_total{released="no"}'));
    const before = await trims();
    await call();
    expect(await metric('bayline_active_calls')).toBe(0);
    // The addon is loaded in both workers (from source, as here, and from dist/) and runs.
    await until(async () => (await trims()) > before, 10_000);
  });

  it('starts another worker when one dies, and keeps serving calls', async () => {
    const [victim] = workerPids(server.pid as number);
    process.kill(victim as number, 'SIGKILL');
    await until(() => logged('worker died; starting another') === 1, 10_000);
    await until(() => logged('Bayline is listening') === 3, 60_000);
    expect(workerPids(server.pid as number)).toHaveLength(2);
    const c = await call();
    expect(c.heardAudioMs).toBe(GREETING_MS);
  });

  it('outlives all of its workers dying at once, and starts them again', async () => {
    // The primary holds no handle of its own: its restart timer is what keeps it alive then.
    for (const pid of workerPids(server.pid as number)) process.kill(pid, 'SIGKILL');
    await until(() => logged('worker died; starting another') === 3, 10_000);
    await until(() => logged('Bayline is listening') === 5 || server.exitCode !== null, 60_000);
    expect(server.exitCode).toBeNull();
    expect(workerPids(server.pid as number)).toHaveLength(2);
    expect((await call()).heardAudioMs).toBe(GREETING_MS);
  });

  it('serves alone under another cluster master, which does not answer our messages', async () => {
    // PM2's cluster mode forks its instances with node:cluster too, and knows nothing of claims or
    // metric requests: a worker waiting on them would delay every greeting and fail every scrape.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'foreign-primary-'));
    const primary = path.join(dir, 'primary.js');
    writeFileSync(
      primary,
      `const cluster = require('node:cluster');
cluster.setupPrimary({ exec: ${JSON.stringify(path.join(REPO, 'server/main.ts'))}, execArgv: ['--import', 'tsx'] });
cluster.fork();`,
    );
    const port = await freePort();
    const foreign = spawn(process.execPath, [primary], {
      cwd: REPO,
      stdio: 'ignore',
      env: { ...env, PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}` },
    });
    try {
      await until(
        async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.ok === true,
        60_000,
      );
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('bayline_active_calls');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      for (const pid of workerPids(foreign.pid as number)) process.kill(pid, 'SIGKILL');
      foreign.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("admits against the whole server's MAX_CONCURRENT_CALLS, whichever worker a ring reaches", async () => {
    // A second cluster, for one call at a time. With a fixed share per worker (ceil(1 / 2) = 1),
    // a ring reaching the worker without the live call was admitted.
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const small = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, WORKERS: '2', MAX_CONCURRENT_CALLS: '1', PORT: String(port), PUBLIC_BASE_URL: origin },
    });
    const out: string[] = [];
    for (const s of [small.stdout, small.stderr])
      if (s) createInterface({ input: s }).on('line', (l) => out.push(l));
    try {
      await until(() => out.filter((l) => l.includes('"msg":"Bayline is listening"')).length === 2, 60_000);
      const live = await TwilioCaller.dial({ baseUrl: origin, authToken, accountSid, from: DANA });
      await live.waitFor((c) => c.marksEchoed.length > 0, 15_000);
      // Each ring on a connection of its own: the primary hands connections to the workers in turn.
      const rings = [];
      for (let i = 0; i < 4; i++)
        rings.push(await ringOnNewConnection(origin, `CA${randomBytes(16).toString('hex')}`));
      expect(rings.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      for (const r of rings) expect(r.body).not.toContain('<Stream');
      await live.stop();
      await live.close();
    } finally {
      for (const pid of workerPids(small.pid as number)) process.kill(pid, 'SIGKILL');
      small.kill('SIGKILL');
    }
  });

  it('drains every worker once on SIGTERM to the whole group (as systemd sends it) and exits 0', async () => {
    const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
    // The workers ignore the signal itself and wait for the primary's word: one drain each.
    for (const pid of workerPids(server.pid as number)) process.kill(pid, 'SIGTERM');
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logged('shutting down: draining calls')).toBe(2);
    expect(logged('all workers stopped')).toBe(1);
  });
});
