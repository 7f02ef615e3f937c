/**
 * The tool round: the model's tool calls for one reply run in order, each bounded by a deadline, and
 * every call's result has its slot in the history from the start. A call that throws, times out or
 * was never started still leaves a result the model can read, and an action a tool announces
 * (transfer, goodbye) is handed to the turn, which performs it once it has been heard.
 */
import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import { within } from '../platform/within';
import type { ChatMessage, ToolCall } from '../providers/types';
import { PHRASES } from './phrases';
import type { CallOutcome, ToolRunner } from './ports';
import type { ActiveTurn, AssistantMessage, ToolMessage } from './turn';

const TOOL_TIMEOUT_MS = 8000;

// What the model reads in place of a tool result it cannot have (yet). A result that comes later
// replaces its placeholder in place.
const PENDING_RESULT = JSON.stringify({
  status: 'pending',
  message: 'Still running when the caller spoke; the result is not known yet.',
});
const NOT_RUN_RESULT = JSON.stringify({
  error: { code: 'INTERRUPTED', message: 'Not run: the caller spoke before it started.' },
});
const TIMEOUT_RESULT = JSON.stringify({
  error: { code: 'TIMEOUT', message: 'No answer in time; it may still complete.' },
});
const TOOL_FAILED = { error: { code: 'TOOL_FAILED', message: 'The tool failed.' } };

type ToolRun = Awaited<ReturnType<ToolRunner['execute']>>;

/** The agent's options a tool round reads (the agent passes its own, read as each round runs). */
export interface ToolRoundDeps {
  log: Logger;
  metrics?: Metrics;
  tools: ToolRunner;
  fillerAfterMs?: number;
  toolTimeoutMs?: number;
}

/** Runs each of one call's tool rounds against that call's history. */
export class ToolRounds {
  readonly #d: ToolRoundDeps;
  readonly #history: ChatMessage[];
  readonly #callerContext: () => { lastCallerText: string; callerTurnCount: number };
  readonly #raiseOutcome: (outcome: CallOutcome) => void;

  constructor(
    deps: ToolRoundDeps,
    call: {
      history: ChatMessage[];
      /** What the caller last said and how many turns they have had: the tools' confirmation gate. */
      callerContext: () => { lastCallerText: string; callerTurnCount: number };
      raiseOutcome: (outcome: CallOutcome) => void;
    },
  ) {
    this.#d = deps;
    this.#history = call.history;
    this.#callerContext = call.callerContext;
    this.#raiseOutcome = call.raiseOutcome;
  }

  /**
   * OpenAI refuses, with a 400 on this and every later request of the call, a history in which an
   * assistant message's tool_calls are not followed at once by one tool message per call. A caller
   * turn can start while a tool runs, so the calls and a slot for each result enter the history
   * together, before anything awaits; a slot shows a placeholder until its result comes, and the
   * result replaces it in place even after a barge-in: a booking that happened is never lost to
   * the model.
   */
  async run(turn: ActiveTurn, message: AssistantMessage, calls: ToolCall[]): Promise<void> {
    const signal = turn.controller.signal;
    message.tool_calls = calls;
    const slots: ToolMessage[] = calls.map((c) => ({
      role: 'tool',
      tool_call_id: c.id,
      content: PENDING_RESULT,
    }));
    const at = this.#history.indexOf(message);
    if (at < 0) this.#history.push(message, ...slots);
    else this.#history.splice(at + 1, 0, ...slots);
    let filler: NodeJS.Timeout | undefined = setTimeout(() => {
      filler = undefined;
      // Only when nothing else is being said: a filler over the model's own words would be noise.
      if (turn.speech.sentences.length === 0) turn.speech.sayPhrase(PHRASES.filler);
    }, this.#d.fillerAfterMs ?? 700);
    try {
      for (const [i, call] of calls.entries()) {
        const slot = slots[i] as ToolMessage;
        // The caller has moved on: what the model asked for before they spoke is not started now.
        if (signal.aborted) {
          slot.content = NOT_RUN_RESULT;
          continue;
        }
        // Tools are short database operations: let a started write finish even if the caller barges in.
        const r = await this.#execute(call, slot);
        if (!r) continue;
        slot.content = resultJson(r);
        this.#d.metrics?.toolCalls.inc({ tool: call.function.name, result: isError(r) ? 'error' : 'ok' });
        // An action's outcome ("transferred") is the agent's to claim when it performs it: it may yet fail.
        if (r.outcome && !r.action) this.#raiseOutcome(r.outcome);
        if (r.action && !signal.aborted) turn.action = r.action;
      }
    } finally {
      if (filler) clearTimeout(filler);
    }
  }

  /**
   * One tool call, bounded: a stuck query must not hang the turn. Past the deadline the model reads
   * TIMEOUT and this returns null; a result that still comes replaces the TIMEOUT in `slot`.
   */
  async #execute(call: ToolCall, slot: ToolMessage): Promise<ToolRun | null> {
    const name = call.function.name;
    const run = this.#d.tools
      .execute(name, call.function.arguments, this.#callerContext())
      .catch((err: unknown): ToolRun => {
        // A throwing tool must still leave a result in its slot, or the history stays invalid.
        this.#d.log.error({ err: { message: (err as Error).message }, tool: name }, 'tool failed');
        return { result: TOOL_FAILED };
      });
    // `run` never rejects (a throw is TOOL_FAILED), so within()'s rejection is the deadline.
    const r = await within(run, this.#d.toolTimeoutMs ?? TOOL_TIMEOUT_MS).catch(() => null);
    if (r) return r;
    slot.content = TIMEOUT_RESULT;
    this.#d.metrics?.toolCalls.inc({ tool: name, result: 'error' });
    this.#d.log.warn({ tool: name }, 'tool timed out');
    void run.then((late) => {
      slot.content = resultJson(late);
      if (late.outcome && !late.action) this.#raiseOutcome(late.outcome);
      this.#d.log.warn({ tool: name }, 'tool answered after its deadline');
    });
    return null;
  }
}

function resultJson(r: ToolRun): string {
  return JSON.stringify(r.result) ?? 'null';
}

function isError(r: ToolRun): boolean {
  return typeof r.result === 'object' && r.result !== null && 'error' in r.result;
}
