import { access, constants, realpath } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';

/**
 * The real path of an executable: `name` itself when absolute, else the first match on
 * `searchPath`. Undefined when there is none, so an agent that needs it is simply not offered.
 */
export async function findExecutable(
  name: string,
  searchPath: string | undefined,
): Promise<string | undefined> {
  const candidates = isAbsolute(name)
    ? [name]
    : (searchPath ?? '')
        .split(':')
        .filter(Boolean)
        .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return await realpath(candidate);
    } catch {
      // Not here: the next one.
    }
  }
  return undefined;
}
