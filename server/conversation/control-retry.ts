/**
 * The transfer or hang-up request, with brief retries of a retryable failure (Twilio 429/5xx or no
 * answer). Not once the call is gone: the first attempt may have worked after all, and a repeated
 * transfer would ring the desk twice.
 */
import { AppError } from '../platform/errors';
import type { CallControl, ToolAction } from './ports';

const CONTROL_RETRY_DELAYS_MS = [300, 1000] as const;
/** No transfer or hang-up retry starts later than this after the first attempt: dead air is worse. */
const CONTROL_RETRY_BUDGET_MS = 5000;

/** The agent's options a control request reads (the agent passes its own). */
export interface ControlDeps {
  control: CallControl;
  controlRetryDelaysMs?: readonly number[];
}

/** Performs `action` through the call control; throws the last error. */
export async function controlWithRetry(
  action: ToolAction,
  deps: ControlDeps,
  opts: { stopped: () => boolean; onError: (err: unknown) => void },
): Promise<void> {
  const started = performance.now();
  const delays = deps.controlRetryDelaysMs ?? CONTROL_RETRY_DELAYS_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      await (action.type === 'transfer' ? deps.control.transfer() : deps.control.hangup());
      return;
    } catch (err) {
      opts.onError(err);
      const delay = delays[attempt];
      const retryable = err instanceof AppError && err.retryable;
      const inBudget = delay !== undefined && performance.now() - started + delay <= CONTROL_RETRY_BUDGET_MS;
      if (!retryable || !inBudget) throw err;
      await new Promise((r) => setTimeout(r, delay));
      if (opts.stopped()) throw err;
    }
  }
}
