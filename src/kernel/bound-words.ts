/** The parts of a validation issue (zod's `too_big` / `too_small`) a bound is read from. */
export interface BoundIssue {
  readonly code: string;
  readonly message?: string;
  readonly origin?: unknown;
  readonly maximum?: unknown;
  readonly minimum?: unknown;
  readonly inclusive?: unknown;
}

/**
 * A size or range issue in words a person acts on (`must be at most 10, got 11`), or null when
 * it is not one or the schema gave its own message (`describe the task` says it better). Zod's
 * own words name its internal types and, for whole numbers, the largest safe integer rather than
 * the field's limit (`Too big: expected int to be <=9007199254740991`).
 */
export function boundWords(issue: BoundIssue, given: unknown): string | null {
  if (issue.code !== 'too_big' && issue.code !== 'too_small') return null;
  if (issue.message !== undefined && !/^Too (big|small)\b/.test(issue.message)) return null;
  const big = issue.code === 'too_big';
  const bound = big ? issue.maximum : issue.minimum;
  if (typeof bound !== 'number' && typeof bound !== 'bigint') return null;
  const exclusive = issue.inclusive === false;
  const unit = issue.origin === 'string' ? ' characters' : issue.origin === 'array' ? ' items' : '';
  if (!big && unit !== '' && Number(bound) === 1 && !exclusive) return 'must not be empty';
  const relation = big ? (exclusive ? 'below' : 'at most') : exclusive ? 'above' : 'at least';
  // Past the largest safe integer the value is no count anyone meant: the bound says enough.
  const shown = typeof given === 'number' && Number.isSafeInteger(given) ? `, got ${given}` : '';
  const limit =
    Math.abs(Number(bound)) >= Number.MAX_SAFE_INTEGER
      ? `a whole number ${big ? 'below 2^53' : 'above -2^53'}`
      : String(bound);
  return `must be ${relation} ${limit}${unit}${shown}`;
}

/**
 * Whether the issue is only zod's whole-number check (`int()` stops at 2^53 − 1): a field with
 * a limit of its own reports that limit in another issue on the same path, which says more.
 */
export function isSafeIntegerBound(issue: BoundIssue): boolean {
  if (issue.code !== 'too_big' && issue.code !== 'too_small') return false;
  const bound = issue.code === 'too_big' ? issue.maximum : issue.minimum;
  return typeof bound === 'number' && Math.abs(bound) >= Number.MAX_SAFE_INTEGER;
}
