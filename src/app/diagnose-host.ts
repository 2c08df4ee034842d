import type { AasConfig } from '../config/index.js';
import { type Clock, systemClock } from '../kernel/index.js';
import { probeSandboxHost } from '../sandbox/index.js';
import { workspaceStrategySupport } from '../workspaces/index.js';

export interface HostDiagnosis {
  /** `sandbox: required` can run here. */
  readonly isolationAvailable: boolean;
  /** The strategy `auto` will use for workspaces. */
  readonly workspaceStrategy: 'overlay' | 'worktree';
  readonly checks: readonly {
    readonly name: string;
    readonly ok: boolean;
    readonly detail: string;
  }[];
}

/** What this host supports, for `aas doctor`: sandbox, limits, workspace strategy. */
export async function diagnoseHost(
  config: AasConfig,
  options: { readonly nodePath: string; readonly clock?: Clock },
): Promise<HostDiagnosis> {
  const sandbox = await probeSandboxHost({
    clock: options.clock ?? systemClock,
    nodePath: options.nodePath,
    ...(config.bwrapPath === undefined ? {} : { bwrapPath: config.bwrapPath }),
  });
  const overlay = await workspaceStrategySupport();
  const strategy =
    config.workspaceStrategy === 'worktree' || !overlay.overlay ? 'worktree' : 'overlay';
  return {
    isolationAvailable: sandbox.isolationAvailable,
    workspaceStrategy: strategy,
    checks: [
      ...sandbox.checks,
      {
        name: 'overlay workspaces',
        ok: overlay.overlay,
        detail: overlay.overlay
          ? `overlayfs mounts work: workspaces cost the same at any repository size (AAS_WORKSPACE_STRATEGY=${config.workspaceStrategy})`
          : `${overlay.reason}: workspaces are full checkouts (worktree strategy)`,
      },
    ],
  };
}
