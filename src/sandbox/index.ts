/**
 * The sandbox context: the only module that starts agent and validator processes.
 * Today it ships the plain (non-isolating) backend; an isolating backend implements
 * `SandboxBackend` and is offered to `selectSandbox` ahead of it.
 */
export { createPlainBackend } from './plain-backend.js';
export {
  DEFAULT_KILL_GRACE_MS,
  type LaunchOutcome,
  type LaunchSpec,
  type SandboxBackend,
  type SandboxBackendName,
  type SandboxSelfTest,
} from './sandbox-backend.js';
export { type SandboxMode, type SandboxSelection, selectSandbox } from './select-sandbox.js';
