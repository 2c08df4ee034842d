import { realpathSync } from 'node:fs';
import { resolve, sep } from 'node:path';

/** Whether `inner` is `outer` or lies below it (both absolute and normalised). */
export function isWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : `${outer}${sep}`);
}

/** `path` with its links resolved, or as written (made absolute) when it does not exist. */
export function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}
