/**
 * Synthetic "speech" for the TTS emulators: a warbling tone whose length follows the text (60 ms a
 * character by default). It is never mu-law silence (0xFF), so tests and the product's own speech
 * detector can tell agent audio from quiet, and it is deterministic, so byte counts are predictable.
 */
import type { ServerResponse } from 'node:http';
import { mulawEncodeSample } from '../../platform/g711';
import { pause, pauseFrom, sendJson, write, type Fault } from './http';

export const DEFAULT_MS_PER_CHAR = 60;

export function speechDurationMs(text: string, msPerChar = DEFAULT_MS_PER_CHAR): number {
  return Math.max(1, text.length) * msPerChar;
}

/** Sample value at index `i` of a tone at `rate` Hz: 300/450 Hz alternating every 60 ms. */
function sampleAt(i: number, rate: number): number {
  const t = i / rate;
  const freq = Math.floor(t / 0.06) % 2 === 0 ? 300 : 450;
  return Math.round(6000 * Math.sin(2 * Math.PI * freq * t) + 1500);
}

export function tonePcm16(durationMs: number, rate: number): Buffer {
  const samples = Math.round((durationMs * rate) / 1000);
  const out = Buffer.allocUnsafe(samples * 2);
  for (let i = 0; i < samples; i++) out.writeInt16LE(sampleAt(i, rate), i * 2);
  return out;
}

/** Every mu-law tone is a prefix of one long tone: built once (and grown on demand), then copied. */
let mulawTone = Buffer.alloc(0);

export function toneMulaw(durationMs: number): Buffer {
  const samples = Math.round(durationMs * 8);
  if (samples > mulawTone.length) {
    const grown = Buffer.allocUnsafe(Math.max(samples, 8000 * 10));
    for (let i = 0; i < grown.length; i++) grown[i] = mulawEncodeSample(sampleAt(i, 8000));
    mulawTone = grown;
  }
  return Buffer.from(mulawTone.subarray(0, samples));
}

/** Audio for `text` in an ElevenLabs output format, or undefined if the emulator cannot make it. */
export function elevenLabsAudio(
  text: string,
  outputFormat: string,
  msPerChar: number,
): { bytes: Buffer; contentType: string; bytesPerMs: number } | undefined {
  const ms = speechDurationMs(text, msPerChar);
  if (outputFormat === 'ulaw_8000')
    return { bytes: toneMulaw(ms), contentType: 'audio/basic', bytesPerMs: 8 };
  const rate = /^pcm_(\d+)$/.exec(outputFormat)?.[1];
  if (rate)
    return {
      bytes: tonePcm16(ms, Number(rate)),
      contentType: 'audio/pcm',
      bytesPerMs: (Number(rate) * 2) / 1000,
    };
  return undefined;
}

/** A 44-byte RIFF header for 16-bit mono PCM. */
export function wavHeader(dataBytes: number, rate: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

export interface AudioStreamPlan {
  contentType: string;
  /** performance.now() when the request came in: the first byte goes `firstByteMs` after it. */
  arrivedAt: number;
  firstByteMs: number;
  chunkMs: number;
  chunkBytes: number;
  /** The fault drawn for this request (status faults are answered before this point). */
  fault: Fault | undefined;
  /** The vendor's error body for a status fault. */
  errorBody: (status: number) => unknown;
}

/** Sends `audio` chunked (HTTP chunked encoding), honouring latency settings and stream faults. */
export async function streamAudio(res: ServerResponse, audio: Buffer, plan: AudioStreamPlan): Promise<void> {
  const { fault } = plan;
  if (fault?.kind === 'status') {
    sendJson(res, fault.status, plan.errorBody(fault.status));
    return;
  }
  if (fault?.kind === 'stall' && fault.afterChunks === undefined) return;
  if (!(await pauseFrom(res, plan.arrivedAt, plan.firstByteMs))) return;
  res.writeHead(200, { 'content-type': plan.contentType, 'transfer-encoding': 'chunked' });
  let index = 0;
  for (let offset = 0; offset < audio.length; offset += plan.chunkBytes, index++) {
    if (index > 0 && !(await pause(res, plan.chunkMs))) return;
    if (fault?.kind === 'drop' && index === (fault.afterChunks ?? 1)) {
      res.socket?.destroy();
      return;
    }
    if (fault?.kind === 'stall' && index === fault.afterChunks) return;
    const chunk =
      fault?.kind === 'garbage'
        ? Buffer.from('<html>502 Bad Gateway</html>')
        : audio.subarray(offset, offset + plan.chunkBytes);
    if (!(await write(res, chunk))) return;
    if (fault?.kind === 'garbage') break;
  }
  res.end();
}
