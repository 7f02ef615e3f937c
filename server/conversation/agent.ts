import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import type { ChatMessage, LlmProvider, TtsProvider } from '../providers/types';
import { controlWithRetry } from './control-retry';
import { addAgentMessage, trimToHeard } from './history';
import { LatencyMeter } from './latency';
import { PHRASES, type AudioClip, type PhraseCache } from './phrases';
import { ModelReplies } from './reply';
import type { CallControl, CallOutcome, SpeechOutput, ToolAction, ToolRunner, TurnLatency } from './ports';
import { isBackchannel } from './backchannel';
import { CallRecord, type AgentTurn } from './record';
import { ToolRounds } from './tool-round';
import { Turns, type ActiveTurn } from './turn';

export type { AgentTurn } from './record';

export interface AgentDeps {
  callSid: string;
  log: Logger;
  metrics?: Metrics;
  llm: LlmProvider;
  tts: TtsProvider;
  phrases: PhraseCache;
  tools: ToolRunner;
  systemPrompt: string;
  output: SpeechOutput;
  control: CallControl;
  onTurn(turn: AgentTurn): void;
  onState(state: 'listening' | 'thinking' | 'speaking' | 'transferring' | 'ending'): void;
  fillerAfterMs?: number;
  /** The model not answering for this long: "One moment, please." (default 2.5 s). */
  holdOnAfterMs?: number;
  /** Still nothing this long after that: one more line (default 4 s). */
  holdAgainAfterMs?: number;
  maxToolRounds?: number;
  /** How long a tool may take before the model is told it timed out (default 8 s). */
  toolTimeoutMs?: number;
  /** Pauses before each retry of a failed transfer or hang-up (default 300 ms, then 1 s). */
  controlRetryDelaysMs?: readonly number[];
}

/**
 * One call's conversation: when a turn starts, is interrupted or ends in an announced action. The
 * reply stream, the tool round, the heard-only history, the record and the latency marks it drives
 * live in their own files. Knows nothing of Twilio or vendors: audio goes to a SpeechOutput, marks
 * come back through onMark().
 */
export class CallAgent {
  readonly history: ChatMessage[] = [];
  readonly latency: TurnLatency[] = [];
  readonly #d: AgentDeps;
  readonly #record: CallRecord;
  readonly #latency: LatencyMeter;
  readonly #turns: Turns;
  readonly #replies: ModelReplies;
  readonly #tools: ToolRounds;
  #turn: ActiveTurn | null = null;
  #ended = false;
  /** stop() was called: the call is gone, so a failed transfer is neither retried nor apologised for. */
  #stopped = false;
  /** Turns in a row whose model request failed (after every retry and fallback). */
  #modelFailures = 0;

  constructor(deps: AgentDeps) {
    this.#d = deps;
    this.#record = new CallRecord(deps);
    this.#latency = new LatencyMeter(this.latency, deps);
    this.#turns = new Turns(deps, {
      onFirstAudio: (ms) => this.#latency.firstAudio(ms),
      onSpeechError: (err) => this.#onProviderError('tts', err),
    });
    this.#replies = new ModelReplies(deps, this.history, this.#latency);
    this.#tools = new ToolRounds(deps, {
      history: this.history,
      callerContext: () => this.#record.callerContext,
      raiseOutcome: (o) => this.#record.raise(o),
    });
  }

  get outcome(): CallOutcome {
    return this.#record.outcome;
  }

  set outcome(o: CallOutcome) {
    this.#record.outcome = o;
  }

  get speaking(): boolean {
    const t = this.#turn;
    return !!t && !t.interrupted && (!t.finishedProducing || t.speech.pendingMarks > 0);
  }

  /** Plays the fixed greeting (prepared at ring time) and records it as the agent's first turn. */
  greet(text: string, audio: AudioClip): void {
    const turn = this.#newTurn();
    const message = { role: 'assistant' as const, content: text };
    addAgentMessage(this.history, turn, message);
    const t0 = performance.now();
    turn.speech.play(text, audio, message);
    this.#d.onState('speaking');
    void turn.speech.drained().then(() => {
      turn.finishedProducing = true;
      this.#d.log.debug({ ms: performance.now() - t0 }, 'greeting queued');
      this.#maybeTurnDone(turn);
    });
  }

  /**
   * The provider's VAD heard speech. Deliberately not a barge-in: a cough or an "uh-huh" starts
   * speech too. Interruption waits for onSustainedSpeech (measured on the audio itself).
   */
  onSpeechStarted(): void {
    this.#latency.speechStarted();
  }

  onSpeechStopped(): void {
    this.#latency.speechStopped();
  }

  /** The caller has been speaking long enough to be real (not a cough or an "uh-huh"). */
  onSustainedSpeech(): void {
    if (this.speaking && !this.#acting()) this.#bargeIn();
  }

  onTranscript(text: string): void {
    const clean = text.trim();
    if (this.#ended || clean.length === 0) return;
    if (this.#acting()) {
      // "Thanks, bye" over the goodbye, "hello?" over "I'm transferring you": the caller still expects
      // the action. Kept in the record and the history (a failed transfer goes on talking), no turn.
      this.#record.caller(clean);
      this.history.push({ role: 'user', content: clean });
      return;
    }
    if (this.speaking) {
      // A backchannel while the agent talks is a listener's noise, not a turn.
      if (isBackchannel(clean)) return;
      this.#bargeIn();
    }
    this.#startTurn(clean);
  }

  onDtmf(digit: string): void {
    if (this.#ended) return;
    // Keys do not cancel an announced action either, but 0 over a goodbye: that caller wants a person.
    if (this.#acting() && !(digit === '0' && this.#turn?.action?.type === 'end')) return;
    // A key ends no speech: a stop heard before it is not this turn's speech-to-text time.
    this.#latency.speechStarted();
    if (digit === '0') {
      if (this.#turn && !this.#turn.interrupted) this.#bargeIn();
      this.#record.caller('[pressed 0]');
      this.#speakAndAct(PHRASES.transfer, { type: 'transfer', reason: 'caller pressed 0' });
      return;
    }
    if (this.speaking) this.#bargeIn();
    this.#startTurn(`[pressed ${digit}]`);
  }

  /**
   * The call cannot go on by voice (speech-to-text unreachable, or no dealership facts to work
   * with): `line`, then the transfer to the desk, as for DTMF 0. Whatever is playing is cut; the
   * caller is never left in silence.
   */
  handOff(reason: string, line: string = PHRASES.handOff): void {
    // An announced transfer or goodbye already ends the call's voice part.
    if (this.#ended || this.#acting()) return;
    if (this.#turn && !this.#turn.interrupted) this.#bargeIn();
    this.#speakAndAct(line, { type: 'transfer', reason });
  }

  onMark(name: string): void {
    if (this.#turns.takeCleared(name)) return;
    const turn = this.#turn;
    if (!turn) return;
    const sentence = turn.speech.sentences.find((s) => s.mark === name);
    if (sentence) sentence.heard = true;
    if (turn.actionMark === name && turn.action) {
      void this.#perform(turn.action);
      return;
    }
    this.#maybeTurnDone(turn);
  }

  /** Ends everything this agent started; safe to call twice. */
  stop(): void {
    this.#ended = true;
    this.#stopped = true;
    const turn = this.#turn;
    if (turn && !turn.controller.signal.aborted) {
      if (this.speaking) trimToHeard(this.history, turn);
      this.#record.agent(turn, this.speaking);
      turn.controller.abort();
    }
  }

  /**
   * An announced transfer or goodbye is under way (its action known, not yet performed). The caller
   * talking over it must not cancel it: a cleared announcement's mark never comes back, and the
   * action waits on that mark, so a barge-in here would leave the caller in silence for good.
   */
  #acting(): boolean {
    const turn = this.#turn;
    return !!turn && turn.action !== null && !turn.interrupted;
  }

  #newTurn(): ActiveTurn {
    this.#latency.close();
    const turn = this.#turns.create();
    this.#turn = turn;
    return turn;
  }

  #bargeIn(): void {
    const turn = this.#turn;
    if (!turn || turn.interrupted) return;
    turn.interrupted = true;
    this.#turns.clearOutput();
    turn.controller.abort();
    trimToHeard(this.history, turn);
    this.#record.agent(turn, true);
    this.#d.metrics?.bargeIns.inc();
    this.#d.log.info({ heard: turn.speech.sentences.filter((s) => s.heard).length }, 'barge-in');
    this.#d.onState('listening');
  }

  #startTurn(text: string): void {
    this.#record.caller(text);
    this.history.push({ role: 'user', content: text });
    void this.#respond();
  }

  async #respond(): Promise<void> {
    const turn = this.#newTurn();
    const signal = turn.controller.signal;
    this.#latency.start();
    this.#d.onState('thinking');
    const maxRounds = this.#d.maxToolRounds ?? 5;
    let handedOff = false;
    // A slow model (or its retry, or the fallback) is not silence: a short line while it thinks,
    // and another if it is still thinking 4 s later (a model that timed out, then the next one).
    const holdLines = [PHRASES.holdOn, PHRASES.stillHolding];
    let held = 0;
    const hold = (): void => {
      const quiet = turn.speech.sentences.length === held && !turn.messages.some((m) => m.content);
      if (signal.aborted || !quiet) return;
      turn.speech.sayPhrase(holdLines[held++] as string);
      if (held < holdLines.length) holdOn = setTimeout(hold, this.#d.holdAgainAfterMs ?? 4_000);
    };
    let holdOn = setTimeout(hold, this.#d.holdOnAfterMs ?? 2_500);
    try {
      for (let round = 0; round < maxRounds && !signal.aborted; round++) {
        const { text, calls, message } = await this.#replies.stream(turn);
        this.#modelFailures = 0;
        if (signal.aborted) return;
        if (calls.length === 0) break;
        await this.#tools.run(turn, message, calls);
        if (turn.action) break;
        if (round === maxRounds - 1 && text.length === 0) turn.speech.sayPhrase(PHRASES.didNotCatch);
      }
    } catch (err) {
      if (signal.aborted) return;
      this.#onProviderError('llm', err);
      // Twice running, every model and retry failed: more apologies would leave the caller stuck.
      // The line goes on this turn's own queue, after what it said before the failure (one queue
      // at a time feeds the output), and the transfer follows it as any announced action does.
      if (++this.#modelFailures >= 2) {
        turn.action = { type: 'transfer', reason: 'model unavailable' };
        turn.speech.sayPhrase(PHRASES.handOffModelDown);
        handedOff = true;
      } else turn.speech.sayPhrase(PHRASES.apology);
    } finally {
      clearTimeout(holdOn);
    }
    if (signal.aborted) return;
    if (turn.action && !handedOff) {
      const spokeSomething = turn.speech.sentences.length > 0 || turn.messages.some((m) => m.content);
      if (!spokeSomething)
        turn.speech.sayPhrase(turn.action.type === 'transfer' ? PHRASES.transfer : PHRASES.goodbye);
    }
    await turn.speech.drained();
    if (signal.aborted) return;
    turn.finishedProducing = true;
    if (turn.action) {
      const last = turn.speech.sentences[turn.speech.sentences.length - 1];
      turn.actionMark = last?.mark ?? null;
      this.#d.onState(turn.action.type === 'transfer' ? 'transferring' : 'ending');
      if (!last || last.heard) void this.#perform(turn.action);
      return;
    }
    this.#maybeTurnDone(turn);
  }

  #speakAndAct(text: string, action: ToolAction): void {
    const turn = this.#newTurn();
    turn.action = action;
    const message = { role: 'assistant' as const, content: text };
    addAgentMessage(this.history, turn, message);
    turn.speech.sayPhrase(text, message);
    this.#d.onState(action.type === 'transfer' ? 'transferring' : 'ending');
    void turn.speech.drained().then(() => {
      turn.finishedProducing = true;
      const last = turn.speech.sentences[turn.speech.sentences.length - 1];
      turn.actionMark = last?.mark ?? null;
      if (!last) void this.#perform(action);
    });
  }

  async #perform(action: ToolAction): Promise<void> {
    if (this.#ended) return;
    const turn = this.#turn;
    if (turn) this.#record.agent(turn, false);
    this.#ended = true;
    const before = this.outcome;
    // Claimed before the request: Twilio can end the stream (and the record be written) before its
    // REST answer arrives.
    if (action.type === 'transfer') this.#record.raise('transferred');
    try {
      await controlWithRetry(action, this.#d, {
        stopped: () => this.#stopped,
        onError: (err) => this.#onProviderError('twilio', err),
      });
    } catch {
      // A failed hang-up is covered by the telephony layer, which closes the stream either way.
      if (this.#stopped || action.type === 'end') return;
      // The transfer did not happen: the call must not go dead. The caller hears so and how to try
      // again, and the conversation goes on.
      // Unless something better happened meanwhile (a late booking's result, say), the claim goes.
      if (this.outcome === 'transferred') this.outcome = before === 'abandoned' ? 'failed' : before;
      this.#ended = false;
      this.#sayLine(PHRASES.transferFailed);
    }
  }

  /** A fixed line as an ordinary turn of its own: recorded, interruptible, then back to listening. */
  #sayLine(text: string): void {
    const turn = this.#newTurn();
    const message = { role: 'assistant' as const, content: text };
    addAgentMessage(this.history, turn, message);
    turn.speech.sayPhrase(text, message);
    this.#d.onState('speaking');
    void turn.speech.drained().then(() => {
      turn.finishedProducing = true;
      this.#maybeTurnDone(turn);
    });
  }

  #maybeTurnDone(turn: ActiveTurn): void {
    if (turn !== this.#turn || turn.interrupted || !turn.finishedProducing || turn.speech.pendingMarks > 0)
      return;
    this.#record.agent(turn, false);
    this.#d.onState('listening');
  }

  #onProviderError(kind: 'llm' | 'tts' | 'twilio', err: unknown): void {
    const e = err as { provider?: string; status?: number; message?: string };
    this.#d.metrics?.providerErrors.inc({ provider: e.provider ?? kind, kind });
    this.#d.log.error({ err: { message: e.message, status: e.status }, kind }, 'provider error mid-call');
    this.#record.failed();
  }

  /** Final outcome: a caller who spoke and got answers without a write is an "info" call. */
  finalOutcome(): CallOutcome {
    return this.#record.final();
  }
}
