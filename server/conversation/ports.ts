import type { ToolSpec } from '../providers/types';

/** Where the agent's audio goes: the telephony layer paces it to Twilio and echoes marks back. */
export interface SpeechOutput {
  push(audio: Buffer): void;
  /** A named point after the audio pushed so far; `onMark(name)` fires when the caller has heard it. */
  mark(name: string): void;
  /** Drops unplayed audio at once; returns the marks that will now never count as heard. */
  clear(): { unplayed: string[] };
}

/**
 * What the agent can do to the call itself. A rejection with a retryable AppError (Twilio 429/5xx,
 * no answer) is retried briefly by the agent, so implementations do not retry themselves.
 */
export interface CallControl {
  transfer(): Promise<void>;
  hangup(): Promise<void>;
}

export type ToolAction = { type: 'transfer'; reason: string } | { type: 'end' };

export interface ToolRunner {
  readonly specs: ToolSpec[];
  /** The agent answers the model with a TIMEOUT past its deadline and keeps a later result. */
  execute(
    name: string,
    argsJson: string,
    ctx: { lastCallerText: string; callerTurnCount: number },
  ): Promise<{ result: unknown; outcome?: CallOutcome; action?: ToolAction }>;
}

export type CallOutcome =
  'booked' | 'rescheduled' | 'cancelled' | 'info' | 'transferred' | 'message' | 'abandoned' | 'failed';

export interface TurnLatency {
  sttMs: number | null;
  llmFirstTokenMs: number | null;
  ttsFirstByteMs: number | null;
  firstFrameMs: number | null;
  totalMs: number | null;
}

export const OUTCOME_RANK: Record<CallOutcome, number> = {
  abandoned: 0,
  failed: 1,
  info: 2,
  message: 3,
  transferred: 4,
  cancelled: 5,
  rescheduled: 6,
  booked: 7,
};
