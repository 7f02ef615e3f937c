/** Tiny measurement helpers for `npm run bench`: warm up, run N times, report percentiles in ms. */
import {
  OutboundEncoder,
  decodePayloadInto,
  isFrameError,
  parseInboundFrame,
} from '../server/telephony/frames';
import { FRAME_BYTES, SpeechDetector } from '../server/telephony/mulaw';
import { OutboundPacer } from '../server/telephony/pacer';
import { FrameTicker, type Clock } from '../server/telephony/ticker';
import { createMetrics } from '../server/platform/metrics';
import WebSocket, { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
export interface Stats {
  name: string;
  n: number;
  p50: number;
  p99: number;
  max: number;
  opsPerSec: number;
}

export async function measure(
  name: string,
  n: number,
  fn: (i: number) => Promise<unknown>,
  warmup = Math.min(200, n),
): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const samples = new Float64Array(n);
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    samples[i] = performance.now() - t;
  }
  return toStats(name, samples, performance.now() - started);
}

/** A row from per-operation samples in ms (sorted in place); ops/s over `totalMs` of wall time. */
export function toStats(name: string, samples: Float64Array, totalMs: number): Stats {
  const n = samples.length;
  samples.sort();
  const at = (q: number) => samples[Math.min(n - 1, Math.floor(q * n))] ?? 0;
  return { name, n, p50: at(0.5), p99: at(0.99), max: samples[n - 1] ?? 0, opsPerSec: (n / totalMs) * 1000 };
}

export function measureSync(name: string, n: number, fn: (i: number) => unknown): Stats {
  for (let i = 0; i < Math.min(10_000, n); i++) fn(i);
  const started = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const total = performance.now() - started;
  const perOp = total / n;
  return { name, n, p50: perOp, p99: perOp, max: perOp, opsPerSec: (n / total) * 1000 };
}

export function printTable(rows: Stats[], unit: 'ms' | 'µs' = 'ms'): void {
  const scale = unit === 'ms' ? 1 : 1000;
  const fmt = (v: number) => (v * scale < 0.01 ? (v * scale).toFixed(4) : (v * scale).toFixed(3));
  console.log(
    `${'benchmark'.padEnd(46)} ${'n'.padStart(8)} ${`p50 ${unit}`.padStart(9)} ${`p99 ${unit}`.padStart(9)} ${`max ${unit}`.padStart(9)} ${'ops/s'.padStart(12)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(46)} ${String(r.n).padStart(8)} ${fmt(r.p50).padStart(9)} ${fmt(r.p99).padStart(9)} ${fmt(r.max).padStart(9)} ${Math.round(r.opsPerSec).toString().padStart(12)}`,
    );
  }
}

/**
 * The per-frame path, without sockets: what the server does for each 20 ms media frame in
 * (parse + validate, base64 decode, barge-in detector, the STT append message) and out (pacer
 * bookkeeping + media message). Inputs are the product's real shapes; speech is fixture-like
 * noise, so the detector takes its voiced branch. Sync ops are timed in batches: n per batch.
 */

export function speechFrame(seed = 1): Buffer {
  const frame = Buffer.alloc(FRAME_BYTES);
  let x = seed;
  for (let i = 0; i < FRAME_BYTES; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    frame[i] = (x >>> 16) & 0x7f; // mu-law codes 0x00–0x7f: loud negative half-waves
  }
  return frame;
}

/** A Twilio media message exactly as `ws` hands it over: a Buffer of JSON text. */
export function twilioMediaMessage(audio: Buffer, seq = 42): Buffer {
  return Buffer.from(
    JSON.stringify({
      event: 'media',
      sequenceNumber: String(seq),
      media: {
        track: 'inbound',
        chunk: String(seq - 2),
        timestamp: String((seq - 2) * 20),
        payload: audio.toString('base64'),
      },
      streamSid: `MZ${'0123456789abcdef'.repeat(2)}`,
    }),
  );
}

/** A clock that only moves when told: ticks are driven by hand, no timers run. */
class ManualClock implements Clock {
  t = 0;
  now(): number {
    return this.t;
  }
  setTimeout(): unknown {
    return 0;
  }
  clearTimeout(): void {}
}

export interface FrameSuiteResult {
  stats: Stats[];
  /** µs of one core per frame, inbound and outbound, and what that means per call at 50 frames/s each way. */
  perFrameUs: { inbound: number; outbound: number };
  callsPerCore: number;
}

export function frameSuite(n: number): FrameSuiteResult {
  const audio = speechFrame();
  const message = twilioMediaMessage(audio);
  const payload = audio.toString('base64');
  const target = Buffer.alloc(1600);
  const detector = new SpeechDetector();
  let sink = 0;
  // ws turns a string into bytes before framing it; count that, or V8 keeps a lazy rope.
  const forward = (b: Buffer) =>
    Buffer.byteLength(`{"type":"input_audio_buffer.append","audio":"${b.toString('base64')}"}`);
  const stats: Stats[] = [];

  stats.push(
    measureSync('frame in: parse + validate (media)', n, () => {
      const f = parseInboundFrame(message, false);
      if (isFrameError(f)) throw new Error('bench frame rejected');
    }),
  );
  stats.push(measureSync('frame in: base64 decode (Buffer.from)', n, () => Buffer.from(payload, 'base64')));
  stats.push(
    measureSync(
      'frame in: base64 decode (into buffer)',
      n,
      () => (sink += decodePayloadInto(payload, target)),
    ),
  );
  stats.push(measureSync('frame in: SpeechDetector.push', n, () => (sink += detector.push(audio))));
  stats.push(measureSync('frame in: STT append message (re-encode)', n, () => (sink += forward(audio))));
  stats.push(
    measureSync(
      'frame in: STT append message (reuse payload)',
      n,
      () => (sink += Buffer.byteLength(`{"type":"input_audio_buffer.append","audio":"${payload}"}`)),
    ),
  );
  // The shared ticker is polled before each message; with a pacer registered its timer is armed,
  // so this measures the usual case: a clock read and nothing due.
  const inTicker = new FrameTicker();
  const idleMember = { onTick: () => undefined };
  inTicker.add(idleMember);
  stats.push(measureSync('frame in: ticker poll (nothing due)', n, () => inTicker.poll()));
  const inbound = measureSync('frame in: whole path (as media-stream.ts)', n, () => {
    inTicker.poll();
    const f = parseInboundFrame(message, false);
    if (isFrameError(f) || f.event !== 'media') throw new Error('bench frame rejected');
    const decoded = Buffer.from(f.media.payload, 'base64');
    sink += forward(decoded);
    sink += detector.push(decoded);
  });
  stats.push(inbound);
  inTicker.close();
  const metrics = createMetrics();
  stats.push(
    measureSync('frame in: metrics inc (labels object)', n, () =>
      metrics.mediaFrames.inc({ direction: 'inbound', result: 'ok' }),
    ),
  );
  const bound = metrics.mediaFrames.labels('inbound', 'ok');
  stats.push(measureSync('frame in: metrics inc (pre-bound child)', n, () => bound.inc()));

  const encoder = new OutboundEncoder(`MZ${'0123456789abcdef'.repeat(2)}`);
  stats.push(
    measureSync(
      'frame out: OutboundEncoder.media',
      n,
      () => (sink += Buffer.byteLength(encoder.media(audio))),
    ),
  );

  // Steady state of one reply: the pacer holds seconds of TTS audio and releases a frame per tick.
  const clock = new ManualClock();
  const ticker = new FrameTicker({ clock });
  const pacer = new OutboundPacer({
    encoder,
    ticker,
    send: (json) => void (sink += Buffer.byteLength(json)),
  });
  const tts = Buffer.alloc(8000, 0x2a); // 1 s, as ElevenLabs streams it in 100 ms chunks
  const outbound = measureSync('frame out: pacer tick + encode (per frame)', n, () => {
    if (pacer.queuedMs < 200) for (let i = 0; i < 10; i++) pacer.push(tts.subarray(i * 800, (i + 1) * 800));
    clock.t += 20;
    pacer.onTick(clock.t, clock.t);
  });
  stats.push(outbound);
  pacer.close();
  if (sink === -1) console.log(sink); // keeps the work observable to the optimiser

  const inUs = 1e6 / inbound.opsPerSec;
  const outUs = 1e6 / outbound.opsPerSec;
  return {
    stats,
    perFrameUs: { inbound: inUs, outbound: outUs },
    callsPerCore: Math.floor(1e6 / (50 * (inUs + outUs))),
  };
}

/**
 * What the frame path costs once sockets are involved: `ws` over loopback TCP in this process,
 * both ends (framing, masking, the write and read system calls). As on a live server, `sockets`
 * connections each carry one message per round, so no two messages share a system call.
 * Client→server is what a Twilio inbound frame (and the STT forward) costs; server→client is an
 * outbound media message, at 20 ms of audio (today) and 40 ms per message.
 */
export async function socketSuite(n: number, sockets = 50): Promise<Stats[]> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as AddressInfo).port;
  const pairs: Array<{ client: WebSocket; server: WebSocket }> = [];
  for (let i = 0; i < sockets; i++) {
    const serverSide = new Promise<WebSocket>((r) => wss.once('connection', (ws) => r(ws)));
    const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    await new Promise<void>((r, j) => {
      client.once('open', () => r());
      client.once('error', j);
    });
    pairs.push({ client, server: await serverSide });
  }
  const media = twilioMediaMessage(speechFrame()).toString('utf8');
  const outbound = new OutboundEncoder(`MZ${'0123456789abcdef'.repeat(2)}`);
  const out20 = outbound.media(speechFrame(1));
  const out40 = outbound.media(Buffer.concat([speechFrame(1), speechFrame(2)]));

  async function rounds(name: string, direction: 'in' | 'out', msg: string, count: number): Promise<Stats> {
    const per = Math.max(1, Math.floor(count / sockets));
    const started = performance.now();
    for (let r = 0; r < per; r++) {
      let left = sockets;
      await new Promise<void>((resolve) => {
        for (const p of pairs) {
          const [from, to] = direction === 'in' ? [p.client, p.server] : [p.server, p.client];
          to.once('message', () => {
            if (--left === 0) resolve();
          });
          from.send(msg);
        }
      });
    }
    const total = performance.now() - started;
    const ops = per * sockets;
    return {
      name,
      n: ops,
      p50: total / ops,
      p99: total / ops,
      max: total / ops,
      opsPerSec: (ops / total) * 1000,
    };
  }

  const stats: Stats[] = [];
  await rounds('warm-up', 'in', media, Math.min(2000, n));
  stats.push(await rounds('socket: Twilio media in (client→server, masked)', 'in', media, n));
  stats.push(await rounds('socket: media out, 20 ms per message', 'out', out20, n));
  stats.push(await rounds('socket: media out, 40 ms per message', 'out', out40, n));
  for (const p of pairs) p.client.terminate();
  await new Promise<void>((r) => wss.close(() => r()));
  return stats;
}
