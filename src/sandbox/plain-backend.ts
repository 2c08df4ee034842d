import type { Clock } from '../kernel/index.js';
import { launchProcess } from './launch-process.js';
import type { SandboxBackend } from './sandbox-backend.js';

/**
 * Runs the process directly on the host: its own process group, an exact environment, cwd in
 * the workspace, time and output limits. It does NOT confine the filesystem or the network,
 * so it reports `isolating: false` and policy `sandbox: required` never selects it.
 */
export function createPlainBackend(deps: { clock: Clock }): SandboxBackend {
  return {
    name: 'plain',
    isolating: false,
    selfTest: () => Promise.resolve({ ok: true }),
    launch: (spec) => launchProcess(spec, deps.clock),
  };
}
