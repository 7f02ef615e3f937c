/**
 * OpenAI Chat Completions emulator (`POST /v1/chat/completions`): SSE chunks shaped like the real
 * service (PROTOCOLS.md §2.2), tool-call arguments split across chunks, `data: [DONE]`; also the
 * non-streaming JSON answer. Replies come from a scriptable handler (default: the demo brain).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createDemoBrain } from './demo-brain';
import {
  FaultQueue,
  Recorder,
  StandaloneEmulator,
  bearerOf,
  pause,
  pauseFrom,
  readBody,
  sendJson,
  write,
  type Fault,
} from './http';

export interface ChatRequestBody {
  model?: string;
  messages?: unknown[];
  tools?: Array<{ type?: string; function?: { name?: string } }>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  [key: string]: unknown;
}

export interface ChatReply {
  text?: string;
  toolCalls?: Array<{ name: string; arguments: Record<string, unknown> | string; id?: string }>;
}

export type ChatHandler = (body: ChatRequestBody) => ChatReply | Promise<ChatReply>;

export interface ChatEmulatorOptions {
  /** When set, only this bearer token is accepted; otherwise any non-empty one. */
  apiKey?: string;
  handler?: ChatHandler;
  firstTokenMs?: number;
  chunkMs?: number;
}

const ARGUMENT_PIECE = 7;

export class ChatCompletionsEmulator extends StandaloneEmulator {
  /** Every request body received, oldest first (bounded). */
  readonly requests = new Recorder<ChatRequestBody>();
  readonly faults = new FaultQueue();
  /** Delay before the first chunk and between chunks, in ms. */
  readonly timing: { firstTokenMs: number; chunkMs: number };
  #handler: ChatHandler;
  readonly #apiKey: string | undefined;
  #seq = 0;

  constructor(opts: ChatEmulatorOptions = {}) {
    super();
    this.#apiKey = opts.apiKey;
    this.#handler = opts.handler ?? createDemoBrain();
    this.timing = { firstTokenMs: opts.firstTokenMs ?? 0, chunkMs: opts.chunkMs ?? 0 };
  }

  /** Replaces the reply policy; `respond(createDemoBrain())` restores the default. */
  respond(handler: ChatHandler): void {
    this.#handler = handler;
  }

  /** Shorthand for `faults.inject`. */
  fail(fault: Fault, times = 1): void {
    this.faults.inject(fault, times);
  }

  baseUrlFor(origin: string): string {
    return `${origin}/v1`;
  }

  handleRequest(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    if (url.pathname !== '/v1/chat/completions') return false;
    if (req.method !== 'POST') {
      sendJson(res, 405, openAiError('method not allowed', 'invalid_request_error'));
      return true;
    }
    this.#serve(req, res, performance.now()).catch((err: unknown) => {
      sendJson(res, 500, openAiError(`emulator failure: ${String(err)}`, 'server_error'));
    });
    return true;
  }

  shutdown(): void {
    // Live responses end with their connections, which the server closes.
  }

  async #serve(req: IncomingMessage, res: ServerResponse, arrivedAt: number): Promise<void> {
    const body = await readAuthorizedJson<ChatRequestBody>(req, res, this.#apiKey);
    if (!body) return;
    if (typeof body.model !== 'string' || !Array.isArray(body.messages)) {
      sendJson(res, 400, openAiError("'model' and 'messages' are required.", 'invalid_request_error'));
      return;
    }
    this.requests.add(body);
    // OpenAI refuses a malformed history on every request, so must the emulator: otherwise a test
    // cannot see the agent break it.
    const invalid = historyError(body.messages);
    if (invalid) {
      sendJson(res, 400, openAiError(invalid, 'invalid_request_error'));
      return;
    }
    const fault = this.faults.take();
    if (fault?.kind === 'status') {
      const headers: Record<string, string> = fault.status === 429 ? { 'retry-after': '1' } : {};
      const type =
        fault.status === 429
          ? 'rate_limit_exceeded'
          : fault.status >= 500
            ? 'server_error'
            : 'invalid_request_error';
      sendJson(res, fault.status, openAiError(`emulated ${fault.status}`, type), headers);
      return;
    }
    if (fault?.kind === 'stall' && fault.afterChunks === undefined) return;
    const reply = await this.#handler(body);
    const id = `chatcmpl-emu${++this.#seq}`;
    if (!body.stream) {
      if (await pauseFrom(res, arrivedAt, this.timing.firstTokenMs))
        sendJson(res, 200, completion(id, body.model, reply));
      return;
    }
    await this.#stream(res, id, body, reply, fault, arrivedAt);
  }

  async #stream(
    res: ServerResponse,
    id: string,
    body: ChatRequestBody,
    reply: ChatReply,
    fault: Fault | undefined,
    arrivedAt: number,
  ): Promise<void> {
    if (!(await pauseFrom(res, arrivedAt, this.timing.firstTokenMs))) return;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const created = Math.floor(Date.now() / 1000);
    const frame = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices, ...extra })}\n\n`;
    const deltas = chunkDeltas(reply);
    const frames = deltas.map((d, i) =>
      frame([
        {
          index: 0,
          delta: d,
          logprobs: null,
          finish_reason: i === deltas.length - 1 ? finishReason(reply) : null,
        },
      ]),
    );
    if (body.stream_options?.include_usage) {
      frames.push(
        frame([], {
          usage: { prompt_tokens: 10, completion_tokens: deltas.length, total_tokens: 10 + deltas.length },
        }),
      );
    }
    for (let i = 0; i < frames.length; i++) {
      if (i > 0 && !(await pause(res, this.timing.chunkMs))) return;
      if (fault?.kind === 'garbage' && i === 1) {
        await write(res, 'data: {"id":"chatcmpl-garbage","choices":[{"delta":\n\n');
        res.end();
        return;
      }
      if (fault?.kind === 'drop' && i === (fault.afterChunks ?? 1)) {
        res.socket?.destroy();
        return;
      }
      if (fault?.kind === 'stall' && i === fault.afterChunks) return;
      if (!(await write(res, frames[i] ?? ''))) return;
    }
    res.end('data: [DONE]\n\n');
  }
}

/**
 * The rules OpenAI enforces on a conversation's tool rounds (its messages, quoted): an assistant
 * message with `tool_calls` is followed at once by one `tool` message per call id; a `tool` message
 * appears nowhere else; an assistant message without tool calls has content. Null when all hold.
 */
export function historyError(messages: readonly unknown[]): string | null {
  const unanswered = (ids: Set<string>) =>
    "An assistant message with 'tool_calls' must be followed by tool messages responding to each " +
    `'tool_call_id'. The following tool_call_ids did not have response messages: ${[...ids].join(', ')}`;
  // The call ids of the tool round in progress, while its tool messages follow; null elsewhere.
  let open: Set<string> | null = null;
  for (const raw of messages) {
    const m = (raw ?? {}) as {
      role?: unknown;
      content?: unknown;
      tool_calls?: unknown;
      tool_call_id?: unknown;
    };
    if (m.role === 'tool') {
      if (!open?.delete(String(m.tool_call_id)))
        return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.";
      continue;
    }
    if (open && open.size > 0) return unanswered(open);
    open = null;
    if (m.role !== 'assistant') continue;
    if (Array.isArray(m.tool_calls) && m.tool_calls.length > 0)
      open = new Set(m.tool_calls.map((c) => String((c as { id?: unknown } | null)?.id)));
    else if (m.content === null || m.content === undefined)
      return "Invalid value for 'content': expected a string, got null.";
  }
  return open && open.size > 0 ? unanswered(open) : null;
}

/** Role first, then text a word at a time, then each tool call: name, then arguments in pieces. */
function chunkDeltas(reply: ChatReply): Array<Record<string, unknown>> {
  const deltas: Array<Record<string, unknown>> = [{ role: 'assistant', content: '', refusal: null }];
  for (const word of reply.text?.match(/\s*\S+/g) ?? []) deltas.push({ content: word });
  toolCalls(reply).forEach((call, index) => {
    deltas.push({
      tool_calls: [
        { index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } },
      ],
    });
    const args = call.function.arguments;
    for (let i = 0; i < args.length; i += ARGUMENT_PIECE) {
      deltas.push({ tool_calls: [{ index, function: { arguments: args.slice(i, i + ARGUMENT_PIECE) } }] });
    }
  });
  deltas.push({});
  return deltas;
}

function toolCalls(reply: ChatReply) {
  return (reply.toolCalls ?? []).map((c, i) => ({
    id: c.id ?? `call_emu${Date.now().toString(36)}${i}`,
    type: 'function' as const,
    function: {
      name: c.name,
      arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
    },
  }));
}

function finishReason(reply: ChatReply): 'tool_calls' | 'stop' {
  return reply.toolCalls?.length ? 'tool_calls' : 'stop';
}

function completion(id: string, model: string | undefined, reply: ChatReply): Record<string, unknown> {
  const calls = toolCalls(reply);
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: reply.text ?? null,
          refusal: null,
          ...(calls.length ? { tool_calls: calls } : {}),
        },
        logprobs: null,
        finish_reason: finishReason(reply),
      },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
  };
}

/**
 * The preamble of every OpenAI REST route: the bearer key (any, or the configured one) and a JSON
 * body. Answers 401/400 as OpenAI does and returns undefined when it has.
 */
export async function readAuthorizedJson<T>(
  req: IncomingMessage,
  res: ServerResponse,
  apiKey: string | undefined,
): Promise<T | undefined> {
  const key = bearerOf(req);
  if (!key || (apiKey !== undefined && key !== apiKey)) {
    sendJson(
      res,
      401,
      openAiError('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'),
    );
    return undefined;
  }
  try {
    return JSON.parse((await readBody(req)).toString('utf8')) as T;
  } catch {
    sendJson(
      res,
      400,
      openAiError('We could not parse the JSON body of your request.', 'invalid_request_error'),
    );
    return undefined;
  }
}

export function openAiError(
  message: string,
  type: string,
  code: string | null = null,
): Record<string, unknown> {
  return { error: { message, type, param: null, code } };
}
