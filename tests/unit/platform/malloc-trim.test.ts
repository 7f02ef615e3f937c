/**
 * Idle trimming: the addon really gives glibc's free memory back (in a child process, so the
 * figures are its own), and IdleTrim calls it only while no call is live: once after the last call
 * ends, again after each full GC while idle, never during a call.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { IdleTrim, loadNativeTrim } from '../../../server/platform/malloc-trim';
import { createLogger } from '../../../server/platform/logger';

const REPO = path.resolve(__dirname, '../../..');

setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// 200,000 ArrayBuffers of 1 KB (≈ 200 MB from malloc's main arena); one in 64 is kept, so the
// heap's top never becomes free and glibc cannot shrink it by itself. Prints RSS in MB once the
// GC has freed the rest, and after trim().
const FRAGMENT_AND_TRIM = `
const addon = require(process.argv[1]);
const kept = [];
let all = [];
for (let i = 0; i < 200000; i++) {
  const b = new ArrayBuffer(1024);
  new Uint8Array(b).fill(1);
  all.push(b);
  if (i % 64 === 0) kept.push(b);
}
all = null;
gc();
const rss = () => Math.round(process.memoryUsage.rss() / 1048576);
// V8 frees dead backing stores on a task after the GC: wait for it.
setTimeout(() => {
  gc();
  const before = rss();
  addon.trim().then((released) => {
    process.stdout.write(JSON.stringify({ before, after: rss(), released, kept: kept.length }));
  });
}, 500);
`;

function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return (async () => {
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
      await sleep(5);
    }
  })();
}

describe('the malloc_trim addon', () => {
  it('is built by npm install and loads on this glibc system', () => {
    const addon = loadNativeTrim();
    expect(addon).not.toBeNull();
    expect(addon?.supported).toBe(true);
  });

  it('gives freed memory inside the heap back to the system', () => {
    const addon = path.join(REPO, 'native', 'build', 'Release', 'malloc_trim.node');
    const out = JSON.parse(
      execFileSync(process.execPath, ['--expose-gc', '-e', FRAGMENT_AND_TRIM, addon], { encoding: 'utf8' }),
    ) as { before: number; after: number; released: boolean; kept: number };
    expect(out.kept).toBe(3125);
    expect(out.released).toBe(true);
    // ≈ 200 MB was freed into the arena; most of it must leave RSS.
    expect(out.before - out.after).toBeGreaterThan(100);
  });
});

describe('IdleTrim', () => {
  const log = createLogger({ level: 'silent' });
  let trims: number;
  const trim = () => {
    trims++;
    return Promise.resolve(true);
  };
  let idle: IdleTrim | null;
  beforeEach(() => {
    trims = 0;
    idle = null;
  });
  afterEach(() => idle?.close());

  it('trims once, delayMs after the last call ends', async () => {
    const counted: string[] = [];
    let bytes = -1;
    idle = new IdleTrim({
      trim,
      delayMs: 60,
      log,
      metrics: {
        trims: { inc: (l) => counted.push(l.released) },
        releasedBytes: { inc: (n) => (bytes = n) },
      },
    });
    idle.calls(2);
    idle.calls(1);
    idle.calls(0);
    await sleep(30);
    expect(trims).toBe(0);
    await waitUntil(() => trims === 1, 2000);
    await sleep(150);
    expect(trims).toBe(1);
    expect(counted).toEqual(['yes']);
    expect(bytes).toBeGreaterThanOrEqual(0);
  });

  it('a call that starts before the delay is up cancels the trim', async () => {
    idle = new IdleTrim({ trim, delayMs: 60, log });
    idle.calls(0);
    await sleep(20);
    idle.calls(1);
    await sleep(150);
    expect(trims).toBe(0);
  });

  it('trims again after a full GC while idle, and never for a GC during a call', async () => {
    idle = new IdleTrim({ trim, delayMs: 20, log });
    idle.calls(0);
    await waitUntil(() => trims === 1, 2000);
    fullGc();
    await waitUntil(() => trims === 2, 3000);

    idle.calls(1);
    fullGc();
    await sleep(1500);
    expect(trims).toBe(2);
  });

  it('does nothing when turned off (delay 0) or without the addon', async () => {
    const off = new IdleTrim({ trim, delayMs: 0, log });
    const none = new IdleTrim({ trim: null, delayMs: 20, log });
    expect(off.enabled).toBe(false);
    expect(none.enabled).toBe(false);
    off.calls(0);
    none.calls(0);
    await sleep(100);
    expect(trims).toBe(0);
    off.close();
    none.close();
  });

  it('a failed trim is logged and counted as nothing, and the next one still runs', async () => {
    let calls = 0;
    const counted: string[] = [];
    idle = new IdleTrim({
      trim: () => (++calls === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(false)),
      delayMs: 20,
      log,
      metrics: { trims: { inc: (l) => counted.push(l.released) }, releasedBytes: { inc: () => undefined } },
    });
    idle.calls(0);
    await waitUntil(() => calls === 1, 2000);
    await sleep(20);
    fullGc();
    await waitUntil(() => calls === 2, 3000);
    await sleep(20);
    expect(counted).toEqual(['no']);
  });
});
