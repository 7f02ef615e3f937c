/**
 * Behaves like Twilio toward our server: a signed voice webhook, the TwiML's `<Stream>` opened with
 * a signed upgrade, `connected` + `start`, then a continuous 20 ms inbound stream (silence between
 * utterances, as a real call has) and emulated playback of whatever the server sends back.
 * Used by e2e tests, the call simulator and the load test.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { FRAME_BYTES, FRAME_MS, MULAW_SILENCE, mulawToWav } from '../../server/telephony/mulaw';
import { signRequest } from '../../server/telephony/signature';
import { sharedTicker, type FrameTicker } from '../../server/telephony/ticker';
import { DEFAULT_FIXTURES_DIR, loadFixture } from './audio-fixtures';
import { CallerMic, type OnFrameSent, type Utterance } from './caller-mic';
import { classifyServerMessage } from './twilio-inbound';
import { TwilioPlayback } from './twilio-playback';
import { postSignedWebhook, socketUrl, type RingResult } from './twilio-webhook';
import { waitForEvent } from './wait';

export type { RingResult } from './twilio-webhook';
export type { Utterance } from './caller-mic';

export interface TwilioCallerOptions {
  /** Where requests really go, e.g. http://127.0.0.1:PORT. */
  readonly baseUrl: string;
  /** The URL Twilio is configured with (what gets signed); defaults to baseUrl. */
  readonly publicBaseUrl?: string;
  readonly authToken: string;
  readonly accountSid?: string;
  readonly callSid?: string;
  readonly from?: string;
  readonly to?: string;
  readonly voicePath?: string;
  /** Extra or overriding webhook form fields. */
  readonly params?: Readonly<Record<string, string>>;
  readonly fixturesDir?: string;
  /** Send silence frames whenever not speaking (real Twilio streams the line continuously). */
  readonly continuous?: boolean;
  readonly ticker?: FrameTicker;
  /**
   * Mask every frame with key 0 (RFC 6455 asks clients for unpredictable keys; a server unmasks
   * the same either way). The load test's callers then skip a copy and an XOR per frame.
   */
  readonly zeroMask?: boolean;
  /** Called after each inbound frame with how late it went out on its media timeline (ms). */
  readonly onFrameSent?: OnFrameSent;
}

export interface ReceivedMedia {
  readonly at: number;
  readonly bytes: number;
}
export interface MarkEcho {
  readonly name: string;
  readonly at: number;
  readonly cleared: boolean;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

export class TwilioCaller {
  readonly callSid: string;
  readonly accountSid: string;
  readonly streamSid = `MZ${hex(16)}`;
  readonly from: string;
  readonly to: string;
  /** Everything the server sent, as recorded on arrival. */
  readonly media: ReceivedMedia[] = [];
  readonly marksReceived: { name: string; at: number }[] = [];
  readonly marksEchoed: MarkEcho[] = [];
  readonly clears: number[] = [];
  /** What a real Twilio would flag (31950, 31924…): binary frames, unknown events, bad payloads. */
  readonly protocolErrors: string[] = [];
  readonly dtmfSent: { digit: string; at: number }[] = [];
  ring: RingResult | undefined;
  startSentAt: number | undefined;
  firstAudioAt: number | undefined;
  closedAt: number | undefined;
  closeCode: number | undefined;
  upgradeStatus: number | undefined;

  private readonly opts: TwilioCallerOptions;
  private readonly ticker: FrameTicker;
  private readonly events = new EventEmitter();
  private readonly playback: TwilioPlayback;
  private ws: WebSocket | undefined;
  private readonly mic: CallerMic;
  private seq = 0;
  private stopped = false;

  constructor(opts: TwilioCallerOptions) {
    this.opts = opts;
    this.ticker = opts.ticker ?? sharedTicker();
    this.callSid = opts.callSid ?? `CA${hex(16)}`;
    this.accountSid = opts.accountSid ?? `AC${hex(16)}`;
    this.from = opts.from ?? '+13125550142';
    this.to = opts.to ?? '+13125550000';
    this.events.setMaxListeners(0);
    this.playback = new TwilioPlayback({
      clock: this.ticker.clock,
      echo: (name, cleared) => this.echoMark(name, cleared),
    });
    // What JSON.stringify writes for Twilio's media message (digits, base64 and a hex SID need no
    // escaping), without building and walking an object 50 times a second per caller.
    this.mic = new CallerMic(
      this.ticker,
      opts.continuous ?? true,
      (payload, chunk, timestamp) =>
        this.sendText(
          `{"event":"media","sequenceNumber":"${this.nextSeq()}","media":{"track":"inbound","chunk":"${chunk}","timestamp":"${timestamp}","payload":"${payload}"},"streamSid":"${this.streamSid}"}`,
        ),
      opts.onFrameSent,
    );
  }

  /** Ring, then open the stream the TwiML names and send connected + start. */
  static async dial(opts: TwilioCallerOptions): Promise<TwilioCaller> {
    const caller = new TwilioCaller(opts);
    const ring = await caller.placeCall();
    if (ring.streamUrl === undefined)
      throw new Error(`voice webhook answered ${ring.status} without <Stream>: ${ring.body}`);
    await caller.connect();
    return caller;
  }

  now(): number {
    return this.ticker.clock.now();
  }

  /** POSTs the signed voice webhook. `signature: null` omits the header; a string overrides it. */
  async placeCall(
    opts: { signature?: string | null; params?: Record<string, string> } = {},
  ): Promise<RingResult> {
    const params: Record<string, string> = {
      CallSid: this.callSid,
      AccountSid: this.accountSid,
      From: this.from,
      To: this.to,
      Caller: this.from,
      Called: this.to,
      CallStatus: 'ringing',
      Direction: 'inbound',
      ApiVersion: '2010-04-01',
      ...this.opts.params,
      ...opts.params,
    };
    this.ring = await postSignedWebhook({
      baseUrl: this.opts.baseUrl,
      publicBaseUrl: this.opts.publicBaseUrl ?? this.opts.baseUrl,
      path: this.opts.voicePath ?? '/twilio/voice',
      authToken: this.opts.authToken,
      params,
      signature: opts.signature,
    });
    return this.ring;
  }

  /** Opens the media socket (signed like Twilio signs it) and sends connected + start. */
  async connect(opts: { streamUrl?: string; signature?: string | null } = {}): Promise<void> {
    const streamUrl = opts.streamUrl ?? this.ring?.streamUrl;
    if (streamUrl === undefined) throw new Error('no stream URL: call placeCall() first or pass one');
    const headers: Record<string, string> = {};
    const signature =
      opts.signature === undefined ? signRequest(this.opts.authToken, streamUrl, {}) : opts.signature;
    if (signature !== null) headers['x-twilio-signature'] = signature;
    const ws = new WebSocket(socketUrl(this.opts.baseUrl, streamUrl), {
      headers,
      ...(this.opts.zeroMask ? { generateMask: (mask: Buffer) => void mask.fill(0) } : {}),
    });
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => {
        this.upgradeStatus = res.statusCode;
        res.resume();
        reject(new Error(`upgrade refused: ${res.statusCode ?? '?'}`));
        // With this listener ws leaves the request open; terminate aborts it (its error is ignored).
        ws.terminate();
      });
      ws.once('error', reject);
    });
    this.upgradeStatus = 101;
    ws.on('error', (err) => this.protocolErrors.push(`socket error: ${err.message}`));
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', (code) => this.onClose(code));

    this.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.sendJson({
      event: 'start',
      sequenceNumber: this.nextSeq(),
      start: {
        accountSid: this.accountSid,
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ['inbound'],
        customParameters: this.ring?.parameters ?? {},
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
      streamSid: this.streamSid,
    });
    this.startSentAt = this.now();
    this.mic.start();
  }

  /** Speaks a fixture (by file name, `.ulaw` optional) or raw mu-law in real time; resolves after the last frame. */
  speak(audio: string | Buffer, label?: string): Promise<Utterance> {
    if (typeof audio === 'string') {
      return this.mic.speak(
        loadFixture(audio, this.opts.fixturesDir ?? DEFAULT_FIXTURES_DIR),
        label ?? audio,
      );
    }
    return this.mic.speak(audio, label ?? 'audio');
  }

  get utterances(): readonly Utterance[] {
    return this.mic.utterances;
  }

  /** Sends `ms` of explicit silence frames (useful with `continuous: false`). */
  async silence(ms: number): Promise<void> {
    await this.speak(Buffer.alloc(Math.ceil(ms / FRAME_MS) * FRAME_BYTES, MULAW_SILENCE), 'silence');
  }

  dtmf(digit: string): void {
    this.sendJson({
      event: 'dtmf',
      streamSid: this.streamSid,
      sequenceNumber: this.nextSeq(),
      dtmf: { track: 'inbound_track', digit },
    });
    this.dtmfSent.push({ digit, at: this.now() });
  }

  /** For malformed-frame tests: strings go as text frames, Buffers as binary unless `binary: false`. */
  sendRaw(data: string | Buffer, binary = typeof data !== 'string'): void {
    this.ws?.send(data, { binary });
  }

  /** Hang up the way Twilio does: `stop`, then close the socket. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.mic.stop();
    this.sendJson({
      event: 'stop',
      sequenceNumber: this.nextSeq(),
      streamSid: this.streamSid,
      stop: { accountSid: this.accountSid, callSid: this.callSid },
    });
    await this.close();
  }

  /** Releases every timer and the socket; pending speak() promises resolve. Safe to call twice. */
  async close(): Promise<void> {
    this.stopped = true;
    this.mic.stop();
    this.playback.close();
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      else ws.terminate();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1000);
        timer.unref();
      });
      await Promise.race([closed, timeout]);
      clearTimeout(timer);
      // No-op once closed; otherwise the server never answered the close handshake.
      ws.terminate();
    }
    this.events.emit('update');
  }

  get heardAudioMs(): number {
    return this.playback.heardMs;
  }

  get receivedAudioMs(): number {
    return this.playback.receivedMs;
  }

  get bufferedAudioMs(): number {
    return this.playback.bufferedMs;
  }

  get pendingMarks(): string[] {
    return this.playback.pendingMarks;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Arrival time of the first media message after `t`. */
  firstAudioAfter(t: number): number | undefined {
    return this.media.find((m) => m.at > t)?.at;
  }

  /** Resolves once `predicate` holds (checked on every message, echo and close); rejects after `timeoutMs`. */
  waitFor(predicate: (caller: this) => boolean, timeoutMs = 5000): Promise<void> {
    return waitForEvent(this.events, 'update', () => predicate(this), timeoutMs);
  }

  /** The agent's audio as heard (cleared audio removed), as a mu-law WAV. */
  saveWav(file: string): void {
    writeFileSync(file, mulawToWav(this.playback.audio()));
  }

  heardAudio(): Buffer {
    return this.playback.audio();
  }

  private nextSeq(): string {
    this.seq++;
    return String(this.seq);
  }

  private sendJson(msg: object): void {
    this.sendText(JSON.stringify(msg));
  }

  private sendText(text: string): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  private echoMark(name: string, cleared: boolean): void {
    this.marksEchoed.push({ name, at: this.now(), cleared });
    this.sendJson({
      event: 'mark',
      sequenceNumber: this.nextSeq(),
      streamSid: this.streamSid,
      mark: { name },
    });
    this.events.emit('update');
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const at = this.now();
    const msg = classifyServerMessage(data, isBinary, this.streamSid);
    switch (msg.kind) {
      case 'media':
        this.firstAudioAt ??= at;
        this.media.push({ at, bytes: msg.audio.length });
        this.playback.onMedia(msg.audio);
        break;
      case 'mark':
        this.marksReceived.push({ name: msg.name, at });
        this.playback.onMark(msg.name);
        break;
      case 'clear':
        this.clears.push(at);
        this.playback.onClear();
        break;
      case 'error':
        this.protocolErrors.push(msg.error);
    }
    this.events.emit('update');
  }

  private onClose(code: number): void {
    this.closedAt = this.now();
    this.closeCode = code;
    this.stopped = true;
    this.mic.stop();
    this.playback.close();
    this.events.emit('update');
  }
}
