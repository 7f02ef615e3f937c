import type { EventEmitter } from 'node:events';

/**
 * Resolves once `predicate` holds, re-checking on each `event` from `emitter`; rejects after
 * `timeoutMs` (or if the predicate throws). Its timer and listener are removed either way.
 */
export function waitForEvent(
  emitter: EventEmitter,
  event: string,
  predicate: () => boolean,
  timeoutMs: number,
): Promise<void> {
  if (predicate()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      emitter.off(event, check);
      if (err) reject(err);
      else resolve();
    };
    const check = () => {
      try {
        if (predicate()) done();
      } catch (err) {
        done(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const timer = setTimeout(() => done(new Error(`waitFor timed out after ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    emitter.on(event, check);
  });
}
