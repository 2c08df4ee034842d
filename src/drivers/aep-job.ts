import { z } from 'zod';
import { AGENT_ID_PATTERN } from './agent-manifest.js';

export const AEP_PROTOCOL = 'aep/v1';

/**
 * job.json: what the runner tells the agent about one attempt. Drivers own the protocol, so
 * the schema lives here; the runner builds it and `runDriver` validates it before writing.
 */
export const AepJobSchema = z.strictObject({
  protocol: z.literal(AEP_PROTOCOL),
  sessionId: z.string().min(1).max(200),
  runId: z.string().min(1).max(200),
  /** 1-based attempt number within the run. */
  attempt: z.number().int().min(1),
  agentId: z.string().regex(AGENT_ID_PATTERN),
  task: z.string(),
  /** Gates that failed on the previous attempt, so a retry can fix them. Empty on attempt 1. */
  feedback: z.array(z.strictObject({ gate: z.string(), detail: z.string() })),
  /** Human-readable digest of the merged policy, for the agent's prompt. */
  policySummary: z.string(),
  /** The job's `agentInput`, passed through untouched (e.g. `{ command }`, `{ mock }`). */
  input: z.unknown(),
  validators: z.array(z.strictObject({ name: z.string(), command: z.string() })),
});

export type AepJob = z.output<typeof AepJobSchema>;
