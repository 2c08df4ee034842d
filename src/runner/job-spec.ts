import { z } from 'zod';
import {
  AasError,
  boundWords,
  closestName,
  isSafeIntegerBound,
  shownValue,
  valueAt,
} from '../kernel/index.js';
import { PolicyLayerSchema, validatePolicyLayer } from '../policy/index.js';
import { branchNameProblem } from './branch-name-problem.js';

/** Worker labels: what `AAS_WORKER_LABELS` and `aas worker enrol --labels` accept too. */
export const WORKER_LABEL_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/**
 * What a run may be pinned to: a remote worker's name (enrolment allows no other). Anything else
 * could never be claimed, and the run would wait queued for good. An embedded worker's id
 * (`worker:HOST:PID:N`, as `aas workers` lists it) parses too, so that runs stored with one
 * still read, but submission refuses it: the id ends with its server process (checkSubmittable).
 */
export const WORKER_PIN_PATTERN =
  /^(?:[a-z0-9][a-z0-9._-]{0,63}|worker:[^\s:]{1,253}:\d{1,10}:\d{1,5})$/;

const ValidatorSchema = z
  .object({
    name: z.string().min(1).max(64).optional(),
    command: z.string().min(1, 'a validator needs a command'),
    timeoutSec: z.number().int().positive().max(86_400).default(600),
  })
  .strict();

/** What a run is asked to do. `requestedBy` is deliberately absent: it comes from the caller's identity. */
export const JobSpecSchema = z
  .object({
    task: z.string().min(1, 'describe the task').max(100_000),
    repo: z.string().min(1, 'name a repository path'),
    baseRef: z.string().min(1).optional(),
    agent: z.string().min(1, 'name an agent'),
    fallbackAgents: z.array(z.string().min(1)).max(8).default([]),
    policy: PolicyLayerSchema.optional(),
    validators: z.array(ValidatorSchema).max(32).default([]),
    promotion: z
      .object({
        mode: z.enum(['patch', 'branch', 'draft_pr']).default('patch'),
        targetBranch: z
          .string()
          .min(1)
          .max(200)
          // What runs stored before refusals grew stricter may hold; a new job is held to
          // git's rules as it is submitted (checkTargetBranch).
          .regex(/^(?!-)[^\s~^:?*[\\]+$/, 'a branch name')
          .optional(),
        /**
         * `owner/name` of the repository on the forge, for a remote whose URL does not say
         * (a mirror, a local path); by default it is read from the remote's URL.
         */
        repository: z
          .string()
          .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'a repository as owner/name')
          .optional(),
      })
      .strict()
      .default({ mode: 'patch' }),
    retries: z.number().int().min(0).max(10).default(0),
    /** Queue order: higher first, then oldest first. */
    priority: z.number().int().min(-1000).max(1000).default(0),
    /**
     * How often a queued run whose worker died (lease expired) or shut down is put back in the
     * queue, with jittered backoff, before it ends INTERRUPTED.
     */
    interruptRetries: z.number().int().min(0).max(10).default(1),
    labels: z.array(z.string().min(1).max(64)).max(32).default([]),
    /** Worker labels the run needs: only a worker carrying every one of them claims it. */
    requireLabels: z
      .array(
        z
          .string()
          .regex(
            WORKER_LABEL_PATTERN,
            'a worker label: 1-64 of a-z 0-9 . _ -, starting with a letter or digit',
          ),
      )
      .max(16)
      .default([]),
    /** Pins the run to the remote worker of this name. */
    worker: z
      .string()
      .regex(
        WORKER_PIN_PATTERN,
        "a remote worker's name: 1-64 of a-z 0-9 . _ -, starting with a letter or digit",
      )
      .optional(),
    allowDirtyBase: z.boolean().default(false),
    keepWorkspace: z.boolean().default(false),
    /** Agent-specific input: `{ command }` for the command agent, `{ mock }` for the mock agent. */
    agentInput: z.unknown().optional(),
  })
  .strict();

export type JobSpec = z.infer<typeof JobSpecSchema>;
export type JobSpecInput = z.input<typeof JobSpecSchema>;

/** Validate a job; errors name the file (when there is one) and the exact field. */
export function parseJobSpec(value: unknown, source: { file?: string } = {}): JobSpec {
  if (typeof value === 'object' && value !== null && 'requestedBy' in value) {
    throw new AasError(
      'JOB_INVALID',
      'requestedBy cannot be set in a job: it is taken from your identity',
      {
        ...(source.file ? { file: source.file } : {}),
        field: 'requestedBy',
        hint: 'remove the field',
      },
    );
  }
  const parsed = JobSpecSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  // Unknown fields first: a misspelt field often explains the rest (a required one "missing").
  const first =
    parsed.error.issues.find((candidate) => candidate.code === 'unrecognized_keys') ??
    parsed.error.issues[0];
  // A field's own limit (retries ≤ 10) says more than zod's whole-number check on the same path.
  const issue =
    first !== undefined && isSafeIntegerBound(first)
      ? (parsed.error.issues.find(
          (other) =>
            other.path.join('.') === first.path.join('.') &&
            other.code.startsWith('too_') &&
            !isSafeIntegerBound(other),
        ) ?? first)
      : first;
  if (issue?.path[0] === 'policy' && typeof value === 'object' && value !== null) {
    // The inline layer gets the words a policy file's problems get.
    validatePolicyLayer('policy' in value ? value.policy : undefined, {
      ...(source.file ? { file: source.file } : {}),
      fieldPrefix: 'policy',
      code: 'JOB_INVALID',
    });
  }
  const described = describeJobIssue(issue, value);
  throw new AasError('JOB_INVALID', described.message, {
    ...(source.file ? { file: source.file } : {}),
    field: described.field,
    hint: described.hint ?? 'see the JobSpec fields in the README',
  });
}

/** One validation issue of a job in words a person can act on, naming the field. */
function describeJobIssue(
  issue: z.core.$ZodIssue | undefined,
  input: unknown,
): { field: string; message: string; hint?: string } {
  if (issue === undefined) return { field: '(job)', message: 'invalid job' };
  const path = issue.path.map(String);
  const field = path.join('.') || '(job)';
  switch (issue.code) {
    case 'unrecognized_keys': {
      const [key = ''] = issue.keys;
      const known = path.length === 0 ? Object.keys(JobSpecSchema.shape) : [];
      const near = closestName(key, known);
      return {
        field: [...path, key].join('.'),
        message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`,
        hint:
          near !== null
            ? `did you mean "${near}"?`
            : known.length > 0
              ? `the fields of a job are ${known.join(', ')}`
              : 'remove it; see the JobSpec fields in the README',
      };
    }
    case 'invalid_type': {
      const given = valueAt(input, issue.path);
      if (given === undefined) return { field, message: `${field} is required` };
      return { field, message: `expected ${issue.expected}, got ${shownValue(given)}` };
    }
    case 'too_big':
    case 'too_small':
      return {
        field,
        message: boundWords(issue, valueAt(input, issue.path)) ?? issue.message,
      };
    case 'invalid_format': {
      // The value refused, then what would do: the rule alone leaves the reader to find it.
      const given = valueAt(input, issue.path);
      return {
        field,
        message:
          given === undefined ? issue.message : `${shownValue(given)} is not ${issue.message}`,
      };
    }
    default:
      return { field, message: issue.message };
  }
}

/**
 * What a worker must offer to claim a run of `job` (see `WorkerMatch` in the store): its
 * required labels, its pinned worker, and every agent it may run (primary and fallbacks are all
 * checked before the first attempt, so a worker lacking any one of them could not start it).
 */
export function runRequirements(job: JobSpec): string[] {
  return [
    ...job.requireLabels.map((label) => `label:${label}`),
    ...(job.worker === undefined ? [] : [`worker:${job.worker}`]),
    ...[job.agent, ...job.fallbackAgents].map((agent) => `agent:${agent}`),
  ];
}

/**
 * Refuses a job whose promotion target git would not take as a branch name (`main..x`, `HEAD`,
 * `refs/heads/main`, which names `main` the long way): found at submission rather than at
 * promotion, after the run and its approvals. Not part of the schema, so a run or schedule
 * stored with such a name still reads (and meets the refusal at promotion, or its next fire).
 */
export function checkTargetBranch(job: JobSpec): void {
  const target = job.promotion.targetBranch;
  if (target === undefined) return;
  const problem = branchNameProblem(target);
  if (problem === null) return;
  throw new AasError('JOB_INVALID', `not a branch name: ${problem}`, {
    field: 'promotion.targetBranch',
    hint: 'name the branch to promote onto as git does: main, release/1.x',
  });
}
