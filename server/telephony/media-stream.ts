import type { WebSocket } from 'ws';
import type { AgentTurn, CallAgent } from '../conversation/agent';
import { PHRASES } from '../conversation/phrases';
import type { CustomerView } from '../customers';
import type { Logger } from '../platform/logger';
import { within } from '../platform/within';
import {
  DEFAULT_FRAME_LIMITS,
  decodePayloadInto,
  isFrameError,
  parseInboundFrame,
  type StartMessage,
} from './frames';
import { SpeechDetector, SpeechEvent } from './mulaw';
import type { OutboundPacer } from './pacer';
import { sharedTicker } from './ticker';
import { createPacer, createStreamAgent } from './agent-wiring';
import { claimPrepared, prepareLate } from './call-takeover';
import { SttLink } from './stt-link';
import type { VoiceDeps } from './voice-deps';

let connectionSeq = 0;
/** Inbound media frames are counted locally, added to the metric every second of audio and at the end. */
const FRAMES_PER_METRIC_FLUSH = 50;
/** The call lock's answer is awaited this long before the call goes on without it (≈ 1 ms when healthy). */
const LOCK_WAIT_MS = 250;

/**
 * One Twilio media stream: validates every frame, feeds caller audio to STT untouched (stt-link.ts)
 * and to the barge-in detector, paces agent audio back (agent-wiring.ts), and writes the call
 * record when it ends. A failure here ends this call only.
 */
export class MediaStreamConnection {
  readonly #socket: WebSocket;
  readonly #d: VoiceDeps;
  readonly #connId = `${process.pid}-${++connectionSeq}`;
  #log: Logger;
  #callSid: string | null = null;
  #streamSid: string | null = null;
  #starting = false;
  #agent: CallAgent | null = null;
  #pacer: OutboundPacer | null = null;
  /** The call's speech-to-text socket: set once the call is taken, before the agent exists. */
  #stt: SttLink | null = null;
  #customer: CustomerView | null = null;
  #locked = false;
  #finished = false;
  /** When `start` arrived (performance.now): the greeting's latency runs to its first audio sent. */
  #startAt: number | null = null;
  /**
   * When the latest frame of the caller's current run of speech arrived. Barge-in latency is the
   * run's audio so far plus the time since that frame: onset on the caller's own audio timeline, so
   * a sender that falls behind (a loaded load generator) does not count as ours. Once per run.
   */
  #speechFrameAt = 0;
  #runTimed = false;
  readonly #detector = new SpeechDetector();
  /** The pacers' ticker (the shared one, as the pacer is given none), polled between messages. */
  readonly #ticker = sharedTicker();
  // One decode buffer per call, reused for every frame: room for the largest payload frames.ts admits.
  readonly #frame = Buffer.allocUnsafe(DEFAULT_FRAME_LIMITS.maxPayloadBytes);
  readonly #counters: Record<'ok' | 'early' | 'invalid' | 'unknown', { inc(n?: number): void }>;
  /** Media frames not yet added to the metric: a label-hashing inc() per frame cost ~2 % of the server. */
  #okFrames = 0;
  readonly #lifetime = new AbortController();
  readonly #turns: AgentTurn[] = [];

  constructor(socket: WebSocket, deps: VoiceDeps) {
    this.#socket = socket;
    this.#d = deps;
    this.#log = deps.log.child({ conn: this.#connId });
    // Label lookups hash their labels; bind them once per call, not once per frame.
    const frames = deps.metrics.mediaFrames;
    this.#counters = {
      ok: frames.labels('inbound', 'ok'),
      early: frames.labels('inbound', 'early'),
      invalid: frames.labels('inbound', 'invalid'),
      unknown: frames.labels('inbound', 'unknown'),
    };
    socket.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    socket.on('close', () => void this.finish('socket closed'));
    socket.on('error', (err) => {
      this.#log.warn({ err }, 'media socket error');
      void this.finish('socket error');
    });
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    // Outbound frames due now go before this message's work, not after the whole batch of reads.
    this.#ticker.poll();
    const frame = parseInboundFrame(data, isBinary);
    if (isFrameError(frame)) {
      this.#counters[frame.code === 'unknown_event' ? 'unknown' : 'invalid'].inc();
      // Counted always; logged at debug so a flood of garbage cannot flood the logs.
      this.#log.debug({ code: frame.code }, 'media frame rejected');
      return;
    }
    switch (frame.event) {
      case 'media':
        return this.#onMedia(frame.media.payload);
      case 'start':
        this.#counters.ok.inc();
        this.#startAt ??= performance.now();
        void this.#onStart(frame).catch((err: unknown) => {
          this.#log.error({ err }, 'stream start failed');
          this.#socket.close(1011, 'start failed');
        });
        return;
      case 'mark':
        this.#agent?.onMark(frame.mark.name);
        return;
      case 'dtmf':
        this.#agent?.onDtmf(frame.dtmf.digit);
        return;
      case 'stop':
        void this.finish('stop');
        return;
      case 'connected':
        return;
    }
  }

  #onMedia(payload: string): void {
    if (!this.#agent) {
      this.#counters.early.inc();
      return;
    }
    if (++this.#okFrames === FRAMES_PER_METRIC_FLUSH) this.#flushFrameCount();
    const n = decodePayloadInto(payload, this.#frame);
    const event = this.#detector.push(this.#frame, 0, n);
    if (this.#detector.speechMs > 0) this.#speechFrameAt = performance.now();
    else if (event === SpeechEvent.End) this.#runTimed = false;
    // The link is made before the agent, so it is there by now.
    this.#stt?.push(payload, n, this.#detector.quiet, this.#frame);
    if (event === SpeechEvent.Sustained) this.#agent.onSustainedSpeech();
  }

  async #onStart(frame: StartMessage): Promise<void> {
    if (this.#starting) return;
    this.#starting = true;
    const callSid = frame.start.callSid;
    this.#callSid = callSid;
    this.#streamSid = frame.start.streamSid;
    this.#log = this.#d.log.child({ callSid, conn: this.#connId });
    // Bounded: a Redis that is connected but silent must not hold up the greeting either.
    const gotLock = await within(
      this.#d.sessions.acquireLock(callSid, this.#connId, this.#d.sessionTtlMs),
      LOCK_WAIT_MS,
    ).catch((err: unknown) => {
      // Redis down must not drop a live caller: proceed without the cross-instance guard, but
      // still refuse a second stream for a call this instance is already streaming. A lock granted
      // after the wait is ours all the same, and released with the call (same owner).
      this.#log.warn({ err }, 'call lock unavailable; continuing');
      return !this.#d.registry.isStreaming(callSid);
    });
    if (this.#finished) {
      // `stop` came while the lock was being taken, and finish() left the call alone. With the lock,
      // ending it is ours to do (taking the slot now would hold it for good); without, the call is
      // another stream's, live, and not to be touched.
      if (gotLock) {
        this.#locked = true;
        await this.#endCall(callSid, 'stopped while starting');
      }
      return;
    }
    if (!gotLock) {
      this.#log.warn('duplicate media stream refused');
      this.#callSid = null;
      this.#socket.close(1008, 'duplicate stream');
      return;
    }
    this.#locked = true;
    // Rung here, by another worker of this server, or by nobody we can ask (call-takeover.ts).
    const prepared =
      this.#d.registry.take(callSid) ??
      (await claimPrepared(this.#d, callSid)) ??
      (await prepareLate(this.#d, callSid));
    const stt = new SttLink({
      deps: this.#d,
      log: this.#log,
      signal: this.#lifetime.signal,
      callSid,
      prewarmed: prepared.stt,
    });
    this.#stt = stt;
    this.#customer = prepared.customer;
    const pacer = createPacer(this.#socket, frame.start.streamSid, this.#d.metrics, this.#startAt);
    this.#pacer = pacer;
    // Served from memory once loaded; it fails only when Postgres has been down since this
    // instance started. Then there are no hours, services or bookings to offer: a person can help.
    const dealership = await this.#d.dealership().catch((err: unknown) => {
      this.#log.error({ err }, 'dealership facts unavailable; handing the caller to the desk');
      return null;
    });
    if (this.#finished) return;
    const agent = createStreamAgent({
      deps: this.#d,
      log: this.#log,
      callSid,
      prepared,
      dealership,
      socket: this.#socket,
      pacer,
      turns: this.#turns,
      getCustomer: () => this.#customer,
      setCustomer: (c) => {
        this.#customer = c;
      },
      onClear: () => this.#timeBargeIn(),
    });
    this.#agent = agent;
    void this.#d.sessions
      .update(callSid, { streamSid: frame.start.streamSid, state: 'speaking', owner: this.#d.instanceId })
      .catch(() => undefined);
    if (!dealership) {
      stt.stopHolding();
      agent.handOff('dealership facts unavailable', PHRASES.handOffNoFacts);
      return;
    }
    agent.greet(prepared.greetingText, prepared.greetingAudio);
    await stt.connect(agent);
  }

  /** The agent was cut off: by speech (not a key), the contract bounds onset → clear at 1.5 s. */
  #timeBargeIn(): void {
    const runMs = this.#detector.speechMs;
    if (runMs > 0 && !this.#runTimed) {
      this.#runTimed = true;
      this.#d.metrics.bargeInLatency.observe((runMs + performance.now() - this.#speechFrameAt) / 1000);
    }
  }

  #flushFrameCount(): void {
    if (this.#okFrames > 0) this.#counters.ok.inc(this.#okFrames);
    this.#okFrames = 0;
  }

  /** Ends the call once: stops every stream and timer, writes the record, frees the session. */
  async finish(reason: string): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    this.#flushFrameCount();
    const callSid = this.#callSid;
    this.#agent?.stop();
    // Also the speech-to-text link's signal: no open or retry outlives the call.
    this.#lifetime.abort();
    this.#pacer?.close();
    if (this.#socket.readyState === this.#socket.OPEN) this.#socket.close(1000, 'stream stopped');
    // Without the call's lock this socket never owned the call (a duplicate, or still starting:
    // #onStart ends the call if the lock comes).
    if (callSid && this.#locked) await this.#endCall(callSid, reason);
  }

  /** Frees what the call holds here and writes its record; only the lock holder does this. */
  async #endCall(callSid: string, reason: string): Promise<void> {
    this.#d.registry.release(callSid);
    await this.#stt?.close();
    this.#log.info({ reason, turns: this.#turns.length, outcome: this.#agent?.finalOutcome() }, 'call ended');
    try {
      await this.#d.calls.finish({
        callSid,
        streamSid: this.#streamSid,
        outcome: this.#agent?.finalOutcome() ?? 'abandoned',
        customerId: this.#customer?.id ?? null,
        turns: this.#turns,
        latency: this.#agent?.latency ?? [],
      });
    } catch (err) {
      this.#log.error({ err }, 'call record not written');
    }
    await this.#d.sessions.releaseLock(callSid, this.#connId).catch(() => undefined);
    await this.#d.sessions.delete(callSid).catch(() => undefined);
  }
}
