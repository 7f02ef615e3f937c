/**
 * A CallAgent wired to scripted fakes, for the tests of tool rounds and call actions: an LLM that
 * records every request and can pause mid-stream, a TTS that makes audio of any text, an output
 * that records marks and clears, and call control and tools the test sets.
 */
import { CallAgent, type AgentDeps, type AgentTurn } from '../../../server/conversation/agent';
import { PhraseCache } from '../../../server/conversation/phrases';
import type { ToolRunner } from '../../../server/conversation/ports';
import type {
  ChatMessage,
  LlmChunk,
  LlmProvider,
  ToolCall,
  ToolSpec,
  TtsProvider,
} from '../../../server/providers/types';
import { createLogger } from '../../../server/platform/logger';

/** A script's step: a chunk to stream, or a promise the stream waits on before going on. */
export type Step = LlmChunk | Promise<void>;

/** A reply's script, or an error the stream throws instead of replying. */
export type Script = Step[] | Error;

export class ScriptedLlm implements LlmProvider {
  readonly name = 'scripted-llm';
  readonly requests: ChatMessage[][] = [];
  constructor(private readonly scripts: Script[]) {}
  async *stream(req: {
    messages: ChatMessage[];
    tools: ToolSpec[];
    signal: AbortSignal;
  }): AsyncIterable<LlmChunk> {
    this.requests.push(structuredClone(req.messages));
    const script = this.scripts.shift() ?? [{ type: 'text', text: 'Okay.' }];
    if (script instanceof Error) throw script;
    for (const step of script) {
      if (step instanceof Promise) await step;
      else await new Promise((r) => setImmediate(r));
      if (req.signal.aborted) return;
      if (!(step instanceof Promise)) yield step;
    }
  }
}

export class FakeTts implements TtsProvider {
  readonly name = 'fake-tts';
  readonly texts: string[] = [];
  async *synthesize(text: string): AsyncIterable<Buffer> {
    this.texts.push(text);
    yield Buffer.alloc(text.length * 10, 0x55);
  }
}

export const text = (t: string): LlmChunk => ({ type: 'text', text: t });

export const toolCalls = (...calls: Array<[id: string, name: string]>): LlmChunk => ({
  type: 'tool_calls',
  calls: calls.map(([id, name]): ToolCall => ({ id, type: 'function', function: { name, arguments: '{}' } })),
});

/** A promise and the function that settles it: a tool or a stream held until the test says. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

export const settle = (ms = 30) => new Promise((r) => setTimeout(r, ms));

export function agentHarness(
  scripts: Script[],
  opts: {
    execute?: ToolRunner['execute'];
    control?: AgentDeps['control'];
    toolTimeoutMs?: number;
    holdOnAfterMs?: number;
    holdAgainAfterMs?: number;
  } = {},
) {
  const llm = new ScriptedLlm(scripts);
  const tts = new FakeTts();
  const marks: string[] = [];
  const turns: AgentTurn[] = [];
  const echoed = new Set<string>();
  let clears = 0;
  const control = { transfers: 0, hangups: 0 };
  // Built apart from the constructor call, so the options this file passes type-check against an
  // agent that lacks some of them (the tests run against the code before its fixes too).
  const deps: AgentDeps & Record<string, unknown> = {
    callSid: 'CA1',
    log: createLogger({ level: 'silent' }),
    llm,
    tts,
    phrases: new PhraseCache(tts),
    tools: { specs: [], execute: opts.execute ?? (async () => ({ result: { ok: true } })) },
    systemPrompt: 'system',
    output: {
      push: () => undefined,
      mark: (m) => marks.push(m),
      clear: () => {
        clears++;
        return { unplayed: marks.filter((m) => !echoed.has(m)) };
      },
    },
    control: opts.control ?? {
      transfer: async () => {
        control.transfers++;
      },
      hangup: async () => {
        control.hangups++;
      },
    },
    onTurn: (t) => turns.push(t),
    onState: () => undefined,
    fillerAfterMs: 1000,
    controlRetryDelaysMs: [5, 5],
    ...(opts.toolTimeoutMs === undefined ? {} : { toolTimeoutMs: opts.toolTimeoutMs }),
    ...(opts.holdOnAfterMs === undefined ? {} : { holdOnAfterMs: opts.holdOnAfterMs }),
    ...(opts.holdAgainAfterMs === undefined ? {} : { holdAgainAfterMs: opts.holdAgainAfterMs }),
  };
  const agent = new CallAgent(deps);
  /** Twilio echoes a mark: the caller has heard everything before it. */
  const echo = (m: string) => {
    echoed.add(m);
    agent.onMark(m);
  };
  /** Echoes every mark sent so far, as a caller who listened to the end would. */
  const echoAll = () => marks.filter((m) => !echoed.has(m)).forEach(echo);
  return { agent, llm, tts, marks, turns, control, echo, echoAll, clears: () => clears };
}
