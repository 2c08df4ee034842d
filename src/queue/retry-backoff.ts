/**
 * Delay before an interrupted run may be claimed again: exponential in the number of claims
 * already used, capped, with "full jitter" (a uniform draw in [delay/2, delay]) so runs that a
 * crashed worker dropped together do not all come back at the same instant.
 */
export function retryBackoffMs(
  claimsUsed: number,
  settings: { readonly baseMs: number; readonly maxMs: number },
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, claimsUsed - 1);
  const ceiling = Math.min(settings.maxMs, settings.baseMs * 2 ** Math.min(exponent, 30));
  const draw = random();
  // A broken jitter source (NaN, ±Infinity) must not produce a NaN delay: take the full step.
  const fraction = Number.isFinite(draw) ? Math.min(1, Math.max(0, draw)) : 1;
  return Math.round(ceiling / 2 + (ceiling / 2) * fraction);
}
