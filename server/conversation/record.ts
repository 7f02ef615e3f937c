/**
 * What a call leaves behind: the turns as the caller heard them, and its outcome. The outcome only
 * rises (a booking outranks an answered question), except that success replaces a failure.
 */
import { OUTCOME_RANK, type CallOutcome } from './ports';
import type { ActiveTurn } from './turn';

export interface AgentTurn {
  role: 'caller' | 'agent';
  text: string;
  at: string;
  interrupted: boolean;
}

export class CallRecord {
  outcome: CallOutcome = 'abandoned';
  #callerTurns = 0;
  #lastCallerText = '';
  readonly #d: { onTurn(turn: AgentTurn): void };

  /** `deps.onTurn` receives each turn as it is recorded (the agent passes its own options). */
  constructor(deps: { onTurn(turn: AgentTurn): void }) {
    this.#d = deps;
  }

  /** What the tools' confirmation gate reads: only the caller's own latest words count. */
  get callerContext(): { lastCallerText: string; callerTurnCount: number } {
    return { lastCallerText: this.#lastCallerText, callerTurnCount: this.#callerTurns };
  }

  caller(text: string): void {
    this.#callerTurns++;
    this.#lastCallerText = text;
    this.#d.onTurn({ role: 'caller', text, at: new Date().toISOString(), interrupted: false });
  }

  /** Records a turn's speech once; interrupted, only the sentences the caller heard. */
  agent(turn: ActiveTurn, interrupted: boolean): void {
    if (turn.recorded) return;
    turn.recorded = true;
    const spoken = turn.speech.sentences.filter((s) => !interrupted || s.heard).map((s) => s.text);
    if (spoken.length > 0)
      this.#d.onTurn({ role: 'agent', text: spoken.join(' '), at: new Date().toISOString(), interrupted });
  }

  raise(o: CallOutcome): void {
    if (OUTCOME_RANK[o] > OUTCOME_RANK[this.outcome] || this.outcome === 'failed') this.outcome = o;
  }

  /** Something broke: a call with nothing better to show for it failed. */
  failed(): void {
    if (this.outcome === 'abandoned') this.outcome = 'failed';
  }

  /** Final outcome: a caller who spoke and got answers without a write is an "info" call. */
  final(): CallOutcome {
    if (this.outcome === 'abandoned' && this.#callerTurns > 0) return 'info';
    return this.outcome;
  }
}
