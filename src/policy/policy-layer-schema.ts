import { z } from 'zod';
import { globProblem } from './glob-problem.js';
import { parseHostPattern } from './host-pattern.js';

const glob = z.string().superRefine((pattern, ctx) => {
  const problem = globProblem(pattern);
  if (problem)
    ctx.addIssue({ code: 'custom', message: problem.message, params: { hint: problem.hint } });
});

const hostEntry = z.string().superRefine((entry, ctx) => {
  const parsed = parseHostPattern(entry);
  if (!parsed.ok)
    ctx.addIssue({ code: 'custom', message: parsed.message, params: { hint: parsed.hint } });
});

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const SandboxMode = { required: 'required', preferred: 'preferred', off: 'off' } as const;
export type SandboxMode = (typeof SandboxMode)[keyof typeof SandboxMode];

/**
 * One policy layer, as written in `.aas/policy.yaml`, an agent manifest or a job. Every field
 * is optional: an absent field means "this layer does not constrain that", never "allow
 * everything". Strict objects, so a misspelt key (`deny_paths`) is an error rather than a
 * rule that silently does nothing.
 */
export const PolicyLayerSchema = z.strictObject({
  version: z.literal(1).optional(),
  paths: z
    .strictObject({
      allow: z.array(glob).optional(),
      deny: z.array(glob).optional(),
      runtime: z.array(glob).optional(),
    })
    .optional(),
  network: z
    .union([z.enum(['disabled', 'full']), z.strictObject({ allow: z.array(hostEntry) })])
    .optional(),
  tools: z.array(z.string().min(1).regex(/^\S+$/, 'tool names contain no whitespace')).optional(),
  env: z
    .strictObject({
      allow: z
        .array(
          z
            .string()
            .regex(
              ENV_NAME,
              'an environment variable name is letters, digits and _, not starting with a digit',
            )
            .refine(
              (name) => !name.startsWith('AAS_'),
              "AAS_* variables are the control plane's own configuration and secrets: they never reach an agent",
            ),
        )
        .optional(),
    })
    .optional(),
  limits: z
    .strictObject({
      timeoutSec: z.int().positive().optional(),
      maxChangedFiles: z.int().nonnegative().optional(),
      maxPatchLines: z.int().nonnegative().optional(),
      maxOutputBytes: z.int().positive().optional(),
      cpuSec: z.int().positive().optional(),
      maxProcesses: z.int().positive().optional(),
      maxMemoryBytes: z.int().positive().optional(),
      maxFileBytes: z.int().positive().optional(),
      maxWorkspaceGrowthBytes: z.int().positive().optional(),
      maxCostUsd: z.number().nonnegative().optional(),
      maxInputTokens: z.int().nonnegative().optional(),
      maxOutputTokens: z.int().nonnegative().optional(),
    })
    .optional(),
  binaryChanges: z.boolean().optional(),
  sandbox: z.enum(['required', 'preferred', 'off']).optional(),
  promotion: z
    .strictObject({
      approvals: z.int().nonnegative().optional(),
      requireDistinctApprover: z.boolean().optional(),
      protectedBranches: z
        .array(
          z
            .string()
            .min(1)
            .regex(/^[^\s\0]+$/, 'a branch name contains no whitespace'),
        )
        .optional(),
      onBaseMoved: z.enum(['revalidate', 'block']).optional(),
    })
    .optional(),
});

export type PolicyLayer = z.infer<typeof PolicyLayerSchema>;
