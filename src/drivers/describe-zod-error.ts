import type { z } from 'zod';

export interface ZodProblem {
  /** Dotted path of the offending field (`env.FOO`, `args.2`), or '' for the whole document. */
  readonly field: string;
  readonly message: string;
}

/**
 * Turns a zod error into the first problem (for `details.field`) plus a one-line summary of
 * all of them, so an error message names the exact field a person has to fix.
 */
export function describeZodError(error: z.ZodError): { first: ZodProblem; summary: string } {
  const problems = error.issues.map(describeIssue);
  const first = problems[0] ?? { field: '', message: 'invalid value' };
  const summary = problems
    .slice(0, 5)
    .map((problem) =>
      problem.field === '' ? problem.message : `${problem.field}: ${problem.message}`,
    )
    .join('; ');
  const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
  return { first, summary: `${summary}${more}` };
}

function describeIssue(issue: z.core.$ZodIssue): ZodProblem {
  const path = issue.path.map(String);
  switch (issue.code) {
    case 'unrecognized_keys':
      return {
        field: [...path, issue.keys[0] ?? ''].filter((part) => part !== '').join('.'),
        message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`,
      };
    case 'invalid_key': {
      const reasons = issue.issues.map((inner) => inner.message).join(', ');
      return { field: path.join('.'), message: `invalid key: ${reasons}` };
    }
    default:
      return { field: path.join('.'), message: issue.message };
  }
}
