/**
 * Freeze a plain value and everything inside it. Policies are shared between runs and cached
 * by identity (compiled matchers hang off them), so a mutation after the fact must throw
 * rather than silently desynchronise the cache from the object.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
