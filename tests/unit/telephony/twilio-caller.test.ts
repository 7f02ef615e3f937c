/**
 * The Twilio caller against a tiny server of this test's own, built from the telephony pieces
 * (signature checks, TwiML, frame parser, encoder), so both sides are exercised.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  OutboundEncoder,
  isFrameError,
  parseInboundFrame,
  type ParsedFrame,
} from '../../../server/telephony/frames';
import { SignatureCheck, TwilioSignatureVerifier } from '../../../server/telephony/signature';
import { FrameTicker } from '../../../server/telephony/ticker';
import { answerTwiml } from '../../../server/telephony/twiml';
import { loadFixture } from '../../support/audio-fixtures';
import { TwilioCaller } from '../../support/twilio-caller';

const TOKEN = 'caller-test-token';
const PUBLIC = 'https://bayline.test';
const verifier = new TwilioSignatureVerifier(TOKEN, PUBLIC);

class ServerSide {
  readonly frames: { at: number; frame: ParsedFrame }[] = [];
  readonly texts: string[] = [];
  encoder: OutboundEncoder | undefined;
  closed = false;
  constructor(
    readonly ws: WebSocket,
    readonly raw: Buffer[] = [],
  ) {
    ws.on('message', (data, isBinary) => {
      this.texts.push(String(data));
      const frame = parseInboundFrame(data as Buffer, isBinary);
      if (frame.event === 'start') this.encoder = new OutboundEncoder(frame.streamSid);
      this.frames.push({ at: performance.now(), frame });
    });
    ws.on('close', () => (this.closed = true));
  }
  of<E extends ParsedFrame['event']>(event: E): Extract<ParsedFrame, { event: E }>[] {
    return this.frames
      .map((f) => f.frame)
      .filter((f): f is Extract<ParsedFrame, { event: E }> => f.event === event);
  }
  enc(): OutboundEncoder {
    if (!this.encoder) throw new Error('no start yet');
    return this.encoder;
  }
  sendAudio(ms: number): void {
    const audio = Buffer.alloc(ms * 8, 0x20);
    for (let i = 0; i < audio.length; i += 160)
      this.ws.send(this.enc().media(audio, i, Math.min(i + 160, audio.length)));
  }
}

let server: Server;
let wss: WebSocketServer;
let baseUrl: string;
let sides: ServerSide[] = [];
let callers: TwilioCaller[] = [];

beforeAll(async () => {
  wss = new WebSocketServer({ noServer: true });
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      const check = verifier.webhook(req.headers['x-twilio-signature'], req.url ?? '/', params);
      if (req.method !== 'POST' || check !== SignatureCheck.Ok) {
        res.writeHead(check === SignatureCheck.Missing ? 400 : 403).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(
        answerTwiml({
          streamUrl: verifier.urls.media,
          parameters: { callSid: params.CallSid ?? '', tier: 'gold & "co"' },
        }),
      );
    });
  });
  server.on('upgrade', (req, socket, head) => {
    if (
      req.url !== '/twilio/media' ||
      verifier.upgrade(req.headers['x-twilio-signature']) !== SignatureCheck.Ok
    ) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    // The raw bytes as well, to read each frame's mask key.
    const raw: Buffer[] = head.length > 0 ? [Buffer.from(head)] : [];
    socket.on('data', (chunk: Buffer) => raw.push(chunk));
    wss.handleUpgrade(req, socket, head, (ws) => sides.push(new ServerSide(ws, raw)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await Promise.all(callers.map((c) => c.close()));
  callers = [];
  for (const s of sides) s.ws.terminate();
  sides = [];
});

afterAll(async () => {
  wss.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function dial(
  continuous = false,
  ticker?: FrameTicker,
  zeroMask = false,
): Promise<{ caller: TwilioCaller; side: ServerSide }> {
  const caller = await TwilioCaller.dial({
    baseUrl,
    publicBaseUrl: PUBLIC,
    authToken: TOKEN,
    continuous,
    zeroMask,
    ...(ticker ? { ticker } : {}),
  });
  callers.push(caller);
  await waitUntil(() => sides.length > 0 && (sides[sides.length - 1] as ServerSide).encoder !== undefined);
  return { caller, side: sides[sides.length - 1] as ServerSide };
}

/** The mask key (as a number) of every client frame in the raw bytes that followed the upgrade. */
function maskKeys(bytes: Buffer): number[] {
  const keys: number[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    let len = (bytes[at + 1] as number) & 0x7f;
    let head = 2;
    if (len === 126) {
      len = bytes.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (at + head + 4 + len > bytes.length) break;
    keys.push(bytes.readUInt32BE(at + head));
    at += head + 4 + len;
  }
  return keys;
}

async function waitUntil(pred: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('TwilioCaller toward the server', () => {
  it('rings signed, opens a signed stream and sends connected then start with the TwiML parameters', async () => {
    const { caller, side } = await dial();
    expect(caller.ring?.status).toBe(200);
    expect(caller.ring?.streamUrl).toBe('wss://bayline.test/twilio/media');
    expect(side.frames[0]?.frame.event).toBe('connected');
    const [start] = side.of('start');
    expect(start?.sequenceNumber).toBe('1');
    expect(start?.start.customParameters).toEqual({ callSid: caller.callSid, tier: 'gold & "co"' });
    expect(start?.start.tracks).toEqual(['inbound']);
    expect(start?.start.mediaFormat).toEqual({ encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 });
    expect(start?.start.callSid).toBe(caller.callSid);
    expect(side.frames.some((f) => isFrameError(f.frame))).toBe(false);
  });

  it('speaks a fixture in real time as 20 ms frames with Twilio counters', async () => {
    const { caller, side } = await dial();
    const fixture = loadFixture('uh-huh');
    const utterance = await caller.speak('uh-huh');
    await waitUntil(() => side.of('media').length >= Math.ceil(fixture.length / 160));
    const media = side.of('media');
    expect(media.map((m) => m.media.chunk)).toEqual(media.map((_, i) => String(i + 1)));
    expect(media.map((m) => Number(m.sequenceNumber))).toEqual(media.map((_, i) => i + 2));
    // Milliseconds since the stream started, 20 apart (the stream was idle before speaking).
    const stamps = media.map((m) => Number(m.media.timestamp));
    expect(stamps[0]).toBeGreaterThanOrEqual(0);
    expect(stamps.slice(1).map((t, i) => t - (stamps[i] as number))).toEqual(stamps.slice(1).map(() => 20));
    const audio = Buffer.concat(media.map((m) => Buffer.from(m.media.payload, 'base64')));
    expect(media.every((m) => Buffer.from(m.media.payload, 'base64').length === 160)).toBe(true);
    expect(audio.subarray(0, fixture.length).equals(fixture)).toBe(true);
    expect(audio.subarray(fixture.length).every((b) => b === 0xff)).toBe(true);
    // 39 frames in real time: the last leaves ~760 ms after the first.
    expect((utterance.endAt ?? 0) - (utterance.startAt ?? 0)).toBeGreaterThanOrEqual(700);
    expect(media.every((m) => m.media.track === 'inbound')).toBe(true);
  });

  it('writes media messages exactly as JSON.stringify would, and masks with key 0 when asked', async () => {
    for (const zeroMask of [false, true]) {
      const { caller, side } = await dial(false, undefined, zeroMask);
      await caller.speak('uh-huh');
      await waitUntil(() => side.of('media').length >= 39);
      const texts = side.texts.filter((t) => t.startsWith('{"event":"media"'));
      expect(texts.length).toBeGreaterThanOrEqual(39);
      for (const [i, text] of texts.entries()) {
        const m = side.of('media')[i];
        expect(text).toBe(
          JSON.stringify({
            event: 'media',
            sequenceNumber: m?.sequenceNumber,
            media: {
              track: 'inbound',
              chunk: m?.media.chunk,
              timestamp: m?.media.timestamp,
              payload: m?.media.payload,
            },
            streamSid: caller.streamSid,
          }),
        );
      }
      const keys = maskKeys(Buffer.concat(side.raw));
      expect(keys.length).toBeGreaterThanOrEqual(texts.length);
      expect(keys.every((k) => k === 0)).toBe(zeroMask);
      await caller.close();
    }
  });

  it('streams silence between utterances when continuous', async () => {
    const { side } = await dial(true);
    await waitUntil(() => side.of('media').length >= 8);
    const audio = Buffer.concat(side.of('media').map((m) => Buffer.from(m.media.payload, 'base64')));
    expect(audio.every((b) => b === 0xff)).toBe(true);
  });

  it('is refused with a bad webhook or upgrade signature', async () => {
    const caller = new TwilioCaller({ baseUrl, publicBaseUrl: PUBLIC, authToken: TOKEN });
    callers.push(caller);
    expect((await caller.placeCall({ signature: 'bogus=' })).status).toBe(403);
    expect((await caller.placeCall({ signature: null })).status).toBe(400);
    const wrongToken = new TwilioCaller({ baseUrl, publicBaseUrl: PUBLIC, authToken: 'not-the-token' });
    callers.push(wrongToken);
    expect((await wrongToken.placeCall()).status).toBe(403);
    expect((await caller.placeCall()).status).toBe(200);
    await expect(caller.connect({ signature: 'bogus=' })).rejects.toThrow(/403/);
    expect(caller.upgradeStatus).toBe(403);
  });
});

describe('TwilioCaller playback emulation', () => {
  it('echoes each mark only once the audio before it has played', async () => {
    const { caller, side } = await dial();
    const sentAt = performance.now();
    side.sendAudio(400);
    side.ws.send(side.enc().mark('a'));
    side.sendAudio(200);
    side.ws.send(side.enc().mark('b'));
    await waitUntil(() => side.of('mark').length === 2);
    const echoes = side.frames.filter((f) => f.frame.event === 'mark');
    expect(side.of('mark').map((m) => m.mark.name)).toEqual(['a', 'b']);
    expect((echoes[0]?.at ?? 0) - sentAt).toBeGreaterThanOrEqual(395);
    expect((echoes[1]?.at ?? 0) - sentAt).toBeGreaterThanOrEqual(595);
    expect((echoes[1]?.at ?? 0) - sentAt).toBeLessThan(800);
    expect(caller.marksEchoed.every((m) => !m.cleared)).toBe(true);
    expect(caller.heardAudioMs).toBeCloseTo(600, 0);
    expect(caller.firstAudioAt).toBeGreaterThanOrEqual(sentAt);
  });

  it('on clear drops the buffer and echoes pending marks at once', async () => {
    const { caller, side } = await dial();
    side.sendAudio(1000);
    side.ws.send(side.enc().mark('x'));
    side.sendAudio(200);
    side.ws.send(side.enc().mark('y'));
    await new Promise((r) => setTimeout(r, 200));
    const clearAt = performance.now();
    side.ws.send(side.enc().clear());
    await waitUntil(() => side.of('mark').length === 2);
    const echoes = side.frames.filter((f) => f.frame.event === 'mark');
    expect(side.of('mark').map((m) => m.mark.name)).toEqual(['x', 'y']);
    expect((echoes[1]?.at ?? Infinity) - clearAt).toBeLessThan(100);
    expect(caller.marksEchoed.map((m) => m.cleared)).toEqual([true, true]);
    expect(caller.clears).toHaveLength(1);
    expect(caller.receivedAudioMs).toBe(1200);
    // Heard = what played between the first audio and the clear, not the 1.2 s received.
    const played = (caller.clears[0] ?? 0) - (caller.firstAudioAt ?? 0);
    expect(played).toBeGreaterThanOrEqual(190);
    expect(Math.abs(caller.heardAudioMs - played)).toBeLessThan(25);
    expect(caller.bufferedAudioMs).toBe(0);

    const dir = mkdtempSync(path.join(tmpdir(), 'bayline-caller-'));
    try {
      const file = path.join(dir, 'agent.wav');
      caller.saveWav(file);
      expect(existsSync(file)).toBe(true);
      const wav = readFileSync(file);
      expect(wav.readUInt16LE(20)).toBe(7);
      expect(wav.readUInt32LE(54)).toBe(caller.heardAudio().length);
      expect(Math.abs(caller.heardAudio().length / 8 - caller.heardAudioMs)).toBeLessThan(50);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('echoes a mark straight away when nothing is buffered', async () => {
    const { caller, side } = await dial();
    side.ws.send(side.enc().mark('now'));
    await caller.waitFor((c) => c.marksEchoed.length === 1, 500);
    expect(caller.marksEchoed[0]).toMatchObject({ name: 'now', cleared: false });
  });

  it('records what a real Twilio would flag as protocol errors', async () => {
    const { caller, side } = await dial();
    side.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    side.ws.send('{"event":"hello","streamSid":"' + side.enc().streamSid + '"}');
    side.ws.send('{"event":"media","streamSid":"MZother","media":{"payload":"/w=="}}');
    side.ws.send('not json');
    await caller.waitFor((c) => c.protocolErrors.length === 4, 1000);
    expect(caller.protocolErrors.map((e) => e.slice(0, 5))).toEqual(['31950', '31924', '31924', '31924']);
  });
});

describe('TwilioCaller controls', () => {
  it('sends dtmf, raw frames and stop, then closes', async () => {
    const { caller, side } = await dial();
    caller.dtmf('5');
    caller.sendRaw('{"event":');
    await caller.stop();
    await waitUntil(() => side.closed);
    expect(side.of('dtmf')[0]?.dtmf).toEqual({ track: 'inbound_track', digit: '5' });
    const bad = side.frames.find((f) => isFrameError(f.frame));
    expect(bad?.frame).toMatchObject({ event: 'invalid', code: 'bad_json' });
    expect(side.of('stop')[0]?.stop.callSid).toBe(caller.callSid);
    expect(side.frames[side.frames.length - 1]?.frame.event).toBe('stop');
    expect(caller.isOpen).toBe(false);
  });

  it('close() releases its ticker registration, timers and socket; pending speech resolves', async () => {
    const ticker = new FrameTicker();
    const { caller, side } = await dial(true, ticker);
    expect(ticker.size).toBe(1);
    side.sendAudio(2000);
    side.ws.send(side.enc().mark('late'));
    const speaking = caller.speak(Buffer.alloc(8000, 0x10));
    await caller.waitFor((c) => c.media.length > 0, 1000);
    await caller.close();
    await expect(speaking).resolves.toMatchObject({ label: 'audio' });
    expect(ticker.size).toBe(0);
    expect(caller.isOpen).toBe(false);
    expect(caller.pendingMarks).toEqual([]);
    await waitUntil(() => side.closed);
    ticker.close();
  });

  it('notices when the server closes the socket', async () => {
    const { caller, side } = await dial(true);
    side.ws.close(1000);
    await caller.waitFor((c) => c.closedAt !== undefined, 1000);
    expect(caller.closeCode).toBe(1000);
    expect(caller.isOpen).toBe(false);
  });
});
