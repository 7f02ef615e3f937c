import type { WebSocket } from 'ws';
import { CallAgent, type AgentTurn } from '../conversation/agent';
import { greetingText, PHRASES, UNKNOWN_DEALERSHIP_NAME } from '../conversation/phrases';
import { systemPrompt } from '../conversation/prompts';
import type { CustomerView } from '../customers';
import type { Logger } from '../platform/logger';
import { within } from '../platform/within';
import type { SttStream } from '../providers/types';
import {
  DEFAULT_FRAME_LIMITS,
  decodePayloadInto,
  isFrameError,
  OutboundEncoder,
  parseInboundFrame,
  type StartMessage,
} from './frames';
import { SpeechDetector, SpeechEvent } from './mulaw';
import { OutboundPacer } from './pacer';
import { sharedTicker } from './ticker';
import { transferTwiml } from './twiml';
import type { PreparedCall } from './call-registry';
import type { VoiceDeps } from './voice-deps';

let connectionSeq = 0;
const PACER_LEAD_MS = 180;
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
/** Inbound media frames are counted locally, added to the metric every second of audio and at the end. */
const FRAMES_PER_METRIC_FLUSH = 50;
/** Audio per outbound media message: half the messages (and write syscalls) of 20 ms ones. */
const OUTBOUND_MESSAGE_MS = 40;
/** The call lock's answer is awaited this long before the call goes on without it (≈ 1 ms when healthy). */
const LOCK_WAIT_MS = 250;

/**
 * One Twilio media stream: validates every frame, feeds caller audio to STT untouched and to the
 * barge-in detector, paces agent audio back, and writes the call record when it ends. A failure
 * here ends this call only.
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
  #stt: SttStream | null = null;
  /**
   * The caller's frames from the greeting's start until the transcription socket is open (at once
   * when ring time opened it; a handshake later on a claimed call; seconds while it is retried):
   * sent to it in order then, so words said meanwhile are heard. Null once sent or given up.
   */
  #heldForStt: { payload: string; bytes: number; quiet: boolean }[] | null = [];
  /** The speech-to-text socket ring time opened, ours to close once the call is taken. */
  #prewarmedStt: Promise<SttStream> | null = null;
  /** A transcription socket that gave up mid-call was replaced once; a second loss hands over. */
  #sttReplaced = false;
  #customer: CustomerView | null = null;
  #locked = false;
  #finished = false;
  /** When `start` arrived (performance.now): the greeting's latency runs to its first audio sent. */
  #startAt: number | null = null;
  #greetingTimed = false;
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
      this.#d.metrics.mediaFrames.inc({
        direction: 'inbound',
        result: frame.code === 'unknown_event' ? 'unknown' : 'invalid',
      });
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
    const stt = this.#stt;
    if (stt) forwardToStt(stt, payload, n, this.#detector.quiet, this.#frame);
    else if (this.#heldForStt && this.#heldForStt.length < MAX_HELD_FRAMES)
      this.#heldForStt.push({ payload, bytes: n, quiet: this.#detector.quiet });
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
    const prepared =
      this.#d.registry.take(callSid) ?? (await this.#claim(callSid)) ?? (await this.#prepareLate(callSid));
    this.#prewarmedStt = prepared.stt;
    this.#customer = prepared.customer;
    const encoder = new OutboundEncoder(frame.start.streamSid);
    const pacer = new OutboundPacer({
      encoder,
      // 180 ms ahead rides out a garbage-collection pause (the loadtest saw 10–77 ms) without an
      // audible gap; barge-in still cuts at once, since `clear` empties Twilio's buffer.
      leadMs: PACER_LEAD_MS,
      frameMs: OUTBOUND_MESSAGE_MS,
      // Ops see pacing as the load test does (0.16 µs an observation, against ~15 µs for the send).
      onFrame: (latenessMs) => this.#d.metrics.pacingLateness.observe(latenessMs / 1000),
      send: (json) => {
        if (this.#socket.readyState !== this.#socket.OPEN) return;
        this.#socket.send(json);
        if (!this.#greetingTimed && this.#startAt !== null && json.startsWith('{"event":"media"')) {
          this.#greetingTimed = true;
          this.#d.metrics.greeting.observe((performance.now() - this.#startAt) / 1000);
        }
      },
    });
    this.#pacer = pacer;
    // Served from memory once loaded; it fails only when Postgres has been down since this
    // instance started. Then there are no hours, services or bookings to offer: a person can help.
    const dealership = await this.#d.dealership().catch((err: unknown) => {
      this.#log.error({ err }, 'dealership facts unavailable; handing the caller to the desk');
      return null;
    });
    if (this.#finished) return;
    const agent = new CallAgent({
      callSid,
      log: this.#log,
      metrics: this.#d.metrics,
      llm: this.#d.llm,
      tts: this.#d.tts,
      phrases: this.#d.phrases,
      tools: this.#d.tools({
        callSid,
        callerPhone: prepared.fromE164,
        dealershipNumber: prepared.toE164,
        getCustomer: () => this.#customer,
        setCustomer: (c) => {
          this.#customer = c;
          void this.#d.sessions.update(callSid, { customerId: c.id }).catch(() => undefined);
        },
      }),
      systemPrompt: dealership ? systemPrompt(dealership, prepared.customer, new Date()) : '',
      output: {
        push: (audio) => pacer.push(audio),
        mark: (name) => pacer.mark(name),
        clear: () => {
          const r = pacer.clear();
          // Interrupted by speech (not a key): the contract bounds onset → clear at 1.5 s.
          const runMs = this.#detector.speechMs;
          if (runMs > 0 && !this.#runTimed) {
            this.#runTimed = true;
            this.#d.metrics.bargeInLatency.observe((runMs + performance.now() - this.#speechFrameAt) / 1000);
          }
          return { unplayed: [...r.droppedMarks, ...r.unplayedMarks] };
        },
      },
      control: {
        transfer: async () => {
          await this.#d.rest.updateCallTwiml(callSid, transferTwiml(this.#d.transferNumber));
        },
        hangup: async () => {
          try {
            await this.#d.rest.completeCall(callSid);
          } finally {
            // Closing our side of <Connect><Stream> (the answer's only verb) ends the call too: a
            // failed REST hang-up must not leave the caller in dead air.
            this.#socket.close(1000, 'call ended');
          }
        },
      },
      onTurn: (turn) => {
        this.#turns.push(turn);
        void this.#d.sessions.appendTurn(callSid, turn).catch(() => undefined);
      },
      onState: (state) => {
        void this.#d.sessions
          .update(callSid, { state, speaking: state === 'speaking' })
          .catch(() => undefined);
      },
    });
    this.#agent = agent;
    void this.#d.sessions
      .update(callSid, { streamSid: frame.start.streamSid, state: 'speaking', owner: this.#d.instanceId })
      .catch(() => undefined);
    if (!dealership) {
      this.#heldForStt = null;
      agent.handOff('dealership facts unavailable', PHRASES.handOffNoFacts);
      return;
    }
    agent.greet(prepared.greetingText, prepared.greetingAudio);
    const stt = await this.#openStt(callSid, prepared.stt);
    if (this.#finished) {
      await stt?.close();
      return;
    }
    if (!stt) {
      this.#heldForStt = null;
      // Nobody can understand this caller now: a person can. Better than a dropped call.
      agent.handOff('speech-to-text unreachable');
      return;
    }
    this.#adoptStt(stt, callSid, agent);
  }

  /** Listens to a transcription socket and sends it, in order, the caller's audio held meanwhile. */
  #adoptStt(stt: SttStream, callSid: string, agent: CallAgent): void {
    this.#stt = stt;
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
        if (e.fatal && this.#stt === stt) void this.#replaceStt(stt, callSid, agent);
      }
    });
    const held = this.#heldForStt ?? [];
    this.#heldForStt = null;
    for (const f of held) forwardToStt(stt, f.payload, f.bytes, f.quiet);
  }

  /**
   * The transcription socket gave up mid-call: nothing the caller says is understood any more. A
   * fresh socket is tried once, the caller's audio held for it meanwhile; when it will not open, or
   * is lost in turn, a person takes the call, as when speech-to-text is unreachable at the start.
   */
  async #replaceStt(lost: SttStream, callSid: string, agent: CallAgent): Promise<void> {
    this.#stt = null;
    void lost.close().catch(() => undefined);
    if (this.#finished) return;
    if (this.#sttReplaced) {
      this.#heldForStt = null;
      this.#log.error({ replaced: true }, 'speech-to-text lost again; handing the caller over');
      agent.handOff('speech-to-text lost');
      return;
    }
    this.#sttReplaced = true;
    this.#heldForStt = [];
    this.#log.warn('speech-to-text lost; opening a new socket');
    const stt = await this.#openStt(callSid, null, STT_REOPEN_GIVE_UP_MS);
    if (this.#finished) {
      await stt?.close().catch(() => undefined);
      return;
    }
    if (!stt) {
      this.#heldForStt = null;
      agent.handOff('speech-to-text lost');
      return;
    }
    this.#log.info('speech-to-text reopened');
    this.#adoptStt(stt, callSid, agent);
  }

  /**
   * The transcription socket: the one opened at ring time, or a new one. A failed open is retried
   * with backoff while the greeting plays (DTMF works throughout); null when speech-to-text stays
   * unreachable for `giveUpMs`.
   */
  async #openStt(
    callSid: string,
    prewarmed: Promise<SttStream> | null,
    giveUpMs = STT_OPEN_GIVE_UP_MS,
  ): Promise<SttStream | null> {
    const giveUpAt = Date.now() + giveUpMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await (attempt === 0 && prewarmed
          ? prewarmed
          : this.#d.stt.open({ signal: this.#lifetime.signal, callSid }));
      } catch (err) {
        if (this.#finished) return null;
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
        if (this.#finished) return null;
      }
    }
  }

  /** The ring was taken by another worker of this server: take over what it prepared. */
  async #claim(callSid: string): Promise<PreparedCall | null> {
    if (!this.#d.cluster) return null;
    const { result, prepared } = await this.#d.cluster.claim(callSid);
    this.#d.metrics.callHandoffs.inc({ result });
    // The call already counts here: take() registered it before the claim.
    if (prepared) this.#d.phrases.adopt(prepared.greetingText, prepared.greetingAudio);
    return prepared;
  }

  /** The stream reached an instance that did not see the ring: rebuild what ring time would have. */
  async #prepareLate(callSid: string): Promise<PreparedCall> {
    const session = await this.#d.sessions.get(callSid).catch(() => null);
    let customer: CustomerView | null = null;
    // The session holds no phone number (no PII in Redis); a known caller is found by id.
    if (session?.customerId)
      customer = await this.#d.customers.lookupById(session.customerId).catch(() => null);
    const name = await this.#d.dealership().then(
      (d) => d.name,
      () => UNKNOWN_DEALERSHIP_NAME,
    );
    const text = greetingText(name, customer?.firstName ?? null);
    return {
      callSid,
      fromE164: null,
      toE164: null,
      customer,
      greetingText: text,
      greetingAudio: this.#d.phrases.get(text),
      stt: null,
      admittedAt: Date.now(),
    };
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
    await this.#stt?.close().catch(() => undefined);
    // Opened at ring time and not (yet) adopted as #stt: nobody else closes it now.
    void this.#prewarmedStt?.then((s) => s.close()).catch(() => undefined);
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
