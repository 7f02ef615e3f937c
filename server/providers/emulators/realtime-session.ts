/**
 * One emulated transcription session: validates the session update (PROTOCOLS.md §2.4), runs
 * server VAD on the mu-law energy of 20 ms frames, and after each turn emits committed, delta and
 * completed events with a transcript from the fixture index. Times are ms of audio received.
 */
import { FRAME_BYTES, FixtureMatcher, frameRms, type FixtureIndex } from './fixture-index';

export interface SessionRecord {
  id: string;
  /** `transcription` when the URL asked for it (`?intent=transcription`). */
  intent: string | null;
  /** `beta` when the client sent `OpenAI-Beta: realtime=v1`. */
  api: 'ga' | 'beta';
  /** The last accepted `session` object from the client's update, as sent. */
  config: Record<string, unknown> | undefined;
  /** Bytes appended, after base64 decoding. */
  receivedBytes: number;
  /** The appended audio itself, up to the emulator's `keepAudioBytes` (`Buffer.concat(chunks)`). */
  chunks: Buffer[];
  transcripts: string[];
  closed: boolean;
  /** The WebSocket extensions the client offered in its handshake (none: undefined). */
  offeredExtensions: string | undefined;
}

export interface SessionHooks {
  index: FixtureIndex;
  send: (event: Record<string, unknown>) => void;
  /** Scripted transcripts take precedence over recognition. */
  nextScripted: () => string | undefined;
  transcriptDelayMs: () => number;
  unknownTranscript: string;
  /** How much appended audio each session keeps for inspection. */
  keepAudioBytes: number;
  schedule: (ms: number, fn: () => void) => void;
}

/** Two voiced frames in a row (40 ms) start a turn: a click is not speech. */
const START_FRAMES = 2;
/** RMS of decoded 16-bit samples at the default threshold 0.5; fixtures' silence sits near 5. */
const RMS_PER_THRESHOLD = 400;

let sessionSeq = 0;

export class TranscriptionSession {
  readonly record: SessionRecord;
  readonly #hooks: SessionHooks;
  readonly #matcher: FixtureMatcher;
  #vad = { threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500, enabled: true };
  #remainder = Buffer.alloc(0);
  #frameNo = 0;
  #voicedRun = 0;
  #silentMs = 0;
  #inSpeech = false;
  #itemSeq = 0;
  #itemId = '';
  #previousItemId: string | null = null;
  #eventSeq = 0;

  constructor(intent: string | null, api: 'ga' | 'beta', hooks: SessionHooks) {
    this.#hooks = hooks;
    this.#matcher = new FixtureMatcher(hooks.index);
    const id = `sess_emu${++sessionSeq}`;
    this.record = {
      id,
      intent,
      api,
      config: undefined,
      receivedBytes: 0,
      chunks: [],
      transcripts: [],
      closed: false,
      offeredExtensions: undefined,
    };
    this.#send({
      type: api === 'beta' ? 'transcription_session.created' : 'session.created',
      session: { id, type: 'transcription' },
    });
  }

  handle(msg: Record<string, unknown>): void {
    switch (msg.type) {
      case 'session.update':
      case 'transcription_session.update':
        return this.#configure(msg.type, (msg.session ?? {}) as Record<string, unknown>);
      case 'input_audio_buffer.append':
        return this.#append(msg.audio);
      case 'input_audio_buffer.commit':
        if (this.#inSpeech) this.#endTurn();
        return;
      case 'input_audio_buffer.clear':
        this.#inSpeech = false;
        this.#matcher.reset();
        return this.#send({ type: 'input_audio_buffer.cleared' });
      default:
        return this.#error('unknown_event', `Unknown event type '${String(msg.type)}'`);
    }
  }

  #configure(type: string, session: Record<string, unknown>): void {
    const beta = type === 'transcription_session.update';
    const input = ((session.audio as Record<string, unknown> | undefined)?.input ?? {}) as Record<
      string,
      unknown
    >;
    const format = beta ? session.input_audio_format : (input.format as { type?: unknown } | undefined)?.type;
    const wanted = beta ? 'g711_ulaw' : 'audio/pcmu';
    if (!beta && session.type !== 'transcription')
      return this.#error('invalid_value', "session.type must be 'transcription'");
    if (this.record.intent !== 'transcription')
      return this.#error('invalid_value', 'connect with ?intent=transcription');
    if (format !== wanted) return this.#error('invalid_value', `this emulator transcribes only ${wanted}`);
    const td = (beta ? session.turn_detection : input.turn_detection) as
      Record<string, unknown> | null | undefined;
    this.#vad = {
      enabled: td !== null,
      threshold: num(td?.threshold, 0.5),
      prefixPaddingMs: num(td?.prefix_padding_ms, 300),
      silenceDurationMs: num(td?.silence_duration_ms, 500),
    };
    this.record.config = session;
    this.#send({
      type: beta ? 'transcription_session.updated' : 'session.updated',
      session: { id: this.record.id, ...session },
    });
  }

  #append(audio: unknown): void {
    if (typeof audio !== 'string') return this.#error('invalid_value', 'audio must be a base64 string');
    const bytes = Buffer.from(audio, 'base64');
    this.record.receivedBytes += bytes.length;
    if (this.record.receivedBytes <= this.#hooks.keepAudioBytes) this.record.chunks.push(bytes);
    if (!this.record.config) return;
    let data = this.#remainder.length ? Buffer.concat([this.#remainder, bytes]) : bytes;
    while (data.length >= FRAME_BYTES) {
      this.#frame(data.subarray(0, FRAME_BYTES));
      data = data.subarray(FRAME_BYTES);
    }
    this.#remainder = Buffer.from(data);
  }

  #frame(frame: Buffer): void {
    const endMs = ++this.#frameNo * 20;
    const voiced = frameRms(frame) >= this.#vad.threshold * RMS_PER_THRESHOLD;
    if (this.#inSpeech) {
      this.#matcher.add(frame);
      this.#silentMs = voiced ? 0 : this.#silentMs + 20;
      if (this.#vad.enabled && this.#silentMs >= this.#vad.silenceDurationMs) {
        this.#send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: endMs, item_id: this.#itemId });
        this.#endTurn();
      }
      return;
    }
    this.#voicedRun = voiced ? this.#voicedRun + 1 : 0;
    if (this.#voicedRun >= START_FRAMES || (!this.#vad.enabled && voiced)) {
      this.#inSpeech = true;
      this.#silentMs = 0;
      this.#itemId = `item_emu${this.record.id.slice(8)}_${++this.#itemSeq}`;
      this.#matcher.reset();
      this.#matcher.add(frame);
      const startMs = endMs - this.#voicedRun * 20;
      if (this.#vad.enabled) {
        const audioStartMs = Math.max(0, startMs - this.#vad.prefixPaddingMs);
        this.#send({
          type: 'input_audio_buffer.speech_started',
          audio_start_ms: audioStartMs,
          item_id: this.#itemId,
        });
      }
    }
  }

  #endTurn(): void {
    this.#inSpeech = false;
    this.#voicedRun = 0;
    const itemId = this.#itemId;
    const transcript = this.#hooks.nextScripted() ?? this.#matcher.best() ?? this.#hooks.unknownTranscript;
    this.#matcher.reset();
    this.#send({
      type: 'input_audio_buffer.committed',
      previous_item_id: this.#previousItemId,
      item_id: itemId,
    });
    this.#previousItemId = itemId;
    this.#hooks.schedule(this.#hooks.transcriptDelayMs(), () => {
      for (const delta of transcript.match(/\S+\s*/g) ?? []) {
        this.#send({
          type: 'conversation.item.input_audio_transcription.delta',
          item_id: itemId,
          content_index: 0,
          delta,
        });
      }
      this.record.transcripts.push(transcript);
      this.#send({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: itemId,
        content_index: 0,
        transcript,
        usage: { type: 'duration', seconds: 1 },
      });
    });
  }

  #error(code: string, message: string): void {
    this.#send({
      type: 'error',
      error: { type: 'invalid_request_error', code, message, param: null, event_id: null },
    });
  }

  #send(event: Record<string, unknown>): void {
    this.#hooks.send({ event_id: `event_emu${++this.#eventSeq}`, ...event });
  }
}

function num(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
