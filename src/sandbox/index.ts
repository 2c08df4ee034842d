/**
 * The sandbox context: the only module that starts agent and validator processes. The
 * bubblewrap backend confines them (filesystem, network through an allow-listing proxy, user,
 * pid and other namespaces); every backend enforces time, output and resource limits.
 */
export { createBubblewrapBackend, DEFAULT_BWRAP_PATH } from './bubblewrap-backend.js';
export type { EgressDecision } from './egress-proxy.js';
export { ownInstallReadOnlyPaths } from './own-install-paths.js';
export { createPlainBackend } from './plain-backend.js';
export { probeSandboxHost, type SandboxHostReport } from './probe-sandbox-host.js';
export {
  type Confinement,
  DEFAULT_KILL_GRACE_MS,
  type LaunchOutcome,
  type LaunchSpec,
  type LimitHit,
  type LocalService,
  type ResourceLimits,
  type SandboxBackend,
  type SandboxBackendName,
  type SandboxNetwork,
  type SandboxSelfTest,
} from './sandbox-backend.js';
export { type SandboxMode, type SandboxSelection, selectSandbox } from './select-sandbox.js';
export {
  collectStaleTreeGroups,
  type LimitEnforcement,
  limitEnforcement,
} from './tree-accounting.js';
