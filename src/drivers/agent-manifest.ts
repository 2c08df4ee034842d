import { posix } from 'node:path';
import { z } from 'zod';

/** Agent ids become directory and file names elsewhere, so the alphabet is closed. */
export const AGENT_ID_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;

export function isAgentId(value: string): boolean {
  return AGENT_ID_PATTERN.test(value);
}

/** A command name looked up on the agent's PATH: no slashes, so never a relative path. */
const BARE_COMMAND = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** AEP_* variables describe the attempt; the runner sets them and nothing may shadow them. */
export const RESERVED_ENV_PREFIX = 'AEP_';
const CAPABILITY = /^[a-z][a-z0-9_.:-]{0,63}$/;

// execve() rejects NUL bytes; catching them here names the field instead of failing at spawn.
const noNul = (value: string): boolean => !value.includes('\0');

const ArgSchema = z.string().max(131_072).refine(noNul, 'must not contain NUL bytes');

export const AgentManifestSchema = z.strictObject({
  id: z.string().regex(AGENT_ID_PATTERN, 'must match ^[a-z][a-z0-9_-]{0,63}$'),
  description: z.string().max(2000).optional(),
  entrypoint: z
    .string()
    .min(1)
    .max(4096)
    .refine(noNul, 'must not contain NUL bytes')
    .refine(
      (value) => posix.isAbsolute(value) || BARE_COMMAND.test(value),
      'must be an absolute path or a bare command name resolved on PATH (relative paths are ambiguous)',
    ),
  args: z.array(ArgSchema).max(256).default([]),
  /** Fixed variables the agent always gets (after host pass-through, before AEP_*). */
  env: z
    .record(
      z
        .string()
        .regex(ENV_NAME, 'must be a valid environment variable name')
        .refine((name) => !name.startsWith(RESERVED_ENV_PREFIX), 'AEP_* variables are reserved'),
      z.string().max(32_768).refine(noNul, 'must not contain NUL bytes'),
    )
    .default({}),
  /**
   * Host directories the agent needs to see read-only inside the sandbox (its own install
   * directory, for instance). An absolute entrypoint's install directory is added
   * automatically (agentInstallPaths: `/opt/x` for `/opt/x/bin/x`, else the entrypoint's own
   * directory); the system toolchain is always visible.
   */
  readOnlyPaths: z
    .array(
      z
        .string()
        .max(4096)
        .refine(noNul, 'must not contain NUL bytes')
        .refine((value) => posix.isAbsolute(value), 'must be an absolute path'),
    )
    .max(64)
    .default([]),
  /**
   * The agent-manifest policy layer. Stored unvalidated on purpose: the `policy` context owns
   * the schema and the runner validates this layer with it (a missing or invalid layer
   * denies). Keeping it `unknown` here keeps `drivers` free of a dependency on `policy`.
   */
  policy: z.unknown().optional(),
  capabilities: z
    .array(z.string().regex(CAPABILITY, 'must match ^[a-z][a-z0-9_.:-]{0,63}$'))
    .max(64)
    .default([]),
  /**
   * Model providers whose APIs the agent calls. Each call goes through AAS's model gateway: the
   * agent gets the gateway's address and a per-run placeholder key in the provider's usual
   * variables (ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY, OPENAI_BASE_URL / OPENAI_API_KEY,
   * GOOGLE_GEMINI_BASE_URL / GEMINI_API_KEY), never
   * a real credential, and every call is costed and held to the run's budget.
   */
  modelGateway: z
    .array(z.enum(['anthropic', 'openai', 'google']))
    .max(3)
    .default([]),
  /**
   * `file`: success needs exit 0 AND a valid driver_result.json with status succeeded/partial.
   * `exit-code`: the result is synthesised from the exit code (for plain commands).
   */
  result: z.enum(['file', 'exit-code']).default('file'),
});

export type AgentManifest = z.output<typeof AgentManifestSchema>;
/** What a manifest author writes: defaults may be omitted. */
export type AgentManifestInput = z.input<typeof AgentManifestSchema>;
export type AgentResultMode = AgentManifest['result'];
