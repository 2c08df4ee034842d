import { expect } from 'vitest';
import { AasError } from '../../src/kernel/index.js';

/** The AasError `promise` rejects with; fails the test when it resolves or throws anything else. */
export async function refusal(promise: Promise<unknown>): Promise<AasError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AasError);
  return error as AasError;
}
