/**
 * The small interfaces the conversation depends on. Vendor SDKs live behind them, under
 * `providers/<vendor>/`; a failover adapter is just another implementation.
 */

/** Speech-to-text: a live stream fed with the caller's raw 8 kHz mu-law audio. */
export interface SttProvider {
  readonly name: string;
  open(opts: { signal: AbortSignal; callSid: string }): Promise<SttStream>;
}

export type SttEvent =
  | { type: 'speech_started'; atMs: number }
  | { type: 'speech_stopped'; atMs: number }
  | { type: 'partial'; text: string }
  | { type: 'final'; text: string }
  | { type: 'error'; error: Error; fatal: boolean };

export interface SttStream {
  /** Raw mu-law bytes exactly as Twilio sent them. Never blocks; drops (and counts) if the socket is gone. */
  push(mulaw: Buffer): void;
  /**
   * The same audio still base64-encoded as Twilio's frame carried it (`bytes` decoded bytes): the
   * hot path forwards it without decoding and re-encoding. `quiet`: our detector heard no speech in
   * this frame, so the adapter may hold it for a larger message (it must never delay speech).
   */
  pushBase64?(payload: string, bytes: number, quiet?: boolean): void;
  onEvent(listener: (event: SttEvent) => void): void;
  close(): Promise<void>;
}

/** Chat messages in the Chat Completions shape. */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ToolSpec {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

export type LlmChunk =
  | { type: 'text'; text: string }
  | { type: 'tool_calls'; calls: ToolCall[] }
  | { type: 'done'; finishReason: string };

export interface LlmProvider {
  readonly name: string;
  /** Streams one completion. Text arrives as deltas; tool calls arrive once, complete. */
  stream(req: { messages: ChatMessage[]; tools: ToolSpec[]; signal: AbortSignal }): AsyncIterable<LlmChunk>;
}

/** Text-to-speech producing 8 kHz mu-law, ready for Twilio frames. */
export interface TtsProvider {
  readonly name: string;
  synthesize(text: string, opts: { signal: AbortSignal }): AsyncIterable<Buffer>;
}
