import { z } from 'zod';
import { AasError } from '../kernel/index.js';
import { PolicyLayerSchema } from '../policy/index.js';

/** Worker labels: what `AAS_WORKER_LABELS` and `aas worker enrol --labels` accept too. */
export const WORKER_LABEL_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

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
          .regex(/^(?!-)[^\s~^:?*[\\]+$/, 'not a branch name')
          .optional(),
        /**
         * `owner/name` of the repository on the forge, for a remote whose URL does not say
         * (a mirror, a local path); by default it is read from the remote's URL.
         */
        repository: z
          .string()
          .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be owner/name')
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
          .regex(WORKER_LABEL_PATTERN, 'a worker label is lowercase [a-z0-9._-], at most 64'),
      )
      .max(16)
      .default([]),
    /** Pins the run to the worker of this name (remote, or an embedded worker's id). */
    worker: z.string().min(1).max(200).optional(),
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
  const issue = parsed.error.issues[0];
  const field = issue?.path.map(String).join('.') || '(job)';
  // zod 4 names unknown keys in its message already; older messages did not.
  const message = issue?.message ?? 'invalid job';
  const unknownKeys =
    issue?.code === 'unrecognized_keys' && !issue.keys.every((key) => message.includes(key))
      ? ` ${issue.keys.join(', ')}`
      : '';
  throw new AasError('JOB_INVALID', `${message}${unknownKeys}`, {
    ...(source.file ? { file: source.file } : {}),
    field,
    hint: 'see the JobSpec fields in the README',
  });
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
