/**
 * The agent's turns: each has its own speech queue and abort signal, the history messages it owns
 * (so a barge-in can trim them to what was heard) and the announced action it ends with, if any.
 * Marks are numbered across the call, and those of cleared audio are remembered: Twilio may still
 * echo one, and it must not count as heard.
 */
import type { ChatMessage, TtsProvider } from '../providers/types';
import { PHRASES, type PhraseCache } from './phrases';
import type { SpeechOutput, ToolAction } from './ports';
import { SpeechQueue } from './speech';

export type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;
export type ToolMessage = Extract<ChatMessage, { role: 'tool' }>;

export interface ActiveTurn {
  controller: AbortController;
  speech: SpeechQueue;
  messages: AssistantMessage[];
  interrupted: boolean;
  finishedProducing: boolean;
  recorded: boolean;
  action: ToolAction | null;
  actionMark: string | null;
}

/** The agent's options a turn's speech reads (the agent passes its own). */
export interface TurnDeps {
  tts: TtsProvider;
  phrases: PhraseCache;
  output: SpeechOutput;
}

export class Turns {
  readonly #d: TurnDeps;
  readonly #onFirstAudio: (ttsFirstByteMs: number | null) => void;
  readonly #onSpeechError: (err: unknown) => void;
  #markSeq = 0;
  readonly #cleared = new Set<string>();
  readonly #speechErrors = new WeakSet<ActiveTurn>();

  constructor(
    deps: TurnDeps,
    hooks: { onFirstAudio: (ttsFirstByteMs: number | null) => void; onSpeechError: (err: unknown) => void },
  ) {
    this.#d = deps;
    this.#onFirstAudio = hooks.onFirstAudio;
    this.#onSpeechError = hooks.onSpeechError;
  }

  create(): ActiveTurn {
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
        onFirstAudio: (ms) => this.#onFirstAudio(ms),
        onError: (err) => this.#speechFailed(turn, err),
      }),
    };
    return turn;
  }

  /** Drops the audio not yet played; its marks will never count as heard. */
  clearOutput(): void {
    const { unplayed } = this.#d.output.clear();
    for (const m of unplayed) this.#cleared.add(m);
  }

  /** True (once) for the mark of audio dropped by clearOutput(). */
  takeCleared(mark: string): boolean {
    return this.#cleared.delete(mark);
  }

  #speechFailed(turn: ActiveTurn, err: unknown): void {
    this.#onSpeechError(err);
    if (this.#speechErrors.has(turn)) return;
    this.#speechErrors.add(turn);
    // The apology is a cached phrase: it plays even while the TTS provider is down.
    turn.speech.sayPhrase(PHRASES.apology);
  }
}
