import { AasError } from '../kernel/index.js';

/**
 * Runs tasks one after another, in arrival order. A task whose `signal` aborted while it waited
 * its turn is not run at all (CANCELLED): a caller that gave up, such as a worker whose request
 * timed out and who will ask again, must not leave work queued in front of everyone else.
 */
export class OneAtATime {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const guarded = (): Promise<T> =>
      signal?.aborted === true
        ? Promise.reject(new AasError('CANCELLED', 'given up while waiting its turn'))
        : task();
    const result = this.#tail.then(guarded, guarded);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
