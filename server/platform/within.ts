/**
 * `promise`, or a rejection with `timeoutError()` once `ms` have passed. The promise carries on (it
 * may still fill a cache or take a lock); its late rejection is never unhandled.
 */
export function within<T>(
  promise: Promise<T>,
  ms: number,
  timeoutError: () => Error = () => new Error(`no answer within ${ms} ms`),
): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
