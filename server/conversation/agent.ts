import { AppError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import type { ChatMessage, LlmProvider, TtsProvider } from '../providers/types';
import { addAgentMessage, trimToHeard } from './history';
import { LatencyMeter } from './latency';
import { PHRASES, type AudioClip, type PhraseCache } from './phrases';
import { ModelReplies } from './reply';
import { SpeechQueue } from './speech';
import {
  OUTCOME_RANK,
  type CallControl,
  type CallOutcome,
  type SpeechOutput,
  type ToolAction,
  type ToolRunner,
  type TurnLatency,
} from './ports';
import { isBackchannel } from './backchannel';
import { ToolRounds } from './tool-round';
import type { ActiveTurn } from './turn';

export interface AgentTurn {
  role: 'caller' | 'agent';
  text: string;
  at: string;
  interrupted: boolean;
}

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
  maxToolRounds?: number;
  /** How long a tool may take before the model is told it timed out (default 8 s). */
  toolTimeoutMs?: number;
  /** Pauses before each retry of a failed transfer or hang-up (default 300 ms, then 1 s). */
  controlRetryDelaysMs?: readonly number[];
}

const CONTROL_RETRY_DELAYS_MS = [300, 1000] as const;
/** No transfer or hang-up retry starts later than this after the first attempt: dead air is worse. */
const CONTROL_RETRY_BUDGET_MS = 5000;

/**
 * One call's conversation: turns, tools, barge-in and the heard-only history. Knows nothing of
 * Twilio or vendors: audio goes to a SpeechOutput, marks come back through onMark().
 */
export class CallAgent {
  readonly history: ChatMessage[] = [];
  readonly latency: TurnLatency[] = [];
  outcome: CallOutcome = 'abandoned';
  readonly #d: AgentDeps;
  readonly #latency: LatencyMeter;
  readonly #replies: ModelReplies;
  readonly #tools: ToolRounds;
  #turn: ActiveTurn | null = null;
  #markSeq = 0;
  #callerTurns = 0;
  #lastCallerText = '';
  #ended = false;
  /** stop() was called: the call is gone, so a failed transfer is neither retried nor apologised for. */
  #stopped = false;
  readonly #cleared = new Set<string>();

  constructor(deps: AgentDeps) {
    this.#d = deps;
    this.#latency = new LatencyMeter(this.latency, deps);
    this.#replies = new ModelReplies(deps, this.history, this.#latency);
    this.#tools = new ToolRounds(deps, {
      history: this.history,
      callerContext: () => ({ lastCallerText: this.#lastCallerText, callerTurnCount: this.#callerTurns }),
      raiseOutcome: (o) => this.#raiseOutcome(o),
    });
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
      this.#recordCaller(clean);
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
    if (digit === '0') {
      if (this.#turn && !this.#turn.interrupted) this.#bargeIn();
      this.#recordCaller('[pressed 0]');
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
    if (this.#cleared.delete(name)) return;
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
      this.#recordAgent(turn, this.speaking);
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
    const controller = new AbortController();
    const turn: ActiveTurn = {
      controller,
      messages: [],
      interrupted: false,
      finishedProducing: false,
      recorded: false,
      action: null,
      actionMark: null,
      speech: new SpeechQueue({
        tts: this.#d.tts,
        phrases: this.#d.phrases,
        out: this.#d.output,
        signal: controller.signal,
        nextMark: () => `m${++this.#markSeq}`,
        onFirstAudio: (ms) => this.#latency.firstAudio(ms),
        onError: (err) => this.#onSpeechError(turn, err),
      }),
    };
    this.#turn = turn;
    return turn;
  }

  #bargeIn(): void {
    const turn = this.#turn;
    if (!turn || turn.interrupted) return;
    turn.interrupted = true;
    const { unplayed } = this.#d.output.clear();
    for (const m of unplayed) this.#cleared.add(m);
    turn.controller.abort();
    trimToHeard(this.history, turn);
    this.#recordAgent(turn, true);
    this.#d.metrics?.bargeIns.inc();
    this.#d.log.info({ heard: turn.speech.sentences.filter((s) => s.heard).length }, 'barge-in');
    this.#d.onState('listening');
  }

  #startTurn(text: string): void {
    this.#recordCaller(text);
    this.history.push({ role: 'user', content: text });
    void this.#respond();
  }

  #recordCaller(text: string): void {
    this.#callerTurns++;
    this.#lastCallerText = text;
    this.#d.onTurn({ role: 'caller', text, at: new Date().toISOString(), interrupted: false });
  }

  #recordAgent(turn: ActiveTurn, interrupted: boolean): void {
    if (turn.recorded) return;
    turn.recorded = true;
    const spoken = turn.speech.sentences.filter((s) => !interrupted || s.heard).map((s) => s.text);
    if (spoken.length > 0)
      this.#d.onTurn({ role: 'agent', text: spoken.join(' '), at: new Date().toISOString(), interrupted });
  }

  async #respond(): Promise<void> {
    const turn = this.#newTurn();
    const signal = turn.controller.signal;
    this.#latency.start();
    this.#d.onState('thinking');
    const maxRounds = this.#d.maxToolRounds ?? 5;
    try {
      for (let round = 0; round < maxRounds && !signal.aborted; round++) {
        const { text, calls, message } = await this.#replies.stream(turn);
        if (signal.aborted) return;
        if (calls.length === 0) break;
        await this.#tools.run(turn, message, calls);
        if (turn.action) break;
        if (round === maxRounds - 1 && text.length === 0) turn.speech.sayPhrase(PHRASES.didNotCatch);
      }
    } catch (err) {
      if (signal.aborted) return;
      this.#onProviderError('llm', err);
      turn.speech.sayPhrase(PHRASES.apology);
    }
    if (signal.aborted) return;
    if (turn.action) {
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
    if (turn) this.#recordAgent(turn, false);
    this.#ended = true;
    const before = this.outcome;
    // Claimed before the request: Twilio can end the stream (and the record be written) before its
    // REST answer arrives.
    if (action.type === 'transfer') this.#raiseOutcome('transferred');
    try {
      await this.#control(action);
    } catch {
      // A failed hang-up is covered by the telephony layer, which closes the stream either way.
      if (this.#stopped || action.type === 'end') return;
      // The transfer did not happen: the call must not go dead. The caller hears so and how to try
      // again, and the conversation goes on.
      this.outcome = before === 'abandoned' ? 'failed' : before;
      this.#ended = false;
      this.#sayLine(PHRASES.transferFailed);
    }
  }

  /**
   * The transfer or hang-up request, with brief retries of a retryable failure (Twilio 429/5xx or
   * no answer). Not once the call is gone: the first attempt may have worked after all, and a
   * repeated transfer would ring the desk twice. Throws the last error.
   */
  async #control(action: ToolAction): Promise<void> {
    const started = performance.now();
    const delays = this.#d.controlRetryDelaysMs ?? CONTROL_RETRY_DELAYS_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await (action.type === 'transfer' ? this.#d.control.transfer() : this.#d.control.hangup());
        return;
      } catch (err) {
        this.#onProviderError('twilio', err);
        const delay = delays[attempt];
        const retryable = err instanceof AppError && err.retryable;
        const inBudget =
          delay !== undefined && performance.now() - started + delay <= CONTROL_RETRY_BUDGET_MS;
        if (!retryable || !inBudget) throw err;
        await new Promise((r) => setTimeout(r, delay));
        if (this.#stopped) throw err;
      }
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
    this.#recordAgent(turn, false);
    this.#d.onState('listening');
  }

  #speechErrors = new WeakSet<ActiveTurn>();

  #onSpeechError(turn: ActiveTurn, err: unknown): void {
    this.#onProviderError('tts', err);
    if (this.#speechErrors.has(turn)) return;
    this.#speechErrors.add(turn);
    // The apology is a cached phrase: it plays even while the TTS provider is down.
    turn.speech.sayPhrase(PHRASES.apology);
  }

  #onProviderError(kind: 'llm' | 'tts' | 'twilio', err: unknown): void {
    const e = err as { provider?: string; status?: number; message?: string };
    this.#d.metrics?.providerErrors.inc({ provider: e.provider ?? kind, kind });
    this.#d.log.error({ err: { message: e.message, status: e.status }, kind }, 'provider error mid-call');
    if (this.outcome === 'abandoned') this.outcome = 'failed';
  }

  #raiseOutcome(o: CallOutcome): void {
    if (OUTCOME_RANK[o] > OUTCOME_RANK[this.outcome] || this.outcome === 'failed') this.outcome = o;
  }

  /** Final outcome: a caller who spoke and got answers without a write is an "info" call. */
  finalOutcome(): CallOutcome {
    if (this.outcome === 'abandoned' && this.#callerTurns > 0) return 'info';
    return this.outcome;
  }
}
