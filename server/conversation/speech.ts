import type { TtsProvider } from '../providers/types';
import type { AudioClip, PhraseCache } from './phrases';
import type { SpeechOutput } from './ports';

export interface Sentence {
  text: string;
  mark: string;
  heard: boolean;
  /** The history message this sentence belongs to, so a barge-in can trim it to what was heard. */
  owner: { content: string | null } | null;
}

/**
 * One agent turn's voice: sentences are synthesised in order and streamed to the output, each
 * followed by a mark. Synthesis of sentence n+1 starts as soon as n's audio is out, so playback
 * (paced at real time downstream) never waits on it.
 */
export class SpeechQueue {
  readonly sentences: Sentence[] = [];
  readonly #tts: TtsProvider;
  readonly #phrases: PhraseCache;
  readonly #out: SpeechOutput;
  readonly #signal: AbortSignal;
  readonly #nextMark: () => string;
  readonly #onFirstAudio: (ttsFirstByteMs: number | null) => void;
  readonly #onError: (err: unknown) => void;
  #tail: Promise<void> = Promise.resolve();
  #firstAudio = false;

  constructor(opts: {
    tts: TtsProvider;
    phrases: PhraseCache;
    out: SpeechOutput;
    signal: AbortSignal;
    nextMark: () => string;
    onFirstAudio: (ttsFirstByteMs: number | null) => void;
    onError: (err: unknown) => void;
  }) {
    this.#tts = opts.tts;
    this.#phrases = opts.phrases;
    this.#out = opts.out;
    this.#signal = opts.signal;
    this.#nextMark = opts.nextMark;
    this.#onFirstAudio = opts.onFirstAudio;
    this.#onError = opts.onError;
  }

  /** Speaks model text, synthesised now. */
  say(text: string, owner: Sentence['owner']): void {
    this.#enqueue(text, owner, () => this.#stream(text));
  }

  /** Speaks a fixed line from the phrase cache (synthesised once per process). */
  sayPhrase(text: string, owner: Sentence['owner'] = null): void {
    this.#enqueue(text, owner, () => this.#playClip(this.#phrases.get(text)));
  }

  /** Plays audio prepared earlier (the greeting), from its first byte even if it is still arriving. */
  play(text: string, clip: AudioClip, owner: Sentence['owner'] = null): void {
    this.#enqueue(text, owner, () => this.#playClip(clip));
  }

  async #playClip(clip: AudioClip): Promise<void> {
    for await (const chunk of clip.stream(this.#signal)) {
      if (this.#signal.aborted) return;
      this.#emit(chunk, null);
    }
  }

  /**
   * Resolves when every queued sentence has been handed to the output (not yet heard), including
   * one queued meanwhile: the apology a failing sentence queues from its own error callback.
   */
  async drained(): Promise<void> {
    let tail: Promise<void>;
    do {
      tail = this.#tail;
      await tail;
    } while (tail !== this.#tail);
  }

  get pendingMarks(): number {
    return this.sentences.filter((s) => !s.heard).length;
  }

  #enqueue(text: string, owner: Sentence['owner'], produce: () => Promise<void>): void {
    const sentence: Sentence = { text, mark: '', heard: false, owner };
    this.#tail = this.#tail.then(async () => {
      if (this.#signal.aborted) return;
      try {
        await produce();
      } catch (err) {
        if (this.#signal.aborted) return;
        this.#onError(err);
        return;
      }
      if (this.#signal.aborted) return;
      sentence.mark = this.#nextMark();
      this.sentences.push(sentence);
      this.#out.mark(sentence.mark);
    });
  }

  async #stream(text: string): Promise<void> {
    const started = performance.now();
    let first = true;
    for await (const chunk of this.#tts.synthesize(text, { signal: this.#signal })) {
      if (this.#signal.aborted) return;
      this.#emit(chunk, first ? performance.now() - started : null);
      first = false;
    }
  }

  #emit(audio: Buffer, ttsFirstByteMs: number | null): void {
    if (audio.length === 0) return;
    if (!this.#firstAudio) {
      this.#firstAudio = true;
      this.#onFirstAudio(ttsFirstByteMs);
    }
    this.#out.push(audio);
  }
}
