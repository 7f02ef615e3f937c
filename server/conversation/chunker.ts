/**
 * Cuts streamed model text into speakable pieces: whole sentences as soon as they end, so TTS can
 * start on the first sentence while the model is still writing the second. A long clause is cut at
 * a comma so the caller never waits on a run-on sentence.
 */
const SENTENCE_END = /[.!?…]+["')\]]*(?=\s)/g;
const MIN_CHARS = 12;
const LONG_CLAUSE_CHARS = 160;

export class SentenceChunker {
  #buffer = '';

  /** Adds a text delta; returns the sentences it completed (possibly none). */
  push(delta: string): string[] {
    this.#buffer += delta;
    const out: string[] = [];
    let start = 0;
    SENTENCE_END.lastIndex = 0;
    for (let m = SENTENCE_END.exec(this.#buffer); m; m = SENTENCE_END.exec(this.#buffer)) {
      const end = m.index + m[0].length;
      const piece = this.#buffer.slice(start, end).trim();
      // "Dr." or "9." alone is too short to be a sentence worth a TTS request; keep accumulating.
      if (piece.length >= MIN_CHARS && !/\b(?:Dr|Mr|Mrs|Ms|St|No|vs|approx)\.$/.test(piece)) {
        out.push(piece);
        start = end;
      }
    }
    this.#buffer = this.#buffer.slice(start);
    if (this.#buffer.length > LONG_CLAUSE_CHARS) {
      const cut = this.#buffer.lastIndexOf(', ', LONG_CLAUSE_CHARS);
      if (cut > MIN_CHARS) {
        out.push(this.#buffer.slice(0, cut + 1).trim());
        this.#buffer = this.#buffer.slice(cut + 2);
      }
    }
    return out;
  }

  /** The rest, at the end of the model's message. */
  flush(): string | null {
    const rest = this.#buffer.trim();
    this.#buffer = '';
    return rest.length > 0 ? rest : null;
  }
}
