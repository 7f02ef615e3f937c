/**
 * `npm run loadtest` stopped by a signal removes what it made, whenever the signal comes: while it
 * waits for the build lock, while tsc compiles the server (tsc is killed, the lock let go), and
 * while the calls run. The exit code is the shell's for the signal (128 + its number).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import pg from 'pg';
import { withLock } from '../../scripts/loadtest-target';
import { DATABASE_URL } from '../support/pg';
import { REDIS_URL, scanKeys } from '../support/redis';

const REPO = path.resolve(__dirname, '../..');
const LOCK = path.join(REPO, 'dist', '.loadtest-build.lock');

jest.setTimeout(120_000);

interface Run {
  child: ChildProcess;
  /** Resolves with the first progress line that matches. */
  line(re: RegExp): Promise<RegExpMatchArray>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: string[];
}

function loadtest(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/loadtest.ts', ...args], {
    cwd: REPO,
    env: process.env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => {
    stderr.push(l);
    for (const w of waiters.slice()) {
      const m = l.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  return {
    child,
    stderr,
    exit,
    line: (re) =>
      new Promise((resolve, reject) => {
        const seen = stderr.map((l) => l.match(re)).find((m) => m);
        if (seen) return resolve(seen);
        waiters.push({ re, resolve });
        void exit.then(({ code }) =>
          reject(new Error(`exited (${code}) before ${re}:\n${stderr.join('\n')}`)),
        );
      }),
  };
}

async function databaseExists(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rowCount === 1;
  } finally {
    await c.end();
  }
}

/** The process's children now (the emulators, tsc, the server). */
function childrenOf(pid: number): Array<{ pid: number; args: string }> {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' });
  } catch {
    // ps exits 1 when there are none.
  }
  return out
    .split('\n')
    .map((l) => l.trim().match(/^(\d+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), args: m[2] as string }));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Children that exit on their own after a SIGTERM are given a moment to be reaped. */
async function stillAlive(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  return pids.filter(alive);
}

const DATABASE = /database (bayline_loadtest_\w+), Redis key prefix (\S+)$/;

function lockOwner(): string | null {
  try {
    return readFileSync(path.join(LOCK, 'owner'), 'utf8');
  } catch {
    return null;
  }
}

async function keysUnder(prefix: string): Promise<string[]> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return await scanKeys(redis, `${prefix}*`);
  } finally {
    await redis.quit();
  }
}
const RUN_ARGS = ['--calls', '2', '--seconds', '60', '--warmup', '0', '--tts-ms-per-char', '10'];

describe('npm run loadtest stopped by a signal', () => {
  it('SIGTERM while it waits for the build lock: exits 143, drops its database, leaves the lock alone', async () => {
    // This process holds the lock (as another load test compiling would) until the run is stopped.
    await withLock(
      LOCK,
      () => undefined,
      async () => {
        const run = loadtest(RUN_ARGS);
        const [, db] = (await run.line(DATABASE)) as [string, string];
        await run.line(/waiting for another load test to finish compiling/);
        const children = childrenOf(run.child.pid as number);
        expect(await databaseExists(db)).toBe(true);
        run.child.kill('SIGTERM');
        expect(await run.exit).toEqual({ code: 143, signal: null });
        expect(run.stderr.join('\n')).toContain('SIGTERM: stopping');
        expect(await databaseExists(db)).toBe(false);
        // The emulators it had forked are gone with it.
        expect(children.length).toBeGreaterThanOrEqual(2);
        expect(await stillAlive(children.map((c) => c.pid))).toEqual([]);
        expect(lockOwner()).toBe(String(process.pid));
      },
    );
  });

  it('SIGINT while tsc compiles: kills tsc, lets the lock go, drops its database, exits 130', async () => {
    const run = loadtest(RUN_ARGS);
    const [, db] = (await run.line(DATABASE)) as [string, string];
    await run.line(/compiling the server/);
    // tsc is forked in the same turn as that line is written (an incremental build takes seconds).
    const children = childrenOf(run.child.pid as number);
    run.child.kill('SIGINT');
    expect(await run.exit).toEqual({ code: 130, signal: null });
    expect(await databaseExists(db)).toBe(false);
    expect(children.some((c) => c.args.includes('typescript/bin/tsc'))).toBe(true);
    expect(await stillAlive(children.map((c) => c.pid))).toEqual([]);
    // Let go: gone, or already taken by another load test (the smoke tests run beside this one).
    expect(lockOwner()).not.toBe(String(run.child.pid));
  });

  it('SIGTERM during the calls: stops the server, removes its keys and database, exits 143', async () => {
    const run = loadtest(RUN_ARGS);
    const [, db, prefix] = (await run.line(DATABASE)) as [string, string, string];
    await run.line(/^\[loadtest\] run: 2 calls/);
    // The calls are under way: the server has written call state under its prefix.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await keysUnder(prefix)).length).toBeGreaterThan(0);
    const children = childrenOf(run.child.pid as number);
    run.child.kill('SIGTERM');
    expect(await run.exit).toEqual({ code: 143, signal: null });
    expect(await databaseExists(db)).toBe(false);
    expect(await keysUnder(prefix)).toEqual([]);
    // The server and both emulators.
    expect(children.length).toBeGreaterThanOrEqual(3);
    expect(await stillAlive(children.map((c) => c.pid))).toEqual([]);
  });
});
