/**
 * One call's speech-to-text socket, from the one ring time opened to the end of the call. A failed
 * open is retried with backoff while the greeting plays; a socket lost mid-call is replaced once;
 * when neither works, a person takes the call. The caller's audio is held while no socket is open
 * and sent to the next one in order, so words said meanwhile are still heard. STT gets Twilio's
 * bytes untouched: no transcoding on the per-frame path.
 */
import type { CallAgent } from '../conversation/agent';
import type { Logger } from '../platform/logger';
import type { SttStream } from '../providers/types';
import type { VoiceDeps } from './voice-deps';

/** A transcription socket that will not open is retried after these delays, for up to 6 s in all. */
const STT_OPEN_BACKOFF_MS = [200, 500, 1000, 2000];
const STT_OPEN_GIVE_UP_MS = 6000;
/**
 * A socket lost mid-call has already spent its own reconnect backoff (≈ 12 s) while the caller went
 * unheard: one fresh open is tried, without further backoff, before a person takes the call.
 */
const STT_REOPEN_GIVE_UP_MS = 0;
/** Caller audio held while the transcription socket opens: as long as its retries last (300 frames). */
const MAX_HELD_FRAMES = STT_OPEN_GIVE_UP_MS / 20;

/** What the socket's events drive, and who takes the caller when nobody can understand them. */
export type SttListener = Pick<CallAgent, 'onSpeechStarted' | 'onSpeechStopped' | 'onTranscript' | 'handOff'>;

export interface SttLinkOptions {
  deps: Pick<VoiceDeps, 'stt' | 'metrics'>;
  log: Logger;
  /** The call's lifetime: aborted when the call ends, which ends every open and retry. */
  signal: AbortSignal;
  callSid: string;
  /** The socket ring time opened, if it did; ours to close from now on. */
  prewarmed: Promise<SttStream> | null;
}

export class SttLink {
  readonly #d: Pick<VoiceDeps, 'stt' | 'metrics'>;
  readonly #log: Logger;
  readonly #signal: AbortSignal;
  readonly #callSid: string;
  /** The socket the caller's audio goes to; null while it opens, reopens, or after giving up. */
  #stream: SttStream | null = null;
  /**
   * The caller's frames from the greeting's start until the transcription socket is open (at once
   * when ring time opened it; a handshake later on a claimed call; seconds while it is retried):
   * sent to it in order then, so words said meanwhile are heard. Null once sent or given up.
   */
  #held: { payload: string; bytes: number; quiet: boolean }[] | null = [];
  /** The speech-to-text socket ring time opened, ours to close once the call is taken. */
  readonly #prewarmed: Promise<SttStream> | null;
  /** A transcription socket that gave up mid-call was replaced once; a second loss hands over. */
  #replaced = false;

  constructor(opts: SttLinkOptions) {
    this.#d = opts.deps;
    this.#log = opts.log;
    this.#signal = opts.signal;
    this.#callSid = opts.callSid;
    this.#prewarmed = opts.prewarmed;
  }

  /** One inbound frame (`decoded`: its mu-law bytes, reused by the caller for the next frame). */
  push(payload: string, bytes: number, quiet: boolean, decoded: Buffer): void {
    const stt = this.#stream;
    if (stt) forwardToStt(stt, payload, bytes, quiet, decoded);
    else if (this.#held && this.#held.length < MAX_HELD_FRAMES) this.#held.push({ payload, bytes, quiet });
  }

  /** The caller goes to a person without speech-to-text: nothing will take the held audio. */
  stopHolding(): void {
    this.#held = null;
  }

  /**
   * Called once the greeting plays: opens the socket (the ring-time one, or a new one, retried)
   * and listens to it. Nobody can understand the caller when it stays unreachable: a person can.
   */
  async connect(agent: SttListener): Promise<void> {
    await this.#use(await this.#open(this.#prewarmed), agent, 'speech-to-text unreachable');
  }

  /**
   * What #open gave: closed when the call ended meanwhile, the caller handed to a person (for
   * `noSocket`) when there is none, else listened to. True when adopted.
   */
  async #use(stt: SttStream | null, agent: SttListener, noSocket: string): Promise<boolean> {
    if (this.#signal.aborted) {
      // The call ended while the socket opened: a failed close is nothing to report.
      await stt?.close().catch(() => undefined);
      return false;
    }
    if (!stt) {
      this.#held = null;
      // Nobody can understand this caller now: a person can. Better than a dropped call.
      agent.handOff(noSocket);
      return false;
    }
    this.#adopt(stt, agent);
    return true;
  }

  /** The call has ended: closes the socket in use and the one ring time opened. */
  async close(): Promise<void> {
    await this.#stream?.close().catch(() => undefined);
    // Opened at ring time and not (yet) adopted as #stream: nobody else closes it now.
    void this.#prewarmed?.then((s) => s.close()).catch(() => undefined);
  }

  /** Listens to a transcription socket and sends it, in order, the caller's audio held meanwhile. */
  #adopt(stt: SttStream, agent: SttListener): void {
    this.#stream = stt;
    stt.onEvent((e) => {
      this.#log.debug({ type: e.type }, 'stt event');
      if (e.type === 'speech_started') agent.onSpeechStarted();
      else if (e.type === 'speech_stopped') agent.onSpeechStopped();
      else if (e.type === 'final') agent.onTranscript(e.text);
      else if (e.type === 'error') {
        // `stt_lost`: the socket gave up reconnecting, which ops must tell apart from a blip.
        const kind = e.fatal ? 'stt_lost' : 'stt';
        this.#d.metrics.providerErrors.inc({ provider: this.#d.stt.name, kind });
        this.#log.warn({ err: { message: e.error.message }, fatal: e.fatal }, 'speech-to-text error');
        if (e.fatal && this.#stream === stt) void this.#replace(stt, agent);
      }
    });
    const held = this.#held ?? [];
    this.#held = null;
    for (const f of held) forwardToStt(stt, f.payload, f.bytes, f.quiet);
  }

  /**
   * The transcription socket gave up mid-call: nothing the caller says is understood any more. A
   * fresh socket is tried once, the caller's audio held for it meanwhile; when it will not open, or
   * is lost in turn, a person takes the call, as when speech-to-text is unreachable at the start.
   */
  async #replace(lost: SttStream, agent: SttListener): Promise<void> {
    this.#stream = null;
    void lost.close().catch(() => undefined);
    if (this.#signal.aborted) return;
    if (this.#replaced) {
      this.#held = null;
      this.#log.error({ replaced: true }, 'speech-to-text lost again; handing the caller over');
      agent.handOff('speech-to-text lost');
      return;
    }
    this.#replaced = true;
    this.#held = [];
    this.#log.warn('speech-to-text lost; opening a new socket');
    const stt = await this.#open(null, STT_REOPEN_GIVE_UP_MS);
    if (await this.#use(stt, agent, 'speech-to-text lost')) this.#log.info('speech-to-text reopened');
  }

  /**
   * The transcription socket: the one opened at ring time, or a new one. A failed open is retried
   * with backoff while the greeting plays (DTMF works throughout); null when speech-to-text stays
   * unreachable for `giveUpMs`.
   */
  async #open(
    prewarmed: Promise<SttStream> | null,
    giveUpMs = STT_OPEN_GIVE_UP_MS,
  ): Promise<SttStream | null> {
    const giveUpAt = Date.now() + giveUpMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await (attempt === 0 && prewarmed
          ? prewarmed
          : this.#d.stt.open({ signal: this.#signal, callSid: this.#callSid }));
      } catch (err) {
        if (this.#signal.aborted) return null;
        this.#d.metrics.providerErrors.inc({ provider: this.#d.stt.name, kind: 'stt' });
        const delay = STT_OPEN_BACKOFF_MS[Math.min(attempt, STT_OPEN_BACKOFF_MS.length - 1)] as number;
        if (Date.now() + delay >= giveUpAt) {
          this.#log.error(
            { err, attempts: attempt + 1 },
            'speech-to-text unreachable; handing the caller over',
          );
          return null;
        }
        this.#log.warn({ err, attempt: attempt + 1 }, 'speech-to-text failed to open; retrying');
        await new Promise((r) => setTimeout(r, delay).unref());
        if (this.#signal.aborted) return null;
      }
    }
  }
}

/**
 * STT gets Twilio's bytes untouched: the base64 as it came when the adapter takes it, else the
 * mu-law bytes (`decoded` when the caller has them at hand, decoded here when not).
 */
function forwardToStt(
  stt: SttStream,
  payload: string,
  bytes: number,
  quiet: boolean,
  decoded?: Buffer,
): void {
  if (stt.pushBase64) stt.pushBase64(payload, bytes, quiet);
  else stt.push(decoded ? Buffer.from(decoded.subarray(0, bytes)) : Buffer.from(payload, 'base64'));
}
