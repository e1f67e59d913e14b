/** How both frontends wait for the chain, which may answer synchronously or not. */
import { isPromise } from '../middleware/hook.js';

/**
 * Calls `finish(resp)` at once when `result` is a value and returns false (a throw then reaches
 * the caller), or when it resolves and returns true: one promise per request, a rejection or a
 * throw in `finish` goes to `fail` (never an unhandled rejection), and `done` runs after either.
 */
export function answer<R>(result: R | Promise<R>, finish: (resp: R) => void, fail: (err: unknown) => void, done?: () => void): boolean {
  if (!isPromise(result)) {
    finish(result);
    return false;
  }
  result.then((resp) => {
    try {
      finish(resp);
    } catch (err) {
      fail(err);
    }
    done?.();
  }, (err: unknown) => {
    fail(err);
    done?.();
  });
  return true;
}
