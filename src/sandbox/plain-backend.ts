import type { Clock } from '../kernel/index.js';
import { launchProcess } from './launch-process.js';
import { planResourceLimits } from './resource-limit-plan.js';
import type { SandboxBackend } from './sandbox-backend.js';

/**
 * Runs the process directly on the host: its own process group, an exact environment, cwd in
 * the workspace, time, output and resource limits. It does NOT confine the filesystem or the
 * network, so it reports `isolating: false` and policy `sandbox: required` never selects it.
 */
export function createPlainBackend(deps: { clock: Clock }): SandboxBackend {
  return {
    name: 'plain',
    isolating: false,
    syscallFilter: 'none',
    selfTest: () => Promise.resolve({ ok: true }),
    launch: async (spec) => {
      const plan = await planResourceLimits(
        spec.limits,
        (prefix) =>
          prefix.length === 0
            ? { command: spec.command, args: spec.args }
            : { command: prefix[0] ?? '', args: [...prefix.slice(1), spec.command, ...spec.args] },
        // Outside a user namespace RLIMIT_NPROC counts every process of the host user.
        { nprocFallback: false },
      );
      return launchProcess(spec, deps.clock, { ...plan, env: spec.env });
    },
  };
}
