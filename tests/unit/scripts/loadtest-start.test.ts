/**
 * The load test's server start: builds take turns (two load tests at once must not write dist/
 * together); a port taken between picking it and the server binding it (other listeners on the
 * machine) is retried on a new port; any other failure is reported with what the server printed.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startServer, withLock } from '../../../scripts/loadtest-target';
import { SERVER_NODE_FLAGS } from '../../../server/platform/node-flags';

jest.setTimeout(30_000);

// Stands in for the compiled server: answers /health/ready on PORT, or fails as main.ts does.
const FAKE_SERVER = `
const http = require('node:http');
if (process.env.FAIL) { console.error('Error: PII_KEYS is required'); process.exit(1); }
const server = http.createServer((req, res) =>
  res.end(req.url === '/health/ready' ? 'ok' : req.url === '/argv' ? JSON.stringify(process.execArgv) : ''),
);
server.listen(Number(process.env.PORT), '127.0.0.1');
server.on('error', (err) => { console.error(err); process.exit(1); });
process.on('disconnect', () => process.exit(0));
`;

const OPTS = {
  serverArgs: [],
  serverNice: undefined,
  serverCpus: undefined,
  serverRt: undefined,
  callersRt: undefined,
  serverLog: undefined,
};

let dir: string;
let script: string;
const listeners: net.Server[] = [];

async function listen(port = 0): Promise<number> {
  // Whoever holds the port: a connection to it (the readiness probe) is hung up on at once.
  const s = net.createServer((c) => c.destroy());
  listeners.push(s);
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  return (s.address() as net.AddressInfo).port;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'loadtest-start-'));
  script = path.join(dir, 'server.js');
  writeFileSync(script, FAKE_SERVER);
});
afterAll(async () => {
  for (const s of listeners) await new Promise((r) => s.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('startServer (npm run loadtest)', () => {
  it('retries on a new port when the picked one was taken before the server bound it', async () => {
    const taken = await listen();
    const spare = await listen();
    await new Promise((r) => listeners.pop()?.close(r));
    const ports = [taken, spare];
    const lines: string[] = [];
    const { child, baseUrl } = await startServer(
      script,
      (port) => ({ PATH: process.env.PATH, PORT: String(port) }),
      OPTS,
      (s) => lines.push(s),
      async () => ports.shift() as number,
    );
    try {
      expect(baseUrl).toBe(`http://127.0.0.1:${spare}`);
      expect(lines).toEqual([
        `starting server on http://127.0.0.1:${taken}`,
        `starting server on ${baseUrl}`,
      ]);
      expect((await fetch(`${baseUrl}/health/ready`)).status).toBe(200);
    } finally {
      child.kill();
    }
  });

  it("runs node with npm start's flags, and --server-args after them (V8 takes the last value)", async () => {
    const { child, baseUrl } = await startServer(
      script,
      (port) => ({ PATH: process.env.PATH, PORT: String(port) }),
      { ...OPTS, serverArgs: ['--max-semi-space-size=16', '--trace-gc'] },
      () => undefined,
    );
    try {
      const argv = (await (await fetch(`${baseUrl}/argv`)).json()) as string[];
      expect(SERVER_NODE_FLAGS.length).toBeGreaterThan(0);
      expect(argv).toEqual(['--expose-gc', ...SERVER_NODE_FLAGS, '--max-semi-space-size=16', '--trace-gc']);
    } finally {
      child.kill();
    }
  });

  it('does not retry any other failure, and says what the server printed', async () => {
    let picks = 0;
    const started = startServer(
      script,
      (port) => ({ PATH: process.env.PATH, PORT: String(port), FAIL: '1' }),
      OPTS,
      () => undefined,
      async () => {
        picks++;
        return 0;
      },
    );
    await expect(started).rejects.toThrow('server exited with 1 during start: Error: PII_KEYS is required');
    expect(picks).toBe(1);
  });
});

/** Scheduling policy and real-time priority of each thread of `pid` (fields 41 and 40 of stat). */
function threadPriorities(pid: number): Map<number, { policy: number; rtPriority: number }> {
  const out = new Map<number, { policy: number; rtPriority: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses and may hold spaces.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), { rtPriority: Number(f[37]), policy: Number(f[38]) });
  }
  return out;
}

describe('--server-rt (npm run loadtest)', () => {
  it("runs the server's threads round-robin at PRIO and its event loop one step above", async () => {
    const { child } = await startServer(
      script,
      (port) => ({ PATH: process.env.PATH, PORT: String(port) }),
      { ...OPTS, serverRt: 20 },
      () => undefined,
    );
    try {
      const pid = child.pid as number;
      const threads = threadPriorities(pid);
      const SCHED_RR = 2;
      expect(threads.get(pid)).toEqual({ policy: SCHED_RR, rtPriority: 21 });
      // Node starts V8's platform workers and libuv's threads before any user code runs.
      const others = [...threads].filter(([tid]) => tid !== pid).map(([, p]) => p);
      expect(others.length).toBeGreaterThan(0);
      for (const p of others) expect(p).toEqual({ policy: SCHED_RR, rtPriority: 20 });
    } finally {
      child.kill();
    }
  });

  it('with real-time callers (--callers-rt), puts the event loop one step above them', async () => {
    const { child } = await startServer(
      script,
      (port) => ({ PATH: process.env.PATH, PORT: String(port) }),
      { ...OPTS, serverRt: 20, callersRt: 25 },
      () => undefined,
    );
    try {
      const pid = child.pid as number;
      const threads = threadPriorities(pid);
      expect(threads.get(pid)?.rtPriority).toBe(26);
      for (const [tid, p] of threads) if (tid !== pid) expect(p.rtPriority).toBe(20);
    } finally {
      child.kill();
    }
  });
});

describe('withLock (the build lock of npm run loadtest)', () => {
  it('lets one holder in at a time, and takes over a lock a crashed holder left', async () => {
    const lock = path.join(dir, 'build.lock');
    const events: string[] = [];
    const hold = (name: string) => async () => {
      events.push(`${name} in`);
      await new Promise((r) => setTimeout(r, 150));
      events.push(`${name} out`);
    };
    await Promise.all([
      withLock(lock, () => undefined, hold('a')),
      withLock(lock, () => undefined, hold('b')),
    ]);
    // Either may win the race for the lock (two mkdir calls on the thread pool), never both.
    const first = events[0]?.[0] as string;
    const second = first === 'a' ? 'b' : 'a';
    expect(events).toEqual([`${first} in`, `${first} out`, `${second} in`, `${second} out`]);

    mkdirSync(lock);
    const old = new Date(Date.now() - 11 * 60_000);
    utimesSync(lock, old, old);
    await withLock(lock, () => undefined, hold('c'));
    expect(events.slice(4)).toEqual(['c in', 'c out']);
  });

  it('takes over at once a lock whose holder was killed, and waits for one that still runs', async () => {
    const lock = path.join(dir, 'owned.lock');
    // A process that has exited: its pid names no process (pids are not reused this fast).
    const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
    mkdirSync(lock);
    writeFileSync(path.join(lock, 'owner'), String(dead));
    const said: string[] = [];
    let ran = false;
    await withLock(
      lock,
      (s) => said.push(s),
      async () => {
        ran = true;
        expect(readFileSync(path.join(lock, 'owner'), 'utf8')).toBe(String(process.pid));
      },
    );
    expect(ran).toBe(true);
    expect(said).toEqual(['taking over the build lock of a load test that no longer runs']);
    expect(existsSync(lock)).toBe(false);

    // A live holder (this process) is waited for, however fresh or old its lock.
    mkdirSync(lock);
    writeFileSync(path.join(lock, 'owner'), String(process.pid));
    const old = new Date(Date.now() - 11 * 60_000);
    utimesSync(lock, old, old);
    let entered = false;
    const waiting = withLock(
      lock,
      () => undefined,
      async () => {
        entered = true;
      },
    );
    await new Promise((r) => setTimeout(r, 600));
    expect(entered).toBe(false);
    rmSync(lock, { recursive: true });
    await waiting;
    expect(entered).toBe(true);
  });
});
