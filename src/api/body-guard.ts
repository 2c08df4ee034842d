/**
 * What a JSON body may contain beyond what its schema says. Found by fuzzing the API against
 * both databases: PostgreSQL refuses U+0000 in text (the insert failed with a 500), a lone
 * UTF-16 surrogate is silently rewritten to U+FFFD when stored (the job on record would differ
 * from the job submitted), and a free-form field nested ten thousand levels deep overflowed the
 * stack of the recursive code that hashes and serialises events. All three are refused up front,
 * naming the field.
 */

export const MAX_BODY_DEPTH = 64;

/** A surrogate that is not half of a pair (`u` mode matches a pair as one code point). */
const LONE_SURROGATE = /\p{Cs}/u;

/** False for text no database here can store as given: U+0000 or an unpaired surrogate. */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

export interface BodyProblem {
  /** Path of the offending value or key, e.g. `agentInput.steps.3`. */
  readonly field: string;
  readonly message: string;
}

/** The first problem in `body`, depth-first; null when it can be stored as sent. Iterative. */
export function findBodyProblem(body: unknown): BodyProblem | null {
  const stack: { value: unknown; path: readonly string[] }[] = [{ value: body, path: [] }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value, path } = next;
    const field = path.length > 0 ? path.join('.') : '(body)';
    if (typeof value === 'string') {
      if (!isStorableText(value)) {
        return { field, message: 'text must not contain U+0000 or an unpaired surrogate' };
      }
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (path.length >= MAX_BODY_DEPTH) {
      return { field, message: `values may nest at most ${MAX_BODY_DEPTH} levels deep` };
    }
    const entries: [string, unknown][] = Array.isArray(value)
      ? value.map((item, index) => [String(index), item])
      : Object.entries(value);
    // Reversed onto the stack, so the first key is examined first.
    for (let index = entries.length - 1; index >= 0; index -= 1) {
      const entry = entries[index];
      if (entry === undefined) continue;
      const [key, item] = entry;
      if (!isStorableText(key)) {
        return {
          field: [...path, key].join('.'),
          message: 'a key must not contain U+0000 or an unpaired surrogate',
        };
      }
      stack.push({ value: item, path: [...path, key] });
    }
  }
  return null;
}
