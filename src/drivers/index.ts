/**
 * The drivers context: the Agent Execution Protocol (job.json in, driver_result.json and an
 * ndjson event log out), agent manifests and their registry, the built-in `mock` and
 * `command` agents, and `runDriver`, which runs one attempt through a sandbox backend.
 */
export { AEP_PROTOCOL, type AepJob, AepJobSchema } from './aep-job.js';
export { buildSandboxBaseEnv, SAFE_DEFAULT_PATH } from './agent-env.js';
export { checkAgentEntrypoint } from './agent-install-paths.js';
export {
  AGENT_ID_PATTERN,
  type AgentManifest,
  type AgentManifestInput,
  AgentManifestSchema,
  type AgentResultMode,
  isAgentId,
} from './agent-manifest.js';
export {
  type AgentRegistry,
  type AgentRegistryOptions,
  createAgentRegistry,
  type InvalidManifest,
  type UnavailableAgent,
} from './agent-registry.js';
export { type AttemptPaths, attemptPaths } from './attempt-paths.js';
export { builtinManifests, INPUT_COMMAND_ARG } from './builtin-manifests.js';
export type { DriverFailureCode } from './classify-attempt.js';
export { CLI_AGENT_IDS, CLI_AGENTS, type CliAgentId, isCliAgentId } from './cli-agents.js';
export {
  DRIVER_EVENT_TYPE_PATTERN,
  type DriverEvent,
  RESERVED_EVENT_PREFIX,
} from './driver-event.js';
export {
  DRIVER_STATUSES,
  type DriverResult,
  DriverResultSchema,
  type DriverStatus,
  isSuccessStatus,
  MAX_DRIVER_RESULT_BYTES,
  RECOMMENDED_ACTIONS,
  type RecommendedAction,
} from './driver-result.js';
export { DEFAULT_EVENT_LIMITS, type EventLimits } from './event-log-tailer.js';
export { loadManifestFile, type ManifestCheck } from './load-manifest-file.js';
export type { MockEdit, MockMisbehaviour, MockScript, MockStep } from './mock-script.js';
export { checkMockScript } from './mock-script-schema.js';
export { resolveAgentCommand } from './resolve-agent-command.js';
export { type DriverOutcome, type RunDriverOptions, runDriver } from './run-driver.js';
