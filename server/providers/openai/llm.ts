/**
 * LlmProvider over Chat Completions streaming (CONTRACT: `POST {OPENAI_BASE_URL}/chat/completions`,
 * `stream: true`). Text is yielded as it arrives so TTS can start on the first sentence; tool-call
 * fragments are assembled per `index` and yielded once, complete (PROTOCOLS.md §2.2).
 */
import type OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { ProviderError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import type { ChatMessage, LlmChunk, LlmProvider, ToolCall, ToolSpec } from '../types';
import { createOpenAiClient } from './client';
import { StreamGuard } from './stream-guard';
import { toProviderError } from './errors';

export interface OpenAiLlmOptions {
  apiKey: string;
  /** e.g. `https://api.openai.com/v1`; the SDK appends `/chat/completions`. */
  baseUrl: string;
  model: string;
  logger: Logger;
  /** No chunk for this long after the first aborts the request as a retryable error (15 s). */
  idleTimeoutMs?: number;
  /**
   * No first chunk (the model has not started answering) for this long aborts the request as a
   * retryable error, so the failover chain retries or moves on while the caller is still waiting
   * only seconds (5 s, or the idle timeout when that is shorter).
   */
  firstTokenTimeoutMs?: number;
  temperature?: number;
  /** Caps the reply; also bounds how long one stream can run. */
  maxCompletionTokens?: number;
  /** Bounds memory held for one tool call's arguments. */
  maxToolArgumentChars?: number;
  /** A spoken reply longer than this is a runaway generation, not an answer. */
  maxReplyChars?: number;
  /** Reported as `name`; lets a failover chain tell a primary and a secondary model apart. */
  name?: string;
  /** The SDK's transport (default: providerFetch, node:http with keep-alive). */
  fetch?: typeof fetch;
}

const PROVIDER = 'openai-llm';

export class OpenAiLlm implements LlmProvider {
  readonly name: string;
  readonly #client: OpenAI;
  readonly #opts: OpenAiLlmOptions;
  readonly #log: Logger;

  constructor(opts: OpenAiLlmOptions) {
    this.name = opts.name ?? PROVIDER;
    this.#opts = opts;
    this.#log = opts.logger.child({ provider: this.name, model: opts.model });
    this.#client = createOpenAiClient(opts);
  }

  async *stream(req: {
    messages: ChatMessage[];
    tools: ToolSpec[];
    signal: AbortSignal;
  }): AsyncIterable<LlmChunk> {
    const idleMs = this.#opts.idleTimeoutMs ?? 15_000;
    const guard = new StreamGuard(
      req.signal,
      idleMs,
      this.#opts.firstTokenTimeoutMs ?? Math.min(5_000, idleMs),
    );
    const assembler = new ToolCallAssembler(this.#opts.maxToolArgumentChars ?? 32_768);
    const maxReplyChars = this.#opts.maxReplyChars ?? 16_000;
    let replyChars = 0;
    let finishReason: string | undefined;
    try {
      const stream = await this.#client.chat.completions.create(
        {
          model: this.#opts.model,
          messages: req.messages,
          ...(req.tools.length > 0 ? { tools: req.tools } : {}),
          ...(this.#opts.temperature === undefined ? {} : { temperature: this.#opts.temperature }),
          ...(this.#opts.maxCompletionTokens === undefined
            ? {}
            : { max_completion_tokens: this.#opts.maxCompletionTokens }),
          stream: true,
        },
        { signal: guard.signal },
      );
      let answering = false;
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        // The first-token wait ends with a token (text, a tool call, the finish), not with the
        // role-only chunk a gateway may send at once; from then on every chunk is progress.
        answering ||= !!(choice?.delta.content || choice?.delta.tool_calls || choice?.finish_reason);
        if (answering) guard.touch();
        if (!choice) continue;
        const content = choice.delta.content;
        if (content) {
          replyChars += content.length;
          if (replyChars > maxReplyChars) {
            throw new ProviderError(this.name, 'chat completion reply too long', { retryable: false });
          }
          yield { type: 'text', text: content };
        }
        if (choice.delta.tool_calls) assembler.add(choice.delta.tool_calls);
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
      // The SDK ends the iteration quietly when its signal aborts, so an abort shows up here too.
      if (guard.cancelledByCaller) return;
      if (finishReason !== undefined) guard.complete();
      // No finish_reason (idle abort, or the SSE just stopped): the reply is truncated, not complete.
      if (finishReason === undefined)
        throw new ProviderError(this.name, 'chat completion stream ended early');
    } catch (err) {
      if (guard.cancelledByCaller) return;
      const mapped = guard.idled
        ? new ProviderError(this.name, 'chat completion stream idle', { cause: err, status: 408 })
        : toProviderError(this.name, 'chat completion failed', err);
      this.#log.warn({ err: mapped, status: mapped.status }, 'llm stream failed');
      throw mapped;
    } finally {
      guard.dispose();
    }
    const calls = assembler.calls();
    if (calls.length > 0) yield { type: 'tool_calls', calls };
    yield { type: 'done', finishReason };
  }
}

type ToolCallDelta = NonNullable<ChatCompletionChunk.Choice['delta']['tool_calls']>[number];

/** `id` and `name` arrive on the first fragment of an index; `arguments` pieces concatenate. */
export class ToolCallAssembler {
  readonly #byIndex = new Map<number, { id: string; name: string; args: string }>();
  readonly #maxArgs: number;

  constructor(maxArgumentChars: number) {
    this.#maxArgs = maxArgumentChars;
  }

  add(deltas: readonly ToolCallDelta[]): void {
    for (const d of deltas) {
      const entry = this.#byIndex.get(d.index) ?? { id: '', name: '', args: '' };
      if (d.id) entry.id = d.id;
      if (d.function?.name) entry.name += d.function.name;
      if (d.function?.arguments) entry.args += d.function.arguments;
      if (entry.args.length > this.#maxArgs) {
        throw new ProviderError(PROVIDER, 'tool call arguments too large', { retryable: false });
      }
      this.#byIndex.set(d.index, entry);
    }
  }

  calls(): ToolCall[] {
    return [...this.#byIndex.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, c]) => ({
        id: c.id || `call_${index}`,
        type: 'function' as const,
        function: { name: c.name, arguments: c.args || '{}' },
      }));
  }
}
