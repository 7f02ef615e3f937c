/**
 * One model reply, streamed: text is cut into sentences and each is spoken as soon as it ends, while
 * the model is still writing. The reply's message enters the history with its first words or its
 * tool calls, so a caller turn that starts meanwhile comes after it.
 */
import type { ChatMessage, LlmProvider, ToolCall } from '../providers/types';
import { SentenceChunker } from './chunker';
import { addAgentMessage } from './history';
import type { LatencyMeter } from './latency';
import type { ToolRunner } from './ports';
import type { ActiveTurn, AssistantMessage } from './turn';

/** The agent's options a reply reads (the agent passes its own, read as each reply streams). */
export interface ReplyDeps {
  llm: LlmProvider;
  tools: ToolRunner;
  systemPrompt: string;
  onState(state: 'speaking'): void;
}

export class ModelReplies {
  readonly #d: ReplyDeps;
  readonly #history: ChatMessage[];
  readonly #latency: LatencyMeter;

  constructor(deps: ReplyDeps, history: ChatMessage[], latency: LatencyMeter) {
    this.#d = deps;
    this.#history = history;
    this.#latency = latency;
  }

  /** Streams one reply into `turn`'s speech; returns its text, its tool calls and its message. */
  async stream(turn: ActiveTurn): Promise<{ text: string; calls: ToolCall[]; message: AssistantMessage }> {
    const signal = turn.controller.signal;
    const message: AssistantMessage = { role: 'assistant', content: '' };
    const chunker = new SentenceChunker();
    let text = '';
    let calls: ToolCall[] = [];
    let added = false;
    const ensureAdded = () => {
      if (!added) {
        added = true;
        addAgentMessage(this.#history, turn, message);
      }
    };
    const messages = [{ role: 'system' as const, content: this.#d.systemPrompt }, ...this.#history];
    for await (const chunk of this.#d.llm.stream({ messages, tools: this.#d.tools.specs, signal })) {
      if (signal.aborted) break;
      if (chunk.type !== 'done') this.#latency.firstToken();
      if (chunk.type === 'text') {
        ensureAdded();
        text += chunk.text;
        message.content = text;
        for (const sentence of chunker.push(chunk.text)) {
          this.#d.onState('speaking');
          turn.speech.say(sentence, message);
        }
      } else if (chunk.type === 'tool_calls') {
        calls = chunk.calls;
      }
    }
    const rest = chunker.flush();
    if (rest && !signal.aborted) {
      this.#d.onState('speaking');
      turn.speech.say(rest, message);
    }
    // Not once interrupted: the barge-in's user message is already in the history, and tool calls
    // that will never run have no place after it.
    if (calls.length > 0 && !signal.aborted) ensureAdded();
    if (!text && calls.length > 0) message.content = null;
    return { text, calls, message };
  }
}
